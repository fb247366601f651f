// Port 80 on a lab-shaped config: names published only on HTTPS are redirected there, lyncdiscover is
// forwarded over plain HTTP (Microsoft's mobility "HTTP first hop"), and a Location header only ever
// names a published name, whatever Host or request target the client sent.
import fs from 'node:fs'
import t, { type Test } from 'tap'
import YAML from 'yaml'
import { rawExchange, request } from './helpers/client.js'
import { startTestProxy, testCertificates, type TestProxy } from './helpers/proxy.js'
import { startUpstream, type RecordingUpstream } from './helpers/upstream.js'

interface Lab {
  p: TestProxy
  upstreams: Record<string, RecordingUpstream>
  forwarded: () => number
}

// config/lab.yaml itself, with the listeners on port 0 and each pool's ports pointing at recording
// upstreams (plain on httpPort, TLS with the pool's internal lab certificate on httpsPort).
async function startLabShaped (t: Test, extraRules: unknown[] = []): Promise<Lab> {
  const certs = await testCertificates()
  const lab = YAML.parse(fs.readFileSync(new URL('../config/lab.yaml', import.meta.url), 'utf8')) as {
    listeners: Array<Record<string, unknown>>
    pools: Record<string, Record<string, unknown>>
    rules: unknown[]
  }
  const upstreams: Record<string, RecordingUpstream> = {}
  t.teardown(async () => {
    for (const u of Object.values(upstreams)) await u.close()
  })
  for (const [name, pool] of Object.entries(lab.pools)) {
    const plain = await startUpstream()
    const secure = await startUpstream(undefined, certs.internal.get(name)!)
    upstreams[`${name}-http`] = plain
    upstreams[`${name}-https`] = secure
    pool.address = '127.0.0.1'
    pool.httpPort = plain.port
    pool.httpsPort = secure.port
  }
  // The layer-4 frontends (5061, 444, 50001-50003) have nothing to do with port 80, and 444 would
  // need privilege.
  const p = await startTestProxy({
    ...lab,
    listeners: lab.listeners.map((l) => ({ ...l, port: 0 })),
    tcp: [],
    rules: [...lab.rules, ...extraRules],
  })
  t.teardown(() => p.close())
  return { p, upstreams, forwarded: () => Object.values(upstreams).reduce((n, u) => n + u.requests.length, 0) }
}

interface RawReply {
  status: number
  headers: Map<string, string[]>
  text: string
}

function parseRaw (text: string): RawReply {
  const head = text.split('\r\n\r\n', 1)[0] ?? ''
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = new Map<string, string[]>()
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).toLowerCase()
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()])
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, text }
}

function raw (port: number, target: string, host: string | Buffer | undefined): Promise<RawReply> {
  const parts: Buffer[] = [Buffer.from(`GET ${target} HTTP/1.1\r\n`, 'latin1')]
  if (host !== undefined) parts.push(Buffer.from('Host: ', 'latin1'), Buffer.isBuffer(host) ? host : Buffer.from(host, 'latin1'), Buffer.from('\r\n', 'latin1'))
  parts.push(Buffer.from('Connection: close\r\n\r\n', 'latin1'))
  return rawExchange(port, Buffer.concat(parts)).then(parseRaw)
}

t.test('port 80: names published only on HTTPS are redirected, nothing is forwarded', async (t) => {
  const { p, forwarded } = await startLabShaped(t)
  const r = await request({ port: p.httpPort, host: 'meet.contoso.com', path: '/user1/ABC?x=1' })
  t.equal(r.status, 301)
  t.equal(r.headers.location, `https://meet.contoso.com:${p.httpsPort}/user1/ABC?x=1`, 'the redirect names the bound HTTPS port and keeps path and query')
  for (const [host, path] of [['webext.contoso.com', '/ucwa/oauth/v1/applications'], ['dialin.contoso.com', '/'], ['webdirext.contoso.com', '/abs?x=%2F'], ['officewebapps01.contoso.com', '/hosting/discovery']]) {
    const x = await request({ port: p.httpPort, host: host!, path: path! })
    t.equal(x.status, 301, `${host} on port 80 → 301`)
    t.equal(x.headers.location, `https://${host}:${p.httpsPort}${path}`)
  }
  t.equal(forwarded(), 0, 'no upstream saw any of these requests')
})

t.test('port 80: lyncdiscover is forwarded to the Director pool over plain HTTP, never redirected', async (t) => {
  const { p, upstreams, forwarded } = await startLabShaped(t)
  const dir = upstreams['dir-http']!
  const r = await request({ port: p.httpPort, host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com' })
  t.equal(r.status, 200, 'forwarded and answered')
  t.equal(r.headers.location, undefined, 'not a redirect')
  t.equal(dir.requests.length, 1, 'the Director pool\'s HTTP port got it')
  t.equal(forwarded(), 1, 'and no other upstream did')
  const got = dir.requests[0]!
  t.equal(got.localPort, dir.port, 'it arrived on the pool\'s httpPort')
  t.equal(got.url, '/?sipuri=user1@contoso.com', 'target unchanged')
  t.equal(got.headers.host, 'lyncdiscover.contoso.com', 'the public Host is kept')
  t.equal(got.headers['x-forwarded-proto'], 'http', 'the pool learns the client came over HTTP')
  t.match(dir.rawBytes(), /^GET \/\?sipuri=user1@contoso\.com HTTP\/1\.1\r\n/, 'plain HTTP on the upstream connection, not a TLS handshake')

  const svc = await request({ port: p.httpPort, host: 'LyncDiscover.Contoso.com:80', path: '/autodiscover/autodiscoverservice.svc/root?sipuri=user1@contoso.com' })
  t.equal(svc.status, 200, 'any path, any case of the name, with the port: still forwarded')
  t.equal(dir.requests.length, 2)

  const secure = await request({ port: p.httpsPort, host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com', tls: { ca: p.certs.caPem } })
  t.equal(secure.status, 200, 'on 443 it goes to the Director pool\'s HTTPS port')
  t.equal(upstreams['dir-https']!.requests[0]?.headers['x-forwarded-proto'], 'https')
  t.equal(dir.requests.length, 2, 'not to its HTTP port')
})

t.test('a Host nobody publishes is refused, never redirected', async (t) => {
  const { p, forwarded } = await startLabShaped(t)
  for (const host of ['evil.example', 'evil.example:80', 'meet.contoso.com.evil.example', 'contoso.com']) {
    const r = await request({ port: p.httpPort, host, path: '/user1/ABC' })
    t.equal(r.status, 404, `Host ${host} → 404`)
    t.equal(r.headers['x-lyncproxy-error'], 'not_published')
    t.equal(r.headers.location, undefined, 'no Location')
    t.notMatch(r.body, /evil/, 'the body does not echo the Host')
  }
  t.equal(forwarded(), 0)
})

t.test('absolute-form targets: the target\'s authority is the host, the Host field is ignored', async (t) => {
  const { p, forwarded } = await startLabShaped(t)
  let r = await raw(p.httpPort, 'http://meet.contoso.com/x', 'evil.example')
  t.equal(r.status, 301)
  t.same(r.headers.get('location'), [`https://meet.contoso.com:${p.httpsPort}/x`], 'the redirect names meet.contoso.com')
  t.notMatch(r.text, /evil/, 'evil.example appears nowhere in the response')

  r = await raw(p.httpPort, 'HTTP://MEET.contoso.com:80?x=1', 'evil.example')
  t.same(r.headers.get('location'), [`https://meet.contoso.com:${p.httpsPort}/?x=1`], 'scheme and name case-insensitive, port dropped, empty path is /')

  r = await raw(p.httpPort, 'http://evil.example/x', 'meet.contoso.com')
  t.equal(r.status, 404, 'the authority wins over a published Host, too')
  t.equal(r.headers.get('location'), undefined)

  r = await raw(p.httpPort, 'http://evil.example@meet.contoso.com/x', 'meet.contoso.com')
  t.equal(r.status, 400, 'userinfo in the authority is refused')
  t.equal(r.headers.get('location'), undefined)

  r = await raw(p.httpPort, 'http://meet.contoso.com//evil.example/x', 'meet.contoso.com')
  t.same(r.headers.get('location'), [`https://meet.contoso.com:${p.httpsPort}/evil.example/x`], 'a path cannot become an authority: // is merged')
  t.equal(forwarded(), 0)
})

// Every Location must be exactly this, or absent.
function checkLocation (t: Test, r: RawReply, allowed: string[], label: string): void {
  const location = r.headers.get('location')
  if (location === undefined) {
    t.not(r.status, 301, `${label}: no Location, so not a redirect (${r.status})`)
  } else {
    t.equal(location.length, 1, `${label}: one Location`)
    t.ok(allowed.includes(location[0]!), `${label}: Location ${JSON.stringify(location[0])} names a published name`)
  }
  t.notMatch(r.text, /evil|<|>|"|'|%|@|\\/, `${label}: nothing of the odd Host is echoed`)
}

t.test('a Host with odd characters never appears in a Location', async (t) => {
  const { p, forwarded } = await startLabShaped(t)
  const clean = `https://meet.contoso.com:${p.httpsPort}/x`
  const hosts: Array<string | Buffer> = [
    'meet.contoso.com.', 'MEET.Contoso.COM', 'meet.contoso.com:80', 'meet.contoso.com.:8080',
    'meet.contoso.com@evil.example', 'evil.example#meet.contoso.com', 'meet.contoso.com/evil', 'meet.contoso.com\\evil.example',
    'meet.contoso.com%2f@evil.example', 'meet.contoso.com:80@evil.example', 'meet.contoso.com:evil', 'meet.contoso.com:',
    '[::1]', '[meet.contoso.com]', 'meet.contoso.com, evil.example', 'meet.contoso.com"<script>', "meet.contoso.com'",
    '%6deet.contoso.com', 'meet.contoso.com..', 'meet..contoso.com', '.meet.contoso.com', 'meet.contoso.com%00',
    'meet_contoso.com', Buffer.from('m\xe9et.contoso.com', 'latin1'), Buffer.from('meet.contoso.com\xff', 'latin1'),
    Buffer.from('mееt.contoso.com', 'utf8'), '*', '',
  ]
  for (const host of hosts) {
    const label = JSON.stringify(Buffer.isBuffer(host) ? host.toString('latin1') : host)
    const r = await raw(p.httpPort, '/x', host)
    t.ok(r.status >= 300, `${label}: answered ${r.status}`)
    checkLocation(t, r, [clean], label)
  }
  const missing = await raw(p.httpPort, '/x', undefined)
  t.equal(missing.status, 400, 'no Host at all: 400')
  const two = parseRaw(await rawExchange(p.httpPort, 'GET /x HTTP/1.1\r\nHost: meet.contoso.com\r\nHost: evil.example\r\nConnection: close\r\n\r\n'))
  t.equal(two.status, 400, 'two Host fields: 400, no redirect')
  t.equal(two.headers.get('location'), undefined)
  t.equal(forwarded(), 0)
})

t.test('wildcard public names: the redirect carries only a one-label DNS name under the wildcard', async (t) => {
  const { p, forwarded } = await startLabShaped(t, [
    { name: 'lab-wildcard', publicNames: ['*.lab.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
  ])
  let r = await raw(p.httpPort, '/x?y=1', 'Pool-01.LAB.contoso.com.:80')
  t.same(r.headers.get('location'), [`https://pool-01.lab.contoso.com:${p.httpsPort}/x?y=1`], 'the name under the wildcard, normalized')
  const hosts: Array<string | Buffer> = [
    'a.b.lab.contoso.com', 'a_b.lab.contoso.com', '.lab.contoso.com', 'lab.contoso.com', 'evil.example/.lab.contoso.com',
    'evil.example\\.lab.contoso.com', 'evil.example@x.lab.contoso.com', 'evil.example#.lab.contoso.com', 'evil.example?.lab.contoso.com',
    'evil.example:1.lab.contoso.com', '%65vil.lab.contoso.com', Buffer.from('\xe9vil.lab.contoso.com', 'latin1'),
  ]
  for (const host of hosts) {
    const label = JSON.stringify(Buffer.isBuffer(host) ? host.toString('latin1') : host)
    r = await raw(p.httpPort, '/x', host)
    t.equal(r.status, 404, `${label}: not a name under the wildcard`)
    checkLocation(t, r, [], label)
  }
  t.equal(forwarded(), 0)
})

t.test('rules for any Host (*): a Location names the client\'s own host, never an empty one', async (t) => {
  const fe = await startUpstream()
  const certs = await testCertificates()
  const secure = await startUpstream(undefined, certs.internal.get('fe')!)
  const pools = { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: fe.port, httpsPort: secure.port } }
  // A load balancer VIP's listeners: everything on 443 forwarded, everything on 80 redirected. The
  // HTTPS listener is reached on 443 from outside (publicPort), so redirects carry no port.
  const p = await startTestProxy({
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, publicPort: 443, certificates: [{ lab: true }] },
    ],
    pools,
    rules: [
      { name: 'vip', publicNames: ['*'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
      { name: 'vip-to-https', publicNames: ['*'], listeners: ['external-http'], action: 'redirect' },
    ],
  })
  t.teardown(async () => { await p.close(); await fe.close(); await secure.close() })
  // 'https:///evil.example/x' is what an empty name would give on port 443, and browsers read it as
  // https://evil.example/x.
  let r = await raw(p.httpPort, '/evil.example/x', 'VIP.Contoso.com.:80')
  t.equal(r.status, 301)
  t.same(r.headers.get('location'), ['https://vip.contoso.com/evil.example/x'], 'the host the client asked for, normalized')
  const first = r.headers.get('location')?.[0] ?? ''
  t.equal(URL.canParse(first) ? new URL(first).host : first, 'vip.contoso.com', 'and that is the host a browser goes to')
  r = await raw(p.httpPort, 'http://vip.contoso.com//evil.example/x', 'evil.example')
  t.same(r.headers.get('location'), ['https://vip.contoso.com/evil.example/x'], 'absolute form: the target\'s authority')
  for (const host of ['meet.contoso.com@evil.example', 'evil.example/x', 'evil.example#x', 'x%2f@evil.example', ':80', 'evil.example:80@x', '']) {
    r = await raw(p.httpPort, '/x', host)
    checkLocation(t, r, [], JSON.stringify(host))
  }
  r = await raw(p.httpPort, '/x', '[::1]:80')
  const location = r.headers.get('location')?.[0] ?? ''
  t.equal(URL.canParse(location) ? new URL(location).host : location, '[::1]', 'an IP literal stays one')

  const tls = await request({ port: p.httpsPort, host: 'webext.contoso.com', path: '/x', tls: { ca: p.certs.caPem } })
  t.equal(tls.status, 200, 'on HTTPS, a Host the certificate covers is forwarded (not 421)')
  t.equal(secure.requests[0]?.headers.host, 'webext.contoso.com')
  t.equal(fe.requests.length, 0, 'nothing was forwarded from port 80')

  // Without an http rule, port 80 may refuse or redirect, but never to an empty host.
  const httpsOnly = await startTestProxy({ pools, rules: [{ name: 'vip', publicNames: ['*'], listeners: ['external-https'], action: 'forward', pool: 'fe' }] })
  t.teardown(() => httpsOnly.close())
  r = await raw(httpsOnly.httpPort, '/evil.example/x', 'vip.contoso.com')
  const implicit = r.headers.get('location')
  t.ok(implicit === undefined || implicit[0] === `https://vip.contoso.com:${httpsOnly.httpsPort}/evil.example/x`, `implicit redirect of a * rule: ${r.status} ${implicit?.[0] ?? 'no Location'}`)
  t.equal(fe.requests.length + secure.requests.length, 1)
})
