// `lyncproxy explain`: what it prints for the lab topology, that it agrees with the running proxy
// request by request, and its usage errors.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import t from 'tap'
import type { CheckIO } from '../src/cli/check.js'
import { runExplain } from '../src/cli/explain.js'
import { validateConfigObject } from '../src/config/load.js'
import { startProxy } from '../src/control/proxy.js'
import { explainRequest, type ExplainResult } from '../src/explain/explain.js'
import { REQUEST_FIELDS, TRUSTED_FORWARDING_WHY, UNLISTED_WHY } from '../src/forward/header-policy.js'
import type { Exchange } from '../src/observe/exchange.js'
import { request } from './helpers/client.js'
import { PUBLIC_NAMES, testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LAB_YAML = path.join(root, 'config/lab.yaml')
const EXAMPLE = path.join(root, 'config/example-deployment.yaml')

// The lab's reverse proxy side as it was first written: one VIP per pool, so the expected upstream
// URLs do not move when config/lab.yaml grows (it also runs the Director's HLB and balances two Front
// End servers). The last test checks lab.yaml itself.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-explain-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
const LAB = path.join(dir, 'lab.yaml')
fs.writeFileSync(LAB, `listeners:
  - { name: external-http, protocol: http, address: 127.0.0.1, port: 80 }
  - { name: external-https, protocol: https, address: 127.0.0.1, port: 443, certificates: [{ lab: true }] }
pools:
  fe: { role: frontend, fqdn: pool01.contoso.net, externalWebFqdn: webext.contoso.com, address: 127.0.1.1 }
  dir: { role: director, fqdn: dirpool.contoso.net, externalWebFqdn: webdirext.contoso.com, address: 127.0.1.2 }
  owas: { role: owas, fqdn: owas01.contoso.net, externalWebFqdn: officewebapps01.contoso.com, address: 127.0.1.3, httpPort: 80, httpsPort: 443 }
rules:
  - { name: lyncdiscover-http, publicNames: [lyncdiscover.contoso.com], listeners: [external-http], action: forward, pool: dir }
  - { name: lyncdiscover, publicNames: [lyncdiscover.contoso.com], listeners: [external-https], action: forward, pool: dir }
  - { name: webext-longpoll, publicNames: [webext.contoso.com], paths: [/ucwa, /mcx], listeners: [external-https], action: forward, pool: fe, timeouts: { response: 960 } }
  - { name: webext, publicNames: [webext.contoso.com], listeners: [external-https], action: forward, pool: fe }
  - { name: director, publicNames: [webdirext.contoso.com, meet.contoso.com, dialin.contoso.com], listeners: [external-https], action: forward, pool: dir }
  - { name: office-web-apps, publicNames: [officewebapps01.contoso.com], listeners: [external-https], action: forward, pool: owas }
defaults:
  timeouts: { connect: 5, response: 120 }
`)

async function explain (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  const captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env: {},
  }
  const code = await runExplain(argv, io)
  return { code, ...captured }
}

async function explainJson (argv: string[]): Promise<ExplainResult> {
  const r = await explain([...argv, '--json'])
  if (r.code !== 0) throw new Error(r.err)
  return JSON.parse(r.out) as ExplainResult
}

t.test('a long poll on webext: rules tried, upstream URL, headers, timeouts, port rows', async (t) => {
  const r = await explain(['https://webext.contoso.com/ucwa/v1/applications', '-c', LAB,
    '-H', 'X-Forwarded-For: 10.1.1.1', '-H', 'Connection: keep-alive, X-Trace', '-H', 'X-Trace: 1', '--client', '198.51.100.7'])
  t.equal(r.code, 0, r.err)
  t.equal(r.err, '')
  const out = r.out
  t.match(out, /^Request: {3}GET https:\/\/webext\.contoso\.com\/ucwa\/v1\/applications$/m)
  t.match(out, /^Listener: {2}external-https \(https, 127\.0\.0\.1:443\)$/m)
  t.match(out, /^ {3}- lyncdiscover-http +forward +published on external-http only$/m)
  t.match(out, /^ {3}- lyncdiscover +forward +webext\.contoso\.com is not among its public names \(lyncdiscover\.contoso\.com\)$/m)
  t.match(out, /^ {2}=> webext-longpoll +forward +the path is under \/ucwa: the first rule that matches wins$/m)
  t.match(out, /^ {3}~ webext +forward +every path, but rule webext-longpoll comes first$/m)
  t.match(out, /^Action: {4}forward \(rule webext-longpoll forwards to pool fe, role frontend\)$/m)
  t.match(out, /^Upstream: {2}https:\/\/127\.0\.1\.1:4443\/ucwa\/v1\/applications$/m)
  t.match(out, /^TLS: {7}server name pool01\.contoso\.net, certificate verified$/m)
  t.match(out, /^ {2}kept {6}Host: webext\.contoso\.com {2}\(kept as the client sent it/m)
  t.match(out, /^ {2}added {5}X-Forwarded-Proto: https/m)
  t.match(out, /^ {2}added {5}Forwarded: for=198\.51\.100\.7;proto=https;host=webext\.contoso\.com/m)
  t.match(out, /^ {2}added {5}Via: 1\.1 lyncproxy-xxxxxx/m)
  t.match(out, /^ {2}replaced {2}X-Forwarded-For: 10\.1\.1\.1 -> 198\.51\.100\.7 {2}\(set by the proxy: it is the first hop/m)
  t.match(out, /^ {2}removed {3}Connection: keep-alive, X-Trace {2}\(hop-by-hop/m)
  t.match(out, /^ {2}removed {3}X-Trace: 1 {2}\(named in the client's Connection header/m)
  t.match(out, /^Timeouts: {2}connect 5 s, response 960 s; client idle 120 s, request headers 30 s$/m)
  t.match(out, /Firewall details for the reverse proxy server: external interface\n {4}HTTPS\/TCP\/443 {2}Any -> Reverse proxy listener/)
  t.match(out, /Firewall details for the reverse proxy server: internal interface\n {4}HTTPS\/TCP\/4443 {2}Internal reverse proxy interface -> Front End Server, Front End pool, Director, Director pool/)
  t.notMatch(out, /Single Director/, 'the Front End pool is not behind the Director\'s VIP')
})

// A proxy in front that defaults.trustedProxies names: its X-Forwarded-For and Forwarded are kept and
// this hop appended, and explain says so, from the header policy's own reason.
t.test('behind a trusted proxy: X-Forwarded-For and Forwarded extended, with that reason', async (t) => {
  const trusting = path.join(dir, 'trusting.yaml')
  fs.writeFileSync(trusting, fs.readFileSync(LAB, 'utf8') + '  trustedProxies: [198.51.100.0/24]\n')
  const r = await explainJson(['https://webext.contoso.com/ucwa/v1/applications', '-c', trusting,
    '-H', 'X-Forwarded-For: 10.1.1.1', '-H', 'Forwarded: for=10.1.1.1;proto=https', '--client', '198.51.100.7'])
  const replaced = new Map(r.headers!.replaced.map((c) => [c.name.toLowerCase(), c]))
  t.match(replaced.get('x-forwarded-for'), { from: '10.1.1.1', to: '10.1.1.1, 198.51.100.7', why: TRUSTED_FORWARDING_WHY })
  t.match(replaced.get('forwarded'), { from: 'for=10.1.1.1;proto=https', to: 'for=10.1.1.1;proto=https, for=198.51.100.7;proto=https;host=webext.contoso.com', why: TRUSTED_FORWARDING_WHY })
  const untrusted = await explainJson(['https://webext.contoso.com/ucwa/v1/applications', '-c', trusting, '-H', 'X-Forwarded-For: 10.1.1.1', '--client', '203.0.113.5'])
  t.match(untrusted.headers!.replaced.find((c) => c.name === 'X-Forwarded-For'), { to: '203.0.113.5', why: REQUEST_FIELDS.get('x-forwarded-for')!.why }, 'from anyone else: replaced, and the first-hop reason')
})

t.test('the JSON answer: every rule with its verdict', async (t) => {
  const r = await explainJson(['https://webext.contoso.com/ucwa/v1/applications', '-c', LAB])
  t.same(r.rules.map((x) => [x.rule, x.verdict]), [
    ['lyncdiscover-http', 'other-listener'], ['lyncdiscover', 'other-name'], ['webext-longpoll', 'matched'],
    ['webext', 'shadowed'], ['director', 'other-name'], ['office-web-apps', 'other-name'],
  ])
  t.same(r.upstream?.targets, [{ member: 'vip', address: '127.0.1.1', port: 4443, url: 'https://127.0.1.1:4443/ucwa/v1/applications' }])
  t.same(r.timeouts, { connectSeconds: 5, responseSeconds: 960, clientIdleSeconds: 120, requestHeadersSeconds: 30 })
})

t.test('the reasons beside each header are the header policy\'s own', async (t) => {
  const r = await explainJson(['https://webext.contoso.com/abs/x', '-c', LAB, '-H', 'Authorization: NTLM TlRMTVNTUAABAAAA', '-H', 'X-Real-IP: 10.1.1.1', '-H', 'X-Custom: 1'])
  t.same(r.headers?.kept.find((h) => h.name === 'Authorization')?.why, REQUEST_FIELDS.get('authorization')?.why, 'Authorization: kept, and why NTLM matters')
  t.same(r.headers?.removed.find((h) => h.name === 'X-Real-IP')?.why, REQUEST_FIELDS.get('x-real-ip')?.why)
  t.same(r.headers?.kept.find((h) => h.name === 'X-Custom')?.why, UNLISTED_WHY, 'a field of no listed kind')
  for (const [name, policy] of REQUEST_FIELDS) t.ok(policy.why !== '' && !policy.why.includes('\n'), `${name}: one line of reason`)
})

t.test('lyncdiscover over HTTP: forwarded to the Director on 8080, crossing the Director table', async (t) => {
  const r = await explainJson(['http://lyncdiscover.contoso.com/?sipuri=user1@contoso.com', '-c', LAB])
  t.equal(r.listener.name, 'external-http')
  t.match(r.outcome, { action: 'forward', rule: 'lyncdiscover-http' })
  t.equal(r.upstream?.targets[0]?.url, 'http://127.0.1.2:8080/?sipuri=user1@contoso.com')
  t.equal(r.upstream?.servername, null)
  t.same(r.seedRows.map((s) => [s.table, s.protocol, s.destination]), [
    ['Firewall details for the reverse proxy server: external interface', 'HTTP/TCP/80', 'Reverse proxy listener'],
    ['Firewall details for the reverse proxy server: internal interface', 'HTTP/TCP/8080', 'Front End Server, Front End pool, Director, Director pool'],
    ['Single Director ports and protocols for firewall definitions', 'HTTP/TCP/8080', 'Director hardware load balancer VIP'],
  ])
})

t.test('redirects, denials and names that are not published', async (t) => {
  const redirect = await explain(['http://webext.contoso.com/abs/x?y=1', '-c', LAB])
  t.match(redirect.out, /^ {2}=> \(redirect to https\) +redirect +the listener redirects every published name that no http rule forwards/m)
  t.match(redirect.out, /^Action: {4}redirect: 301 to https:\/\/webext\.contoso\.com\/abs\/x\?y=1/m)
  t.notMatch(redirect.out, /Headers to the upstream/)
  t.match(redirect.out, /^Timeouts: {2}client idle 120 s, request headers 30 s$/m)

  const denied = await explainJson(['https://admin.contoso.com/cscp', '-c', EXAMPLE])
  t.match(denied.outcome, { action: 'deny', rule: 'deny-admin', status: 403, code: 'denied' })
  t.equal(denied.rules[0]?.verdict, 'matched')

  const unknown = await explainJson(['https://intranet.contoso.com/', '-c', LAB])
  t.match(unknown.outcome, { action: 'refused', rule: null, status: 404, code: 'not_published' })
  t.ok(unknown.rules.every((x) => x.verdict === 'other-name' || x.verdict === 'other-listener'))
  t.equal(unknown.publicName, null)

  const path404 = await explainJson(['https://webext.contoso.com/x', '-c', LAB, '--listener', 'external-http'])
  t.equal(path404.listener.name, 'external-http', 'a listener by name')
  t.match(path404.outcome, { action: 'redirect' })

  const underscore = await explainJson(['https://webext.contoso.com/', '-c', LAB, '-H', 'X_Forwarded_For: 1.2.3.4'])
  t.match(underscore.outcome, { action: 'refused', status: 400, code: 'bad_header' })
})

t.test('the path is normalized as the proxy does it before matching', async (t) => {
  const r = await explainJson(['https://WebExt.contoso.com/abs/../UCWA/%761/applications', '-c', LAB])
  t.equal(r.path, '/UCWA/v1/applications')
  t.match(r.outcome, { action: 'forward', rule: 'webext-longpoll' }, 'paths and names match case-insensitively')
  t.equal(r.upstream?.targets[0]?.url, 'https://127.0.1.1:4443/UCWA/v1/applications')
  const refused = await explainJson(['https://webext.contoso.com/%2e%2e/%2e%2e/etc', '-c', LAB])
  t.match(refused.outcome, { action: 'refused', status: 400, code: 'bad_target' })
})

t.test('config/lab.yaml as shipped: the long poll goes to the Front End on 4443, the VIP listeners stay out', async (t) => {
  const r = await explainJson(['https://webext.contoso.com/ucwa/v1/applications', '-c', LAB_YAML])
  t.equal(r.listener.name, 'external-https', 'the reverse proxy\'s own https listener, not an HLB VIP')
  t.match(r.outcome, { action: 'forward', rule: 'webext-longpoll' })
  t.equal(r.upstream?.pool, 'fe')
  t.ok((r.upstream?.targets.length ?? 0) > 0)
  t.ok(r.upstream?.targets.every((x) => x.port === 4443 && x.url.endsWith(':4443/ucwa/v1/applications')), 'every member on 4443')
  t.equal(r.timeouts.responseSeconds, 960)
  t.ok(r.rules.filter((x) => x.verdict === 'matched').length === 1)
})

t.test('usage errors', async (t) => {
  const none = await explain(['-c', LAB])
  t.equal(none.code, 64)
  t.match(none.err, /^LRP_ERR_USAGE: lyncproxy explain needs exactly one URL/)
  const ftp = await explain(['ftp://webext.contoso.com/', '-c', LAB])
  t.equal(ftp.code, 64)
  t.match(ftp.err, /http and https only/)
  const bare = await explain(['/ucwa', '-c', LAB])
  t.match(bare.err, /has no host: give a full URL such as https:\/\/webext\.contoso\.com\/ucwa/)
  const listener = await explain(['https://webext.contoso.com/', '-c', LAB, '--listener', 'nope'])
  t.match(listener.err, /no listener 'nope': use http, https or one of external-http, external-https/)
  const header = await explain(['https://webext.contoso.com/', '-c', LAB, '-H', 'nocolon'])
  t.match(header.err, /--header 'nocolon' is not 'Name: value'/)
  const missing = await explain(['https://webext.contoso.com/', '-c', '/nonexistent.yaml'])
  t.equal(missing.code, 2)
  t.match(missing.err, /^LRP_ERR_CONFIG_READ/)
  const help = await explain(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /^Usage: lyncproxy explain URL/)
  const noHost = await explain(['webext.contoso.com/abs', '-c', LAB])
  t.equal(noHost.code, 0, 'a URL without a scheme is taken as https')
  t.match(noHost.out, /Listener: {2}external-https/)
})

t.test('explain agrees with the running proxy, request by request', async (t) => {
  const certs = await testCertificates()
  const plain = await startUpstream()
  const secure = await startUpstream(undefined, certs.internal.get('fe'))
  t.teardown(() => Promise.all([plain.close(), secure.close()]))
  const loaded = validateConfigObject({
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
    ],
    certs: { dir: path.dirname(certs.caFile) },
    pools: { fe: { role: 'frontend', fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: plain.port, httpsPort: secure.port } },
    rules: [
      { name: 'deny-admin', publicNames: ['meet.contoso.com'], paths: ['/admin'], action: 'deny' },
      { name: 'discover-http', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'fe' },
      { name: 'longpoll', publicNames: ['webext.contoso.com'], paths: ['/ucwa', '/mcx'], listeners: ['external-https'], action: 'forward', pool: 'fe', timeouts: { response: 960 } },
      { name: 'webext', publicNames: ['webext.contoso.com', 'lyncdiscover.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
      { name: 'simple-urls', publicNames: ['meet.contoso.com', 'dialin.contoso.com'], action: 'forward', pool: 'fe' },
    ],
  }, { file: 'explain-agrees.yaml', baseDir: process.cwd() })
  const proxy = await startProxy(loaded, { logger: pino({ level: 'silent' }), labCerts: certs })
  t.teardown(() => proxy.close(0))
  const seen: Exchange[] = []
  proxy.bus.subscribe((ex) => seen.push(ex))
  const ports = new Map(proxy.listeners.map((l) => [l.name, l.port]))

  const cases = [
    'https://webext.contoso.com/ucwa/v1/x', 'https://webext.contoso.com/UCWA', 'https://webext.contoso.com/ucwax',
    'https://webext.contoso.com/abs/a', 'http://webext.contoso.com/abs/a', 'http://lyncdiscover.contoso.com/',
    'https://lyncdiscover.contoso.com/', 'https://meet.contoso.com/admin/x', 'https://meet.contoso.com/adminx',
    'http://meet.contoso.com/admin', 'http://dialin.contoso.com/', 'https://other.contoso.com/', 'https://webext.contoso.com./mcx/',
  ]
  for (const url of cases) {
    const explained = explainRequest({ url }, { config: proxy.config(), table: proxy.table(), boundPorts: ports })
    const m = /^(https?):\/\/([^/]+)(.*)$/.exec(url)!
    const tls = m[1] === 'https'
    const host = m[2]!
    // SNI names a site of the certificate; the Host is what is being tried.
    const servername = PUBLIC_NAMES.includes(host.replace(/\.$/, '')) ? host.replace(/\.$/, '') : 'webext.contoso.com'
    const reply = await request({ port: ports.get(tls ? 'external-https' : 'external-http')!, host, path: m[3]!, ...(tls ? { tls: { ca: certs.caPem, servername } } : {}) })
    await new Promise((resolve) => setImmediate(resolve))
    const ex = seen.at(-1)!
    t.equal(explained.outcome.rule ?? '', ex.rule, `${url}: same rule (${ex.rule || 'none'})`)
    const expectedStatus = explained.outcome.action === 'forward' ? 200 : explained.outcome.status
    t.equal(reply.status, expectedStatus, `${url}: same status`)
    if (explained.outcome.action === 'forward') {
      t.equal(explained.upstream?.targets[0]?.url.replace(/^https?:\/\//, ''), `${ex.upstream}${ex.target}`, `${url}: same upstream`)
    }
    if (explained.redirect !== null) t.equal(reply.headers.location, explained.redirect.location, `${url}: same Location`)
  }
})
