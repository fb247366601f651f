// A client project's own test, written with node:test (no tap, no TypeScript): the whole Lync lab
// starts inside the test process on ephemeral loopback ports, and the client code under test talks
// to the real public names through the lab's fetch, with a fault turned on and off on the way.
// Run it with:  node --test examples/
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
  // lyncdiscover is the Director: the client authenticates there first, and is then redirected to
  // the Front End pool.
  assert.equal(user.hostname, 'webdirext.contoso.com', 'the user resource is on the Director pool\'s external web services')

  // The user resource asks for a web ticket, and says where to get one.
  const challenge = await lab.fetch(user, { headers: { accept: 'application/json' } })
  assert.equal(challenge.status, 401)
  assert.match(challenge.headers.get('www-authenticate') ?? '', /MsRtcOAuth/)
  await challenge.arrayBuffer()
})

test('the client under test meets a Front End that answers 503, then recovers', async () => {
  const url = `${lab.urls['webext.contoso.com']}/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com`
  await lab.setFault('webext', { abort: 503 })
  const failing = await lab.fetch(url)
  assert.equal(failing.status, 503)
  assert.equal(failing.headers.get('x-lyncproxy-error'), 'fault_abort')
  await failing.arrayBuffer()
  await lab.setFault('webext', undefined)
  const healed = await lab.fetch(url)
  assert.equal(healed.status, 200)
  await healed.arrayBuffer()
})

// One of the misconfigured proxies admins actually deploy, as a preset: lyncdiscover on port 80
// redirected to HTTPS instead of forwarded. A mobile client's HTTP first hop must cope with it.
test('behind the redirect-lyncdiscover preset, the HTTP first hop gets a redirect, not the pool', async () => {
  const broken = await startLab({ broken: 'redirect-lyncdiscover' })
  try {
    const firstHop = await broken.fetch(`${broken.httpUrls['lyncdiscover.contoso.com']}/?sipuri=${broken.users[0].sipUri}`, { redirect: 'manual' })
    assert.ok(firstHop.status >= 300 && firstHop.status < 400, `a redirect (${firstHop.status})`)
    assert.match(firstHop.headers.get('location') ?? '', /^https:\/\/lyncdiscover\.contoso\.com(:\d+)?\//, 'to HTTPS, on whatever port the lab gave it')
    await firstHop.arrayBuffer()
  } finally {
    await broken.close()
  }
})

test('nothing unpublished leaves the lab', async () => {
  await assert.rejects(lab.fetch('https://intranet.contoso.com/'), /fetch failed/)
})
