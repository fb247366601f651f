// The Director stand-in: it answers autodiscover, web tickets and simple URLs itself and sends user
// services on to the Front End pool's external web services.
import t from 'tap'
import { request } from 'undici'
import { startStandIn, type LabTopology, type RunningStandIn, type StandInSpec } from '../src/lab/standin/index.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  director: { internalFqdn: 'dirpool.contoso.net', externalFqdn: 'webdirext.contoso.com' },
  users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }],
}

const spec: StandInSpec = {
  member: 'dir01',
  role: 'director',
  serverFqdn: 'dir01.contoso.net',
  address: '127.0.0.1',
  sites: [{ kind: 'internal', protocol: 'http', port: 0 }, { kind: 'external', protocol: 'http', port: 0 }],
  topology,
}

let dir: RunningStandIn

async function call (path: string, method = 'GET', host = 'webdirext.contoso.com', body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const port = dir.sites.find((s) => s.kind === 'external')?.port
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: method as 'GET',
    headers: { host, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body,
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.before(async () => { dir = await startStandIn(spec) })
t.teardown(() => dir.close())

t.test('user services are redirected to the Front End external FQDN, path and query kept', async (t) => {
  const cases: Array<[string, string]> = [
    ['GET', '/ucwa/oauth/v1/applications/123/events?ack=1&timeout=900'],
    ['GET', '/abs/handler/F-0ab1.lsabs'],
    ['GET', '/mcx/McxService.svc'],
    ['GET', '/GroupExpansion/service.svc'],
    ['GET', '/Scheduler'],
  ]
  for (const [method, path] of cases) {
    const r = await call(path, method)
    t.equal(r.status, 302, path)
    t.equal(r.headers.location, `https://webext.contoso.com${path}`, `${path}: same path, FE pool`)
    t.equal(r.headers['x-lab-member'], 'dir01')
  }
  const post = await call('/ucwa/oauth/v1/applications', 'POST', 'webdirext.contoso.com', '{"UserAgent":"x","EndpointId":"y"}')
  t.equal(post.status, 307, 'a POST keeps its method and body')
  t.equal(post.headers.location, 'https://webext.contoso.com/ucwa/oauth/v1/applications')
})

t.test('the Director answers its own services', async (t) => {
  const ticket = await call('/WebTicket/WebTicketService.svc')
  t.equal(ticket.status, 401, 'web ticket service: Windows auth, not a redirect')
  t.same(ticket.headers['www-authenticate'], ['Negotiate', 'NTLM'])

  const token = await request(`http://127.0.0.1:${dir.sites[1]?.port}/WebTicket/oauthtoken`, {
    method: 'POST',
    headers: { host: 'webdirext.contoso.com', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=user1@contoso.com&password=Pass@word1',
  })
  t.equal(token.statusCode, 200, 'OAuth token service')
  await token.body.dump()

  const discover = await call('/?sipuri=user1@contoso.com', 'GET', 'lyncdiscover.contoso.com')
  t.equal(discover.status, 200)
  t.same(JSON.parse(discover.text), {
    AccessLocation: 'External',
    Root: { Links: [{ href: 'https://webdirext.contoso.com/Autodiscover/AutodiscoverService.svc/root?sipuri=user1@contoso.com', token: 'Redirect' }] },
  }, 'the HTTP first hop sends the client to the Director\'s own root over HTTPS')

  const meet = await call('/user1/ABC123', 'GET', 'meet.contoso.com')
  t.equal(meet.status, 200)
  t.match(meet.text, 'sip:user1@contoso.com;gruu;opaque=app:conf:focus:id:ABC123')
  const dialin = await call('/', 'GET', 'dialin.contoso.com')
  t.match(dialin.text, /<title>[^<]*Dial-In[^<]*<\/title>/)
})

t.test('what a Director does not have is a 404', async (t) => {
  t.equal((await call('/lab/events', 'POST', 'webdirext.contoso.com', '{}')).status, 404, 'no lab event injection')
  t.equal((await call('/hosting/discovery')).status, 404)
  t.equal((await call('/nothing/here')).status, 404)
})

t.test('a Director member needs a Director pool in the topology', async (t) => {
  const { director: _none, ...withoutDirector } = topology
  await t.rejects(startStandIn({ ...spec, topology: withoutDirector }), /topology\.director/)
})
