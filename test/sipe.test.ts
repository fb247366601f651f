// The real SIPE client (pidgin-sipe 1.25, the libpurple plugin for Lync) signs in through the full
// lab, headless: bitlbee-libpurple drives it, all inside a private network namespace with the lab
// on its real ports (test/helpers/sipe.ts says how). Each step of SIPE's sign-in is asserted on
// the HTTP exchanges its debug log shows, and on the lab's own exchange log.
//
// Today SIPE gets as far as the WebTicket service's metadata (mex): autodiscover over the HTTP first
// hop and HTTPS, the Redirect to webext, the User link answered 401 with X-MS-WebTicketURL, and mex
// over NTLM, which answers a text/plain placeholder that SIPE cannot parse ("error parsing xml
// string"), and it stops there. The later steps (a web ticket over WS-Trust, the User document and
// its SIP access location, TLS to that location, signed in) are todo until the lab serves them.
//
// Needs (Debian 12): pidgin-sipe bitlbee-libpurple gcc libc6-dev iproute2 util-linux, and user
// namespaces (unshare -rmnpf); skipped with the reason otherwise. `npm run build` first (the lab
// runs from dist). Time: about 7–10 s (a fresh lab generating its certificates, then SIPE).
import t from 'tap'
import { parseSipeLog, runSipe, sipeSkipReason, type HttpExchange, type SipeRun } from './helpers/sipe.js'

const XML = 'application/vnd.microsoft.rtc.autodiscover+xml'
const SVC = '/Autodiscover/AutodiscoverService.svc'
const WEBTICKET = 'https://webext.contoso.com/WebTicket/WebTicketService.svc'
const QUERY = '?sipuri=user1@contoso.com'

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
    account: 'user1@contoso.com',
    password: 'Pass@word1',
    login: 'CONTOSO\\user1',
    authentication: 'ntlm',
    transport: 'auto',
    // The last name SIPE tries once discovery has given up: the proxy's external side, whose
    // certificate does not name it.
    sipAddress: '127.0.0.1',
    timeoutMs: 60_000,
  })
  t.comment(`SIPE ran ${run.durationMs} ms; outcome: ${run.outcome ?? 'none (timed out)'}`)
  for (const h of run.http) t.comment(describe(h))
  t.comment(`TLS connections: ${run.tlsConnects.join(', ')}`)
  t.comment(`certificates: ${run.certificates.map((c) => `${c.host} ${c.verified ? 'verified' : 'NOT verified'}`).join(', ')}`)
  t.comment(`SIPE errors: ${run.sipeErrors.join(' | ')}`)
  const find = (method: string, url: string, status?: number): HttpExchange[] =>
    run.http.filter((h) => h.method === method && h.url === url && (status === undefined || h.status === status))

  t.notOk(run.timedOut, 'bitlbee reported how the sign-in ended within the time bound')
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

  t.test('autodiscover: lyncdiscover over the HTTP first hop and over HTTPS', async (t) => {
    // SIPE asks both at once and goes on with whatever each answers: over HTTP a Redirect to
    // webext's root, over HTTPS (the Director's answer) the root's links, User among them.
    const links: Record<string, RegExp> = {
      [`http://lyncdiscover.contoso.com/${QUERY}`]: /<Link token="Redirect" href="https:\/\/webext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root\?sipuri=user1@contoso\.com"/,
      [`https://lyncdiscover.contoso.com/${QUERY}`]: /<Link token="(Redirect|User)" href="https:\/\/webext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root/,
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

  t.test('the Redirect is followed to webext (SIPE parsed the XML)', async (t) => {
    const [h] = find('GET', `https://webext.contoso.com${SVC}/root${QUERY}`, 200)
    t.ok(h, 'GET webext root answered 200')
    t.match(h?.responseHeaders['content-type'], XML)
    t.match(h?.responseBody, /<Link token="User" href="https:\/\/webext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root\/user"/)
    t.ok(run.log.includes(`sipe_lync_autodiscover_parse: redirect to https://webext.contoso.com${SVC}/root${QUERY}`), 'SIPE logged the redirect')
  })

  t.test('the User link answers 401 with X-MS-WebTicketURL', async (t) => {
    const user = find('GET', `https://webext.contoso.com${SVC}/root/user`)
    t.ok(user.length > 0, 'SIPE followed the User link')
    const first = user[0]
    t.equal(first?.status, 401)
    t.equal(first?.responseHeaders['x-ms-webticketurl'], WEBTICKET)
    t.notOk(first?.requestHeaders['x-ms-webticket'], 'no web ticket yet')
  })

  t.test('the WebTicket service\'s mex is fetched over NTLM', async (t) => {
    const mex = find('GET', `${WEBTICKET}/mex`)
    t.ok(mex.length >= 3, `challenge, negotiate, authenticate (${mex.length} requests)`)
    t.equal(mex[0]?.status, 401, 'first answer: 401')
    t.match(mex[0]?.responseHeaders['www-authenticate'], /NTLM/, 'offers NTLM')
    const authorized = mex.filter((h) => /^NTLM /.test(h.requestHeaders.authorization ?? ''))
    t.equal(authorized.length, 2, 'NTLM negotiate and authenticate messages sent')
    const done = mex.at(-1)
    t.equal(done?.status, 200, 'authenticated: 200')
    t.ok(run.labExchanges.some((e) => e.host === 'webext.contoso.com' && e.path === '/WebTicket/WebTicketService.svc/mex' && e.status === 200 && e.pool === 'fe'),
      'the lab forwarded it to the Front End pool and logged the 200')
    // Today a placeholder, not the WSDL: SIPE stops on it.
    t.match(done?.responseHeaders['content-type'], /^text\/plain/, 'today: a text/plain placeholder')
    t.ok(run.sipeErrors.some((e) => /error parsing xml string/.test(e)), 'today: SIPE stops with "error parsing xml string"')
    t.match(done?.responseHeaders['content-type'], /xml/, 'mex is WS-MetadataExchange XML (the WSDL)', { todo: 'the lab serves mex as a text/plain placeholder' })
  })

  t.test('a web ticket over WS-Trust', { todo: 'the lab has no WS-Trust WebTicket service yet' }, async (t) => {
    const post = run.http.find((h) => h.method === 'POST' && h.url.startsWith(WEBTICKET) && h.status === 200)
    t.ok(post, 'SIPE POSTs a RequestSecurityToken to the WebTicket service and gets 200')
    t.match(post?.responseBody, /Assertion/, 'the answer holds a SAML assertion')
  })

  const userDoc = run.http.find((h) => h.url === `https://webext.contoso.com${SVC}/root/user` && h.requestHeaders['x-ms-webticket'] !== undefined && h.status === 200)
  const access = /<SipClientExternalAccess\s+fqdn="([^"]+)"\s+port="(\d+)"/.exec(userDoc?.responseBody ?? '')

  t.test('the User document with the SIP access location', { todo: 'needs the web ticket' }, async (t) => {
    t.ok(userDoc, 'GET .../root/user with X-MS-WebTicket answers 200')
    t.match(userDoc?.responseHeaders['content-type'], XML)
    t.ok(access, 'the User document names SipClientExternalAccess')
  })

  t.test('TLS to the SIP access location', { todo: 'needs the User document and a SIP stand-in behind it' }, async (t) => {
    const where = access === null ? undefined : `${access[1]!.toLowerCase()}:${access[2]}`
    t.ok(where !== undefined && run.tlsConnects.includes(where), `SIPE connects with TLS to ${where ?? 'the access location'}`)
    t.ok(where !== undefined && run.certificates.some((c) => c.host === access?.[1]?.toLowerCase() && c.verified), 'its certificate verifies')
    t.equal(run.outcome, 'Logged in', 'bitlbee reports the account signed in')
  })
})
