// The real SIPE client (pidgin-sipe 1.25, the libpurple plugin for Lync) signs in through the full
// lab, headless: bitlbee-libpurple drives it, all inside a private network namespace with the lab
// on its real ports (test/helpers/sipe.ts says how). Each step of SIPE's sign-in is asserted on
// the HTTP exchanges its debug log shows, and on the lab's own exchange log.
//
// SIPE goes the whole way a Lync 2013 pool with a Director takes it: autodiscover over the HTTP
// first hop and HTTPS, lands on the Director (whose User link answers 401 with X-MS-WebTicketURL),
// reads the web ticket service's metadata (mex), gets a web ticket over WS-Trust with NTLM, presents
// it as X-MS-WebTicket, is redirected to the Front End pool, does the same there, reads the User
// document's SIP access location, and opens TLS to it, where the lab's certificate verifies.
//
// The lab runs no Edge: here the external SIP access location is the Director pool's SIP port
// (sip.contoso.com:5061 on the HLB VIP, passed through to the Director servers), whose certificate
// names sip.contoso.com. Nothing behind it speaks SIP, so the sign-in ends there; the steps up to
// TLS are what is asserted.
//
// Needs (Debian 12): pidgin-sipe bitlbee-libpurple gcc libc6-dev iproute2 util-linux, and user
// namespaces (unshare -rmnpf); skipped with the reason otherwise. `npm run build` first (the lab
// runs from dist). Time: about 7–10 s per run on a quiet machine (a fresh lab issuing its
// certificates, then SIPE), two runs.
import t, { type Test } from 'tap'
import { parseSipeLog, runSipe, sipeSkipReason, type HttpExchange, type SipeRun } from './helpers/sipe.js'

const XML = 'application/vnd.microsoft.rtc.autodiscover+xml'
const SVC = '/Autodiscover/AutodiscoverService.svc'
const WEBTICKET = 'https://webext.contoso.com/WebTicket/WebTicketService.svc'
const DIR_WEBTICKET = 'https://webdirext.contoso.com/WebTicket/WebTicketService.svc'
const QUERY = '?sipuri=user1@contoso.com'
// The account both runs sign in with, as a domain user would set SIPE up: NTLM with DOMAIN\user.
const USER1 = { account: 'user1@contoso.com', password: 'Pass@word1', login: 'CONTOSO\\user1', authentication: 'ntlm', transport: 'auto' } as const

function describe (h: HttpExchange): string {
  return `${h.method} ${h.url} -> ${h.status === 0 ? 'no response' : `${h.status} ${h.responseHeaders['content-type'] ?? ''}`}`
}

t.test('the log parser pairs requests and responses per connection', async (t) => {
  const log = [
    'DEBUG sipe: transport_connect - hostname: webext.contoso.com port: 443',
    'DEBUG sipe: using SSL',
    'DEBUG proxy: Connected to webext.contoso.com:443.',
    "DEBUG sipe: sipe_http_transport_connected: 'webext.contoso.com:443'(0xa1)",
    'DEBUG sipe: ',
    'MESSAGE START >>>>>>>>>> HTTP(0xa1) - 2026-01-01T00:00:00.000001Z',
    'GET /x HTTP/1.1',
    'Host: webext.contoso.com',
    '',
    '',
    'MESSAGE END >>>>>>>>>> HTTP(0xa1) - 2026-01-01T00:00:00.000001Z',
    'DEBUG sipe: transport_connect - hostname: nowhere.contoso.com port: 80',
    'DEBUG sipe: using TCP',
    'DEBUG sipe: ',
    'MESSAGE START <<<<<<<<<< HTTP(0xa1) - 2026-01-01T00:00:00.000002Z',
    'HTTP/1.1 401 Unauthorized',
    'WWW-Authenticate: Negotiate',
    'WWW-Authenticate: NTLM',
    '',
    'denied',
    '',
    'MESSAGE END <<<<<<<<<< HTTP(0xa1) - 2026-01-01T00:00:00.000002Z',
    'DEBUG certificate: Successfully verified certificate for webext.contoso.com',
    "DEBUG sipe: error parsing xml string: Start tag expected, '<' not found",
  ].join('\n')
  const parsed = parseSipeLog(log)
  t.equal(parsed.http.length, 1)
  t.match(parsed.http[0], { method: 'GET', url: 'https://webext.contoso.com/x', tls: true, status: 401, responseBody: 'denied' })
  t.equal(parsed.http[0]?.responseHeaders['www-authenticate'], 'Negotiate, NTLM', 'repeated headers are joined')
  t.same(parsed.connects, [
    { host: 'webext.contoso.com', port: 443, tls: true, connected: true },
    { host: 'nowhere.contoso.com', port: 80, tls: false, connected: false },
  ])
  t.same(parsed.certificates, [{ host: 'webext.contoso.com', verified: true }])
  t.match(parsed.sipeErrors, [/error parsing xml string/])
})

const skip = sipeSkipReason()

t.test('SIPE signs in through the lab', { skip: skip ?? false }, async (t) => {
  const run: SipeRun = await runSipe({
    ...USER1,
    // The Director VIP, whose 5061 stands in for the Edge's access service (see the top).
    sipAddress: '127.0.1.2',
    labConfig: (lab) => {
      const settings = lab.lab as Record<string, unknown>
      settings.sipAccess = { ...(settings.sipAccess as object), external: { fqdn: 'sip.contoso.com', port: 5061 } }
    },
    // TLS to the access location is the last step anything answers.
    stopWhen: /Successfully verified certificate for sip\.contoso\.com/,
    // Generous: on a busy machine most of it goes to the lab issuing its certificates.
    timeoutMs: 120_000,
  })
  t.comment(`SIPE ran ${run.durationMs} ms; outcome: ${run.outcome ?? 'none (timed out)'}`)
  for (const h of run.http) t.comment(describe(h))
  t.comment(`TLS connections: ${run.tlsConnects.join(', ')}`)
  t.comment(`certificates: ${run.certificates.map((c) => `${c.host} ${c.verified ? 'verified' : 'NOT verified'}`).join(', ')}`)
  t.comment(`SIPE errors: ${run.sipeErrors.join(' | ')}`)
  const find = (method: string, url: string, status?: number): HttpExchange[] =>
    run.http.filter((h) => h.method === method && h.url === url && (status === undefined || h.status === status))

  t.equal(run.outcome, 'stopped', 'SIPE reached TLS to the SIP access location within the time bound')
  t.ok(run.log.includes('sipe_core_allocate: SIPE version 1.25'), 'SIPE 1.25 is the client')

  t.test('lab CA trusted: the published names\' certificates verify', async (t) => {
    for (const host of ['lyncdiscover.contoso.com', 'webext.contoso.com']) {
      t.ok(run.certificates.some((c) => c.host === host && c.verified), `${host} verified`)
      t.notOk(run.certificates.some((c) => c.host === host && !c.verified), `${host} never rejected`)
    }
  })

  t.test('LyncDiscoverInternal first: not published on the external side', async (t) => {
    const [http] = find('GET', `http://lyncdiscoverinternal.contoso.com/${QUERY}`)
    t.equal(http?.status, 404, 'over HTTP: 404')
    t.equal(http?.responseHeaders['x-lyncproxy-error'], 'not_published', 'from the proxy: no rule publishes the name')
    t.ok(run.certificatePrompts.includes('lyncdiscoverinternal.contoso.com'), 'over HTTPS: the certificate does not name it (asked, rejected)')
    t.notOk(run.certificates.some((c) => c.host === 'lyncdiscoverinternal.contoso.com' && c.verified), 'never accepted')
  })

  t.test('autodiscover: lyncdiscover over the HTTP first hop and over HTTPS, answered by the Director', async (t) => {
    // SIPE asks both at once and goes on with whatever each answers: over HTTP a Redirect to the
    // Director's HTTPS root, over HTTPS the Director's root, whose User link is the Director's own.
    const links: Record<string, RegExp> = {
      [`http://lyncdiscover.contoso.com/${QUERY}`]: /<Link token="Redirect" href="https:\/\/webdirext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root\?sipuri=user1@contoso\.com"/,
      [`https://lyncdiscover.contoso.com/${QUERY}`]: /<Link token="User" href="https:\/\/webdirext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root\/user"/,
    }
    for (const [url, link] of Object.entries(links)) {
      const [h] = find('GET', url, 200)
      t.ok(h, `GET ${url} answered 200`)
      t.match(h?.requestHeaders.accept, XML, 'asked for autodiscover XML')
      t.match(h?.responseHeaders['content-type'], XML, 'answered autodiscover XML')
      t.match(h?.responseBody, link, 'with a link SIPE follows')
    }
    const http = run.labExchanges.find((e) => e.listener === 'external-http' && e.host === 'lyncdiscover.contoso.com')
    t.match(http, { rule: 'lyncdiscover-http', pool: 'dir', status: 200 }, 'the lab forwarded the HTTP first hop to the Director pool')
  })

  // One web ticket round at one pool: the User link's 401, the metadata, IssueToken over NTLM, and
  // the User resource again with the ticket.
  function ticketRound (t: Test, host: string, service: string, pool: string): HttpExchange | undefined {
    const user = find('GET', `https://${host}${SVC}/root/user`)
    const challenged = user.find((h) => h.requestHeaders['x-ms-webticket'] === undefined)
    t.equal(challenged?.status, 401, `${host}: the User link answers 401 without a ticket`)
    t.equal(challenged?.responseHeaders['x-ms-webticketurl'], service, 'naming this pool\'s web ticket service')
    const mex = find('GET', `${service}/mex`, 200)
    t.ok(mex.length > 0, 'the metadata answered 200 (anonymous)')
    t.match(mex[0]?.responseHeaders['content-type'], /^text\/xml/)
    t.match(mex[0]?.responseBody, /<wsdl:port name="WebTicketServiceWinNegotiate"/, 'with the port SIPE looks for')
    const posts = run.http.filter((h) => h.method === 'POST' && h.url === service)
    t.ok(posts.some((h) => /^NTLM TlRMTVNTUAAB/.test(h.requestHeaders.authorization ?? '')), 'IssueToken: NTLM type 1 sent')
    const issued = posts.find((h) => h.status === 200)
    t.ok(issued && /^NTLM TlRMTVNTUAAD/.test(issued.requestHeaders.authorization ?? ''), 'IssueToken answered 200 to the type 3 (the password verified)')
    t.equal(issued?.requestHeaders.soapaction, '"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"')
    t.match(issued?.responseBody, /<wst:RequestedSecurityToken><saml:Assertion xmlns:saml=/, 'an RSTR with a SAML assertion')
    t.match(issued?.responseBody, /<wst:Lifetime><wsu:Created>/, 'and the Lifetime SIPE requires')
    t.ok(run.labExchanges.some((e) => e.host === host && e.path === '/WebTicket/WebTicketService.svc' && e.status === 200 && e.pool === pool),
      `the lab forwarded IssueToken to the ${pool} pool and logged the 200`)
    const withTicket = user.find((h) => /^opaque=[A-Za-z0-9+/]+=*$/.test(h.requestHeaders['x-ms-webticket'] ?? ''))
    t.equal(withTicket?.status, 200, 'the User resource accepts the ticket as X-MS-WebTicket')
    return withTicket
  }

  t.test('at the Director: a web ticket, then a Redirect to the Front End pool', async (t) => {
    const user = ticketRound(t, 'webdirext.contoso.com', DIR_WEBTICKET, 'dir')
    t.match(user?.responseBody, /<User><Link token="Redirect" href="https:\/\/webext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root"\/><\/User>/, 'the Director homes nobody: Redirect to the pool')
    const [root] = find('GET', `https://webext.contoso.com${SVC}/root`, 200)
    t.match(root?.responseBody, /<Link token="User" href="https:\/\/webext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root\/user"/, 'SIPE followed it to the Front End pool\'s root')
  })

  const userDoc = run.http.find((h) => h.url === `https://webext.contoso.com${SVC}/root/user` && h.requestHeaders['x-ms-webticket'] !== undefined && h.status === 200)
  const access = /<SipClientExternalAccess\s+fqdn="([^"]+)"\s+port="(\d+)"/.exec(userDoc?.responseBody ?? '')

  t.test('at the Front End pool: another web ticket, then the User document with the SIP access location', async (t) => {
    ticketRound(t, 'webext.contoso.com', WEBTICKET, 'fe')
    t.match(userDoc?.responseHeaders['content-type'], XML)
    t.same(access?.slice(1), ['sip.contoso.com', '5061'], 'the User document names SipClientExternalAccess')
  })

  t.test('TLS to the SIP access location', async (t) => {
    t.ok(run.tlsConnects.includes('sip.contoso.com:5061'), `SIPE connects with TLS to sip.contoso.com:5061 (${run.tlsConnects.join(', ')})`)
    t.ok(run.certificates.some((c) => c.host === 'sip.contoso.com' && c.verified), 'its certificate verifies against the lab CA')
    t.notOk(run.certificatePrompts.includes('sip.contoso.com'), 'no certificate prompt for it')
  })
})

// From inside: SIPE tries LyncDiscoverInternal first, which internal DNS points at the Director
// pool's HLB VIP. The VIP's certificate must name lyncdiscoverinternal.contoso.com, the Director's
// internal site answers AccessLocation Internal, and SipClientInternalAccess is where SIPE goes.
// The lab runs no Front End registrar, so the internal access location is the Director pool's
// SIP port on the VIP (dirpool.contoso.net:5061), whose certificate names the pool.
t.test('SIPE signs in from the internal network', { skip: skip ?? false }, async (t) => {
  const run: SipeRun = await runSipe({
    ...USER1,
    // Internal DNS: lyncdiscoverinternal is the Director VIP, and the external name does not resolve.
    hosts: { 'lyncdiscoverinternal.contoso.com': '127.0.1.2', 'lyncdiscover.contoso.com': '' },
    labConfig: (lab) => {
      const settings = lab.lab as Record<string, unknown>
      settings.sipAccess = { ...(settings.sipAccess as object), internal: { fqdn: 'dirpool.contoso.net', port: 5061 } }
    },
    stopWhen: /hostname: dirpool\.contoso\.net port: 5061[\s\S]*Successfully verified certificate for dirpool\.contoso\.net/,
    timeoutMs: 120_000,
  })
  t.comment(`SIPE ran ${run.durationMs} ms; outcome: ${run.outcome ?? 'none (timed out)'}`)
  for (const h of run.http) t.comment(describe(h))
  t.equal(run.outcome, 'stopped', 'SIPE reached TLS to the internal SIP access location within the time bound')
  const find = (method: string, url: string, status?: number): HttpExchange[] =>
    run.http.filter((h) => h.method === method && h.url === url && (status === undefined || h.status === status))

  for (const url of [`http://lyncdiscoverinternal.contoso.com/${QUERY}`, `https://lyncdiscoverinternal.contoso.com/${QUERY}`]) {
    const [h] = find('GET', url, 200)
    t.match(h?.responseBody, /AccessLocation="Internal"/, `${url}: the Director's internal site answers`)
  }
  t.ok(run.labExchanges.some((e) => e.host === 'lyncdiscoverinternal.contoso.com' && e.rule === 'dir-hlb-internal' && e.status === 200), 'through the HLB VIP\'s internal listeners')
  for (const host of ['lyncdiscoverinternal.contoso.com', 'dirpool.contoso.net', 'pool01.contoso.net']) {
    t.ok(run.certificates.some((c) => c.host === host && c.verified), `${host}: the certificate verifies`)
  }
  t.same(run.certificatePrompts, [], 'no certificate was questioned')
  t.ok(find('POST', 'https://dirpool.contoso.net/WebTicket/WebTicketService.svc', 200).length > 0, 'a web ticket from the Director pool')
  t.ok(find('POST', 'https://pool01.contoso.net/WebTicket/WebTicketService.svc', 200).length > 0, 'and one from the Front End pool')
  const user = run.http.find((h) => h.url === `https://pool01.contoso.net${SVC}/root/user` && h.requestHeaders['x-ms-webticket'] !== undefined && h.status === 200)
  t.match(user?.responseBody, /AccessLocation="Internal"><User>.*<SipClientInternalAccess fqdn="dirpool\.contoso\.net" port="5061"\/>/, 'the User document names the internal access location')
  t.ok(run.tlsConnects.includes('dirpool.contoso.net:5061'), 'SIPE opens TLS to it')
  const external = run.http.map((h) => new URL(h.url).hostname).filter((host) => host.endsWith('.contoso.com') && host !== 'lyncdiscoverinternal.contoso.com')
  t.same(external, [], 'no external name on the way')
})
