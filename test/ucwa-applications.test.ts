// The application registry's bounds (applications.ts): the same endpoint gets the same application,
// and past the lab's bounds the oldest application goes (the caller retires it), per user and in
// all, so that signing in again and again without a DELETE cannot fill the process. And a meeting's
// kept messages (messaging.ts): numbered on, the oldest forgotten past the bound.
import t from 'tap'
import { ApplicationRegistry, MAX_APPLICATIONS, MAX_APPLICATIONS_PER_OWNER } from '../src/lab/standin/ucwa/applications.js'
import { appendMessage, KEPT_MESSAGES } from '../src/lab/standin/ucwa/messaging.js'

const input = (endpointId: string): { userAgent: string, endpointId: string, culture: string } => ({ userAgent: 'test', endpointId, culture: 'en-US' })

t.test('per user: the same endpoint is the same application; the oldest goes past the bound', async (t) => {
  const registry = new ApplicationRegistry()
  const user = { sipUri: 'user1@contoso.com', password: 'x' }
  const first = registry.create(user, input('e0'))
  t.same(first.evicted, [])
  t.equal(registry.create(user, input('e0')).app, first.app, 'idempotent per endpoint')
  for (let i = 1; i < MAX_APPLICATIONS_PER_OWNER; i++) t.same(registry.create(user, input(`e${i}`)).evicted, [])
  const over = registry.create(user, input('one-more'))
  t.same(over.evicted.map((a) => a.endpointId), ['e0'], 'one past the bound: the oldest goes')
  t.notOk(registry.has(first.app.id))
  t.equal(registry.ofUser(user.sipUri).length, MAX_APPLICATIONS_PER_OWNER)
  t.same(registry.create({ sipUri: 'user2@contoso.com', password: 'x' }, input('e0')).evicted, [], 'another user is not touched')
})

t.test('in all: guests with a ticket each cannot grow the registry past its bound', async (t) => {
  const registry = new ApplicationRegistry()
  let evicted = 0
  for (let i = 0; i < MAX_APPLICATIONS + 10; i++) evicted += registry.create({ sipUri: `${i}@anonymous.invalid`, password: '', conference: 'sip:a@b;gruu;opaque=app:conf:focus:id:X' }, input('anonymous')).evicted.length
  t.equal(evicted, 10)
  t.equal(registry.ofUser('0@anonymous.invalid').length, 0, 'the oldest went first')
})

t.test('kept messages: numbered on, the oldest forgotten', async (t) => {
  const list: Array<{ number: number }> = []
  for (let i = 0; i < KEPT_MESSAGES + 5; i++) appendMessage(list, (number) => ({ number }))
  t.equal(list.length, KEPT_MESSAGES)
  t.equal(list[0]!.number, 6)
  t.equal(list.at(-1)!.number, KEPT_MESSAGES + 5, 'numbers go on past the bound')
})
