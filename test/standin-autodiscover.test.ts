// Autodiscover on a Front End stand-in, over real sockets on all four IIS sites: the three
// representations, AccessLocation by site, the HTTP first hop, the lyncdiscover host mapping and the
// OAuth challenge on the user resource.
import t from 'tap'
import { checkServerIdentity } from 'node:tls'
import { Agent, request } from 'undici'
import { throwawayCert } from './helpers/throwaway-cert.js'
import { startStandIn, type LabTopology, type RunningStandIn, type SiteKind, type SiteProtocol } from '../src/lab/standin/index.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  director: { internalFqdn: 'dirpool.contoso.net', externalFqdn: 'webdirext.contoso.com' },
  users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1', displayName: 'Lab User One' }],
  crossDomainOrigins: ['https://app.fabrikam.com'],
}

const XML = 'application/vnd.microsoft.rtc.autodiscover+xml;v=1'
const SVC = '/Autodiscover/AutodiscoverService.svc'

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string }

let fe: RunningStandIn
let tlsAgent: Agent

function portOf (kind: SiteKind, protocol: SiteProtocol): number {
  const site = fe.sites.find((s) => s.kind === kind && s.protocol === protocol)
  if (site === undefined) throw new Error(`no ${kind} ${protocol} site`)
  return site.port
}

async function get (kind: SiteKind, protocol: SiteProtocol, pathAndQuery: string, headers: Record<string, string>): Promise<Reply> {
  const res = await request(`${protocol}://127.0.0.1:${portOf(kind, protocol)}${pathAndQuery}`, {
    headers,
    dispatcher: protocol === 'https' ? tlsAgent : undefined,
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

function xmlLinks (xml: string): Array<{ token: string; href: string }> {
  return [...xml.matchAll(/<Link token="([^"]+)" href="([^"]+)"\/>/g)].map((m) => ({ token: m[1] as string, href: m[2] as string }))
}

t.before(async () => {
  const tls = await throwawayCert('fe01.contoso.net')
  // undici takes SNI from the Host header (lyncdiscover..., webext...), which the throwaway cert does
  // not cover; the identity is checked against the server's own name instead, as a proxy would.
  tlsAgent = new Agent({
    connect: { ca: tls.cert, servername: 'fe01.contoso.net', checkServerIdentity: (_host, cert) => checkServerIdentity('fe01.contoso.net', cert) },
  })
  fe = await startStandIn({
    member: 'fe01',
    role: 'frontend',
    serverFqdn: 'fe01.contoso.net',
    address: '127.0.0.1',
    sites: [
      { kind: 'internal', protocol: 'http', port: 0 },
      { kind: 'internal', protocol: 'https', port: 0 },
      { kind: 'external', protocol: 'http', port: 0 },
      { kind: 'external', protocol: 'https', port: 0 },
    ],
    tls,
    topology,
  })
})
t.teardown(async () => {
  await fe.close()
  await tlsAgent.close()
})

t.test('IIS identity headers on every response, 404 included', async (t) => {
  for (const p of [`${SVC}/root`, '/no/such/vdir']) {
    const r = await get('external', 'https', p, { host: 'WebExt.Contoso.com:443' })
    t.equal(r.headers['x-lab-member'], 'fe01', p)
    t.equal(r.headers['x-lab-port'], String(portOf('external', 'https')), `${p}: port the request arrived on`)
    t.equal(r.headers['x-lab-host'], 'WebExt.Contoso.com:443', `${p}: Host verbatim`)
    t.equal(r.headers['x-ms-server-fqdn'], 'fe01.contoso.net')
    t.equal(r.headers.server, 'Microsoft-IIS/8.5')
    t.equal(r.headers['x-powered-by'], 'ASP.NET')
  }
  const missing = await get('external', 'https', '/no/such/vdir', { host: 'webext.contoso.com' })
  t.equal(missing.status, 404)
  t.match(missing.headers['content-type'], /^text\/html/)
  t.match(missing.text, /404 - File or directory not found/)
})

t.test('MS-OCDISCWS XML root (Accept: ...autodiscover+xml;v=1)', async (t) => {
  const r = await get('external', 'https', `${SVC}/root?sipuri=user1@contoso.com`, { host: 'webext.contoso.com', accept: XML })
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/vnd\.microsoft\.rtc\.autodiscover\+xml/)
  t.match(r.text, /^<\?xml version="1\.0" encoding="utf-8"\?><AutodiscoverResponse [^>]*AccessLocation="External"><Root>/)
  t.match(r.text, /<\/Root><\/AutodiscoverResponse>$/)
  t.same(xmlLinks(r.text), [
    { token: 'Domain', href: `https://webext.contoso.com${SVC}/root/domain` },
    { token: 'User', href: `https://webext.contoso.com${SVC}/root/user` },
    { token: 'OAuth', href: `https://webext.contoso.com${SVC}/root/oauth/user` },
  ])
})

t.test('UCWA _links JSON root (Accept: application/json)', async (t) => {
  const r = await get('external', 'https', `${SVC}/root`, {
    host: 'webext.contoso.com', accept: 'application/json', 'x-requested-with': 'XMLHttpRequest',
  })
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/json/)
  t.equal(r.headers['cache-control'], 'no-cache')
  t.equal(r.headers.expires, '-1')
  t.same(JSON.parse(r.text), {
    _links: {
      self: { href: `https://webext.contoso.com${SVC}/root?originalDomain=contoso.com` },
      user: { href: `https://webext.contoso.com${SVC}/root/oauth/user?originalDomain=contoso.com` },
      xframe: { href: 'https://webext.contoso.com/Autodiscover/XFrame/XFrame.html' },
    },
  })
})

t.test('MS-OCDISCWS JSON root for a browser Accept, with WCF-escaped slashes', async (t) => {
  const r = await get('external', 'https', `${SVC}/root`, { host: 'webext.contoso.com', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })
  t.equal(r.status, 200)
  t.equal(r.headers['content-type'], 'application/vnd.microsoft.rtc.autodiscover+json; charset=utf-8')
  t.ok(r.text.startsWith('{"AccessLocation":"External","Root":{"Links":[{"href":"https:\\/\\/webext.contoso.com\\/Autodiscover\\/AutodiscoverService.svc\\/root\\/domain","token":"Domain"},'),
    'same shape and escaping as the sample in Microsoft\'s verification procedure')
  t.notMatch(r.text, /[^\\]\//, 'every slash is escaped')
  const doc = JSON.parse(r.text) as { AccessLocation: string; Root: { Links: Array<{ href: string; token: string }> } }
  t.same(doc.Root.Links.map((l) => l.token), ['Domain', 'User', 'OAuth'])
  t.equal(doc.Root.Links[2]?.href, `https://webext.contoso.com${SVC}/root/oauth/user`)
})

t.test('no Accept header (the GeoDNS health probe) gets 200, paths are case-insensitive', async (t) => {
  const r = await get('external', 'https', '/autodiscover/autodiscoverservice.svc/root', { host: 'webext.contoso.com' })
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/vnd\.microsoft\.rtc\.autodiscover\+json/)
  t.match(JSON.parse(r.text), { AccessLocation: 'External' })
})

t.test('AccessLocation and link host follow the site the request arrived on', async (t) => {
  // Same Host header on both: only the port (internal 443-style vs external 4443-style site) differs,
  // which is what a proxy bridging to the wrong port produces.
  const internal = await get('internal', 'https', `${SVC}/root`, { host: 'lyncdiscover.contoso.com', accept: XML })
  t.match(internal.text, /AccessLocation="Internal"/)
  t.equal(xmlLinks(internal.text)[0]?.href, `https://pool01.contoso.net${SVC}/root/domain`)
  const external = await get('external', 'https', `${SVC}/root`, { host: 'lyncdiscover.contoso.com', accept: XML })
  t.match(external.text, /AccessLocation="External"/)
  t.equal(xmlLinks(external.text)[0]?.href, `https://webext.contoso.com${SVC}/root/domain`)
  const json = await get('internal', 'https', `${SVC}/root`, { host: 'pool01.contoso.net' })
  t.match(JSON.parse(json.text), { AccessLocation: 'Internal' })
})

t.test('lyncdiscover and lyncdiscoverinternal hosts answer autodiscover on any path', async (t) => {
  for (const p of ['/', '/?sipuri=user1@contoso.com', '/dialin/', '/some/Random/page.aspx?x=1']) {
    const r = await get('external', 'https', p, { host: 'lyncdiscover.contoso.com', accept: 'application/json' })
    t.equal(r.status, 200, p)
    t.equal((JSON.parse(r.text) as { _links: { user: { href: string } } })._links.user.href,
      `https://webext.contoso.com${SVC}/root/oauth/user?originalDomain=contoso.com`, p)
  }
  const internal = await get('internal', 'https', '/anything', { host: 'LyncDiscoverInternal.contoso.net' })
  t.equal(internal.status, 200)
  t.match(JSON.parse(internal.text), { AccessLocation: 'Internal', Root: { Links: [{ token: 'Domain' }, { token: 'User' }, { token: 'OAuth' }] } })
  const other = await get('external', 'https', '/some/Random/page.aspx', { host: 'webext.contoso.com' })
  t.equal(other.status, 404, 'the mapping is by host name, not a catch-all')
})

// The cross-domain frame (xframe.ts) and the pool's allowed list (cross-domain.ts): this topology
// lists one origin; an X-Ms-Origin of any other is refused before the service sees it.
t.test('the XFrame page, on its path and as lyncdiscover/xframe; X-Ms-Origin checked against the allowed list', async (t) => {
  for (const [host, p] of [['webext.contoso.com', '/Autodiscover/XFrame/XFrame.html'], ['lyncdiscover.contoso.com', '/xframe'], ['lyncdiscover.contoso.com', '/XFrame']]) {
    const page = await get('external', 'https', p!, { host: host! })
    t.equal(page.status, 200, `${host}${p}`)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.text, /addEventListener\('message'/, 'the page bridges postMessage to XHR')
  }
  const root = (origin?: string): Promise<Reply> => get('external', 'https', '/', { host: 'lyncdiscover.contoso.com', accept: 'application/json', ...(origin === undefined ? {} : { 'x-ms-origin': origin }) })
  t.equal((await root()).status, 200, 'no X-Ms-Origin: not a cross-domain request')
  t.equal((await root('https://APP.fabrikam.com:443')).status, 200, 'a listed origin, in any case and with its default port')
  // The last: what XHR sends when a page adds its own X-Ms-Origin beside the frame's.
  for (const refused of ['https://evil.example', 'http://app.fabrikam.com', 'not an origin', 'https://app.fabrikam.com/path', 'https://app.fabrikam.com, https://evil.example']) {
    const r = await root(refused)
    t.equal(r.status, 403, refused)
    t.equal(r.headers['x-ms-diagnostics'], '28070;source="fe01.contoso.net";reason="Service does not allow a cross domain request from this origin."')
  }
})

t.test('over plain HTTP the root answers 200 with a single Redirect link to HTTPS, never a 3xx', async (t) => {
  const target = `https://webext.contoso.com${SVC}/root?sipuri=user1@contoso.com`
  const ocdisc = await get('external', 'http', '/?sipuri=user1@contoso.com', { host: 'lyncdiscover.contoso.com' })
  t.equal(ocdisc.status, 200)
  t.equal(ocdisc.headers.location, undefined)
  t.same(JSON.parse(ocdisc.text), { AccessLocation: 'External', Root: { Links: [{ href: target, token: 'Redirect' }] } })
  t.match(ocdisc.text, /"https:\\\/\\\/webext/, 'escaped slashes here too')

  const ucwa = await get('external', 'http', '/?sipuri=user1@contoso.com', { host: 'lyncdiscover.contoso.com', accept: 'application/json' })
  t.same(JSON.parse(ucwa.text), { _links: { redirect: { href: target } } })

  const xml = await get('external', 'http', '/?sipuri=user1@contoso.com', { host: 'lyncdiscover.contoso.com', accept: XML })
  t.match(xml.text, /AccessLocation="External"><Root><Link token="Redirect" href="([^"]+)"\/><\/Root>/)
  t.same(xmlLinks(xml.text), [{ token: 'Redirect', href: target }])

  const internal = await get('internal', 'http', `${SVC}/root`, { host: 'lyncdiscoverinternal.contoso.net' })
  t.same(JSON.parse(internal.text), { AccessLocation: 'Internal', Root: { Links: [{ href: `https://pool01.contoso.net${SVC}/root`, token: 'Redirect' }] } })

  const user = await get('external', 'http', `${SVC}/root/oauth/user`, { host: 'webext.contoso.com', accept: 'application/json' })
  t.equal(user.status, 200, 'no credentials are asked for over HTTP')
  t.same(JSON.parse(user.text), { _links: { redirect: { href: `https://webext.contoso.com${SVC}/root` } } })
})

t.test('user resources without a web ticket: 401 with Bearer and MsRtcOAuth on separate lines', async (t) => {
  for (const resource of ['/root/oauth/user?originalDomain=contoso.com', '/root/user']) {
    const r = await get('external', 'https', `${SVC}${resource}`, { host: 'webext.contoso.com', accept: 'application/json' })
    t.equal(r.status, 401, resource)
    t.match(r.headers['content-type'], /^text\/html/)
    t.match(r.text, /401 - Unauthorized: Access is denied due to invalid credentials/)
    t.same(r.headers['www-authenticate'], [
      'Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso.com", client_id="00000004-0000-0ff1-ce00-000000000000"',
      'MsRtcOAuth href="https://webext.contoso.com/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"',
    ], `${resource}: two WWW-Authenticate header lines`)
    t.equal(r.headers['x-ms-webticketurl'], 'https://webext.contoso.com/WebTicket/WebTicketService.svc')
  }
  // Internal clients are sent to the token service on the pool's internal name.
  const internal = await get('internal', 'https', `${SVC}/root/oauth/user`, { host: 'pool01.contoso.net' })
  t.equal(internal.status, 401)
  t.match(internal.headers['www-authenticate'], [/^Bearer /, /^MsRtcOAuth href="https:\/\/pool01\.contoso\.net\/WebTicket\/oauthtoken",/])
})

t.test('domain resource and XFrame page', async (t) => {
  const domain = await get('external', 'https', `${SVC}/root/domain`, { host: 'webext.contoso.com', accept: XML })
  t.equal(domain.status, 200)
  t.match(domain.text, /AccessLocation="External"><Domain>/)
  t.ok(xmlLinks(domain.text).some((l) => l.token === 'External/Ucwa' && l.href === 'https://webext.contoso.com/ucwa/oauth/v1/applications'))
  const xframe = await get('external', 'https', '/Autodiscover/XFrame/XFrame.html', { host: 'webext.contoso.com' })
  t.equal(xframe.status, 200)
  t.match(xframe.headers['content-type'], /^text\/html/)
})
