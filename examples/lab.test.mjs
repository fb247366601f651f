// A client project's own test, written with node:test (no tap, no TypeScript): the whole Lync lab
// starts inside the test process on ephemeral loopback ports, and the client code under test talks
// to the real public names through the lab's fetch. Run it with:  node --test examples/
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startLab } from 'lyncproxy'

let lab

before(async () => { lab = await startLab() })
after(async () => { await lab?.close() })

test('a Lync 2013 mobile client discovers its pool through the reverse proxy', async () => {
  // What a mobile client does first: the autodiscover root on the lyncdiscover name (MS-OCDISCWS).
  const root = await lab.fetch(`${lab.urls['lyncdiscover.contoso.com']}/?sipuri=${lab.users[0].sipUri}`, { headers: { accept: 'application/json' } })
  assert.equal(root.status, 200)
  const body = await root.json()
  const user = new URL(body._links.user.href)
  assert.equal(user.hostname, 'webext.contoso.com', 'the user resource is on the Front End pool\'s external web services')

  // The user resource asks for a web ticket, and says where to get one.
  const challenge = await lab.fetch(user, { headers: { accept: 'application/json' } })
  assert.equal(challenge.status, 401)
  assert.match(challenge.headers.get('www-authenticate') ?? '', /MsRtcOAuth/)
  await challenge.arrayBuffer()
})

test('nothing unpublished leaves the lab', async () => {
  await assert.rejects(lab.fetch('https://intranet.contoso.com/'), /fetch failed/)
})
