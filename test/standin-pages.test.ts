// Simple URL pages on the Front End: the meeting join launcher (internal vs external by site) and the
// Dial-In page, reached by host name (meet./dialin.) or by vdir path.
import t from 'tap'
import { request } from 'undici'
import { startStandIn, type RunningStandIn, type SiteKind } from '../src/lab/standin/index.js'

let fe: RunningStandIn

async function get (kind: SiteKind, host: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const port = fe.sites.find((s) => s.kind === kind)?.port
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.before(async () => {
  fe = await startStandIn({
    member: 'fe01',
    role: 'frontend',
    serverFqdn: 'fe01.contoso.net',
    address: '127.0.0.1',
    sites: [{ kind: 'internal', protocol: 'http', port: 0 }, { kind: 'external', protocol: 'http', port: 0 }],
    topology: {
      sipDomain: 'contoso.com',
      frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
      users: [],
    },
  })
})
t.teardown(() => fe.close())

t.test('meet.<domain>/<alias>/<id> is the join page for that conference', async (t) => {
  const external = await get('external', 'meet.contoso.com', '/user1/ABC123')
  t.equal(external.status, 200)
  t.match(external.headers['content-type'], /^text\/html/)
  t.equal(external.headers['x-lab-host'], 'meet.contoso.com', 'the Host header reached the server')
  t.match(external.text, '<code id="conference-uri">sip:user1@contoso.com;gruu;opaque=app:conf:focus:id:ABC123</code>')
  t.match(external.text, '<meta name="lab-access-location" content="External">')
  t.match(external.text, /outside the corporate network/)

  const internal = await get('internal', 'meet.contoso.com', '/user1/ABC123')
  t.match(internal.text, '<meta name="lab-access-location" content="Internal">', 'the internal site makes it an internal join')
  t.match(internal.text, /inside the corporate network/)

  const otherDomain = await get('external', 'meet.fabrikam.com', '/Alice/7Q3DSSYV')
  t.match(otherDomain.text, 'sip:Alice@fabrikam.com;gruu;opaque=app:conf:focus:id:7Q3DSSYV', 'domain from the simple URL, case of the alias kept')

  const byPath = await get('external', 'webext.contoso.com', '/Meet/user1/ABC123')
  t.match(byPath.text, 'sip:user1@contoso.com;gruu;opaque=app:conf:focus:id:ABC123', '/Meet vdir on the pool FQDN')
})

t.test('no meeting id: the conferencing troubleshooting page', async (t) => {
  for (const [host, path] of [['meet.contoso.com', '/'], ['webext.contoso.com', '/meet'], ['webext.contoso.com', '/meet/'], ['meet.contoso.com', '/user1']]) {
    const r = await get('external', host as string, path as string)
    t.equal(r.status, 200, `${host}${path}`)
    t.match(r.text, /<h1>Conferencing troubleshooting<\/h1>/, `${host}${path}`)
    t.notMatch(r.text, /conference-uri/)
  }
})

t.test('request values are escaped in the page', async (t) => {
  const r = await get('external', 'meet.contoso.com', '/%3Cscript%3Ex/%22onload%3D1')
  t.equal(r.status, 200)
  t.notMatch(r.text, /<script>/)
  t.match(r.text, '&lt;script&gt;x')
  t.match(r.text, '&quot;onload=1')
})

t.test('the Dial-In page, by host and by path', async (t) => {
  for (const [host, path] of [['dialin.contoso.com', '/'], ['dialin.contoso.com', '/default.aspx'], ['webext.contoso.com', '/dialin'], ['webext.contoso.com', '/DialIn/']]) {
    const r = await get('external', host as string, path as string)
    t.equal(r.status, 200, `${host}${path}`)
    t.match(r.text, /<title>[^<]*Dial-In[^<]*<\/title>/, `${host}${path}`)
  }
  const notDialin = await get('external', 'webext.contoso.com', '/')
  t.equal(notDialin.status, 404, 'the web services root itself is not a page')
})
