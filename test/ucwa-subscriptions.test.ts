// The presence-subscription registry: who watches whom, extension and expiry. (The HTTP flow, with
// its events, through the proxy, is in ucwa-client.test.ts.)
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { SubscriptionRegistry } from '../src/lab/standin/ucwa/subscriptions.js'

t.test('watchers, contacts, extension, expiry, an application dropped', async (t) => {
  const registry = new SubscriptionRegistry()
  t.teardown(() => registry.forget())
  const a = registry.create('app-a', ['user2@contoso.com', 'user3@contoso.com', 'user2@contoso.com'], 10)
  registry.create('app-b', ['user2@contoso.com'], 10)
  t.same(a.contacts, ['user2@contoso.com', 'user3@contoso.com'], 'a contact named twice counts once')
  t.same(registry.watchersOf('user2@contoso.com'), ['app-a', 'app-b'])
  t.same(registry.contactsOf('app-a'), ['user2@contoso.com', 'user3@contoso.com'])
  t.equal(registry.find('app-b', a.id), undefined, "another application's subscription is not found")

  // Minutes are the unit; a fraction of one keeps the test short.
  const brief = registry.create('app-c', ['user2@contoso.com'], 0.002)
  const extended = registry.create('app-d', ['user2@contoso.com'], 0.002)
  registry.extend(extended, 10)
  await sleep(400)
  t.equal(registry.find('app-c', brief.id), undefined, 'ended when its time was up')
  t.ok(registry.find('app-d', extended.id), 'the extended one lasts')
  t.same(registry.watchersOf('user2@contoso.com'), ['app-a', 'app-b', 'app-d'])

  registry.dropApplication('app-a')
  t.same(registry.watchersOf('user3@contoso.com'), [], "a deleted application's subscriptions go with it")
})
