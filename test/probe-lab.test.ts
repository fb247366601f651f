// `lyncproxy probe` against the lab, in-process: the lab as shipped passes every check, and labs
// broken the way operators break them are reported with exactly those failures (and the checks that
// could not run because of them say SKIP). Real sockets on 127.0.0.1, ephemeral ports throughout.
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import pino from 'pino'
import { generate } from 'selfsigned'
import t, { type Test } from 'tap'
import YAML from 'yaml'
import { runProbeCommand } from '../src/cli/probe.js'
import { validateConfigObject, type LoadedConfig } from '../src/config/load.js'
import { labCertificateRequest } from '../src/control/lab-cert-request.js'
import { startLab, type RunningLab } from '../src/lab/run.js'
import { runProbe, type ProbeOptions, type ProbeResult } from '../src/probe/run.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'

const REPO_CONFIG = new URL('../config/lab.yaml', import.meta.url)
// One certificates directory for every lab in this file: the names never change, so the lab CA and
// its certificates are issued once and reused.
const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-probe-certs-'))
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-probe-'))
t.teardown(() => {
  fs.rmSync(certsDir, { recursive: true, force: true })
  fs.rmSync(scratch, { recursive: true, force: true })
})

interface LabConfig {
  listeners: Array<Record<string, unknown>>
  rules: Array<Record<string, unknown>>
  [key: string]: unknown
}

function labConfig (): LabConfig {
  const config = YAML.parse(fs.readFileSync(REPO_CONFIG, 'utf8')) as LabConfig
  config.certs = { dir: certsDir }
  return config
}

interface Lab { lab: RunningLab, httpPort: number, httpsPort: number, caPem: string }

function validate (config: LabConfig): LoadedConfig {
  return validateConfigObject(config, { file: 'lab.yaml', baseDir: path.dirname(REPO_CONFIG.pathname) })
}

async function start (t: Test, config: LabConfig): Promise<Lab> {
  const loaded = validate(config)
  const lab = await startLab(loaded, { logger: pino({ level: 'silent' }), ephemeralPorts: true })
  t.teardown(() => lab.close())
  const port = (name: string): number => lab.proxy.listeners.find((l) => l.name === name)!.port
  return { lab, httpPort: port('external-http'), httpsPort: port('external-https'), caPem: fs.readFileSync(path.join(certsDir, 'lab-ca.pem'), 'utf8') }
}

function probeOptions (lab: Pick<Lab, 'httpPort' | 'httpsPort' | 'caPem'>): ProbeOptions {
  return { target: '127.0.0.1', httpPort: lab.httpPort, httpsPort: lab.httpsPort, ca: lab.caPem, user: 'user1@contoso.com', password: 'Pass@word1' }
}

// "RESULT check name" for every row that is not a PASS: what a broken lab must change, and only that.
function notPassed (results: ProbeResult[]): string[] {
  return results.filter((r) => r.result !== 'PASS').map((r) => `${r.result} ${r.check} ${r.name}`).sort()
}

function row (results: ProbeResult[], check: string, name: string): ProbeResult | undefined {
  return results.find((r) => r.check === check && r.name === name)
}

function capture (): { io: { stdout: { write: (s: string) => boolean }, stderr: { write: (s: string) => boolean } }, out: () => string, err: () => string } {
  let out = ''
  let err = ''
  return {
    io: { stdout: { write: (s: string) => { out += s; return true } }, stderr: { write: (s: string) => { err += s; return true } } },
    out: () => out,
    err: () => err,
  }
}

function cliArgs (lab: Lab, caFile: string): string[] {
  return ['--target', '127.0.0.1', '--http-port', String(lab.httpPort), '--https-port', String(lab.httpsPort), '--ca', caFile,
    '--user', 'user1@contoso.com', '--password', 'Pass@word1']
}

t.test('the lab as shipped passes the whole checklist', async (t) => {
  const lab = await start(t, labConfig())
  const results = await runProbe(probeOptions(lab))
  t.same(notPassed(results), [], 'every check passes')
  const checks = new Set(results.map((r) => r.check))
  for (const check of ['tls', 'tls-legacy', 'lyncdiscover-http', 'lyncdiscover-json', 'lyncdiscover-ucwa', 'lyncdiscover-xml', 'health-probe', 'access-location',
    'user-resource', 'ucwa-signin', 'windows-auth', 'ntlm-handshake', 'meet', 'dialin', 'owas-discovery', 'owas-query', 'unpublished-https', 'unpublished-http', 'http-redirect']) {
    t.ok(checks.has(check), `${check} was run`)
  }
  t.equal(results.filter((r) => r.check === 'tls').length, 6, 'TLS for each of the six published names')
  t.equal(results.filter((r) => r.check === 'windows-auth').length, 6, 'six Windows-auth paths')
  t.match(row(results, 'ntlm-handshake', 'webext.contoso.com/abs/handler/')?.detail, /on one connection/)
  t.match(row(results, 'meet', 'meet.contoso.com')?.detail, /Host meet\.contoso\.com reached the server unchanged/)

  const anonymous = await runProbe({ ...probeOptions(lab), user: undefined, password: undefined })
  t.same(notPassed(anonymous), ['SKIP ntlm-handshake webext.contoso.com/abs/handler/', 'SKIP ucwa-signin webext.contoso.com'], 'without credentials the two sign-ins are skipped')

  // The command line, once: table, summary, exit status, and the JSON form.
  const caFile = path.join(scratch, 'lab-ca.pem')
  fs.writeFileSync(caFile, lab.caPem)
  const table = capture()
  t.equal(await runProbeCommand(cliArgs(lab, caFile), table.io), 0, 'exit 0')
  t.match(table.out(), /^CHECK\s+NAME\s+RESULT\s+DETAIL\n/, 'a table with its header')
  t.match(table.out(), /\nlyncdiscover-http\s+lyncdiscover\.contoso\.com\s+PASS\s+200 with a single Redirect link/)
  t.match(table.out(), new RegExp(`\\n${results.length} checks: ${results.length} passed, 0 failed, 0 warnings, 0 skipped\\n$`), 'the summary line')
  t.equal(table.err(), '')
  const json = capture()
  t.equal(await runProbeCommand([...cliArgs(lab, caFile), '--json'], json.io), 0)
  const parsed = JSON.parse(json.out()) as ProbeResult[]
  t.equal(parsed.length, results.length)
  t.same(Object.keys(parsed[0]!), ['check', 'name', 'result', 'detail'], '{check, name, result, detail}, and cause only when there is one')
})

t.test('the command line: help and usage errors', async (t) => {
  const help = capture()
  t.equal(await runProbeCommand(['--help'], help.io), 0)
  t.match(help.out(), /^Usage: lyncproxy probe --target IP/)
  for (const argv of [[], ['--target', '127.0.0.1', '--user', 'u@contoso.com'], ['--target', '127.0.0.1', '--https-port', 'x'], ['--target', '127.0.0.1', '--bogus'],
    ['--target', '127.0.0.1', '--ca', path.join(scratch, 'missing.pem')]]) {
    const c = capture()
    t.equal(await runProbeCommand(argv, c.io), 64, `exit 64 for ${argv.join(' ') || 'no arguments'}`)
    t.match(c.err(), /^LRP_ERR_USAGE: /)
  }
})

t.test('a config that bridges 443 to the pools\' 443: AccessLocation Internal', async (t) => {
  const config = labConfig()
  // The Front End rules bridge to fe01's internal site; the Director rules to the HLB VIP's 443,
  // which the VIP sends to the directors' internal site.
  for (const rule of config.rules) {
    if (['lyncdiscover', 'webext-longpoll', 'webext', 'director'].includes(String(rule.name))) rule.bridge = { https: 443 }
  }
  const lab = await start(t, config)
  const results = await runProbe(probeOptions(lab))
  t.same(notPassed(results), [
    'FAIL access-location lyncdiscover.contoso.com',
    'FAIL access-location webdirext.contoso.com',
    'FAIL access-location webext.contoso.com',
    'SKIP ucwa-signin webext.contoso.com',
  ])
  const lyncdiscover = row(results, 'access-location', 'lyncdiscover.contoso.com')!
  t.equal(lyncdiscover.detail, 'AccessLocation is Internal')
  t.match(lyncdiscover.cause, /the proxy sends 443 to the pool's internal site; bridge to 4443 so the pool can tell external traffic/)
  t.match(row(results, 'ucwa-signin', 'webext.contoso.com')?.detail, /pool01\.contoso\.net, an internal name/, 'the sign-in stops at the internal link and says why')
})

t.test('a config that redirects lyncdiscover on port 80', async (t) => {
  const config = labConfig()
  // Without its HTTP rule, lyncdiscover on port 80 gets the listener's implicit redirect to HTTPS.
  config.rules = config.rules.filter((r) => r.name !== 'lyncdiscover-http')
  const lab = await start(t, config)
  const results = await runProbe(probeOptions(lab))
  t.same(notPassed(results), ['FAIL lyncdiscover-http lyncdiscover.contoso.com'])
  const r = row(results, 'lyncdiscover-http', 'lyncdiscover.contoso.com')!
  t.match(r.detail, new RegExp(`^lyncdiscover on :${lab.httpPort} answered 301`))
  t.equal(r.cause, 'the rule redirects to HTTPS, so mobile clients that try HTTP first fail; forward it to the pool\'s 8080')

  // The command line reports it in the table and exits 1.
  const caFile = path.join(scratch, 'lab-ca-b.pem')
  fs.writeFileSync(caFile, lab.caPem)
  const c = capture()
  t.equal(await runProbeCommand(cliArgs(lab, caFile), c.io), 1, 'exit 1 on a failure')
  t.match(c.out(), /\nlyncdiscover-http\s+lyncdiscover\.contoso\.com\s+FAIL\s+lyncdiscover on :\d+ answered 301 to https:\/\/lyncdiscover\.contoso\.com/)
  t.match(c.out(), /\n\s+cause: the rule redirects to HTTPS, so mobile clients that try HTTP first fail; forward it to the pool's 8080\n/)
  t.match(c.out(), /\d+ checks: \d+ passed, 1 failed, 0 warnings, 0 skipped\n$/)
})

// A deliberately broken reverse proxy in front of the lab's external listeners, broken in one of two
// ways. dropHost: meet and dialin go on over HTTPS with Host rewritten to the Director's external web
// FQDN, as a TMG rule does when "Forward the original host header" is cleared (port 80 passes as it
// is: TMG redirects to HTTPS at the listener, before any rule forwards). pool: every request takes a
// fresh upstream connection, as a pooling proxy without NTLM affinity does. Otherwise each client
// connection keeps one upstream connection and everything passes through unchanged.
async function startBrokenProxy (t: Test, lab: Lab, tls: { cert: string, key: string }, broken: { dropHost?: boolean, pool?: boolean, delegate?: boolean }): Promise<{ httpPort: number, httpsPort: number }> {
  const rewrite = (host: string): string => broken.dropHost === true && /^(meet|dialin)\.contoso\.com(:\d+)?$/i.test(host) ? 'webdirext.contoso.com' : host
  const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding'])
  const agents = new WeakMap<Socket, http.Agent>()
  const agentFor = (socket: Socket, secure: boolean): http.Agent | false => {
    if (broken.pool === true) return false
    let agent = agents.get(socket)
    if (agent === undefined) {
      const created = secure ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 })
      agents.set(socket, created)
      socket.once('close', () => created.destroy())
      agent = created
    }
    return agent
  }
  const relay = (secure: boolean) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // delegate: the proxy authenticates to /abs on the clients' behalf, so they see it open.
    if (broken.delegate === true && /^\/abs/i.test(req.url ?? '')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end('LSABS')
      return
    }
    const host = secure ? rewrite(req.headers.host ?? '') : req.headers.host ?? ''
    const options: https.RequestOptions = {
      host: '127.0.0.1',
      port: secure ? lab.httpsPort : lab.httpPort,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host },
      agent: agentFor(req.socket, secure),
      // Relays whatever the lab answers, even for names its certificate does not carry (admin).
      ...(secure ? { servername: host.replace(/:\d+$/, ''), ca: lab.caPem, checkServerIdentity: () => undefined } : {}),
    }
    const upstream = (secure ? https.request : http.request)(options, (up) => {
      const headers: string[] = []
      for (let i = 0; i < up.rawHeaders.length; i += 2) {
        if (!hopByHop.has(up.rawHeaders[i]!.toLowerCase())) headers.push(up.rawHeaders[i]!, up.rawHeaders[i + 1]!)
      }
      res.writeHead(up.statusCode ?? 502, headers)
      up.pipe(res)
    })
    upstream.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end() })
    req.pipe(upstream)
  }
  const plain = http.createServer(relay(false))
  const secure = https.createServer({ cert: tls.cert, key: tls.key }, relay(true))
  for (const server of [plain, secure]) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  }
  return { httpPort: (plain.address() as AddressInfo).port, httpsPort: (secure.address() as AddressInfo).port }
}

t.test('a proxy that drops the Host header of meet and dialin', async (t) => {
  const lab = await start(t, labConfig())
  const broken = await startBrokenProxy(t, lab, lab.lab.proxy.labCerts!.external, { dropHost: true })
  const results = await runProbe(probeOptions({ ...broken, caPem: lab.caPem }))
  t.same(notPassed(results), ['FAIL dialin dialin.contoso.com', 'FAIL meet meet.contoso.com'])
  const meet = row(results, 'meet', 'meet.contoso.com')!
  t.match(meet.detail, /^meet\.contoso\.com reached the server as Host webdirext\.contoso\.com \(404 from dir0[12]\.contoso\.net\)$/)
  t.match(meet.cause, /^the Host header was not forwarded: Lync routes meet and dialin by Host; set "Forward the original host header" \(TMG\) \/ preserve Host/)
})

t.test('a proxy that authenticates on the clients\' behalf is not mistaken for a pooling one', async (t) => {
  const lab = await start(t, labConfig())
  const broken = await startBrokenProxy(t, lab, lab.lab.proxy.labCerts!.external, { delegate: true })
  const results = await runProbe(probeOptions({ ...broken, caPem: lab.caPem }))
  t.same(notPassed(results), ['FAIL ntlm-handshake webext.contoso.com/abs/handler/', 'FAIL windows-auth webext.contoso.com/abs/handler/'])
  const ntlm = row(results, 'ntlm-handshake', 'webext.contoso.com/abs/handler/')!
  t.match(ntlm.detail, /^4 of 4 clients at once: the type 1 message got 200 .*without an NTLM challenge$/)
  t.match(ntlm.cause, /answers it itself/)
  t.notMatch(ntlm.cause, /reuses an authenticated upstream connection/, 'no challenge ever came through, so no pool is blamed')
})

t.test('a proxy that pools upstream connections breaks the NTLM handshake, and only that', async (t) => {
  const lab = await start(t, labConfig())
  const broken = await startBrokenProxy(t, lab, lab.lab.proxy.labCerts!.external, { pool: true })
  const results = await runProbe(probeOptions({ ...broken, caPem: lab.caPem }))
  t.same(notPassed(results), ['FAIL ntlm-handshake webext.contoso.com/abs/handler/'])
  const ntlm = row(results, 'ntlm-handshake', 'webext.contoso.com/abs/handler/')!
  // Each request takes a new connection, so every type 3 lands without its challenge; which server
  // it reaches varies, and where two servers answered one handshake the detail says so.
  t.match(ntlm.detail, /^4 of 4 clients at once(: type 3 \(as user1@contoso\.com\) answered 401|; one: type 3 \(as user1@contoso\.com\) answered 401 by fe0[12]\.contoso\.net, while fe0[12]\.contoso\.net had sent the challenge)/)
  t.match(ntlm.cause, /NTLM authenticates a TCP connection/)
})

t.test('a listener certificate without lyncdiscover in the SAN', async (t) => {
  // A leaf from the lab CA for every public name but lyncdiscover (the CA is there once any lab of
  // this file has started; ensured here so this test also runs alone).
  await ensureLabCertificates(labCertificateRequest(validate(labConfig()).config))
  const names = ['webext.contoso.com', 'webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com', 'officewebapps01.contoso.com']
  const ca = { cert: fs.readFileSync(path.join(certsDir, 'lab-ca.pem'), 'utf8'), key: fs.readFileSync(path.join(certsDir, 'lab-ca.key'), 'utf8') }
  const leaf = await generate([{ name: 'commonName', value: names[0]! }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 3_600_000),
    notAfterDate: new Date(Date.now() + 90 * 86_400_000),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  })
  const certFile = path.join(scratch, 'no-lyncdiscover.pem')
  const keyFile = path.join(scratch, 'no-lyncdiscover.key')
  fs.writeFileSync(certFile, leaf.cert)
  fs.writeFileSync(keyFile, leaf.private, { mode: 0o600 })

  const config = labConfig()
  const listener = config.listeners.find((l) => l.name === 'external-https')!
  listener.certificates = [{ cert: certFile, key: keyFile }]
  const lab = await start(t, config)
  const results = await runProbe(probeOptions(lab))
  t.same(notPassed(results), [
    'FAIL tls lyncdiscover.contoso.com',
    'SKIP access-location lyncdiscover.contoso.com',
    'SKIP lyncdiscover-json lyncdiscover.contoso.com',
    'SKIP lyncdiscover-ucwa lyncdiscover.contoso.com',
    'SKIP lyncdiscover-xml lyncdiscover.contoso.com',
  ], 'one failure; the HTTPS autodiscover checks that depend on it are skipped, and port 80 still works')
  const tls = row(results, 'tls', 'lyncdiscover.contoso.com')!
  t.match(tls.detail, /^the certificate for lyncdiscover\.contoso\.com does not carry that name/)
  t.equal(tls.cause, 'Lync Mobile drops the session after a Server Hello without a matching certificate; add lyncdiscover.contoso.com to the SAN, or publish autodiscover on port 80 only')
})

// The long poll is opt-in. Through the lab (960 s on /ucwa) a 4 s poll is held to its end; with the
// rule's response timeout at 2 s, as a proxy left at a short read timeout has it, the proxy cuts it
// and the probe says which setting to raise.
t.test('--long-poll holds an event channel through the proxy, and catches a read timeout shorter than it', async (t) => {
  // The lab's Front End holds a P-GET at least 180 s, as a pool does; 4 s keeps the test short.
  const quick = (): LabConfig => {
    const config = labConfig()
    config.lab = { ...config.lab!, ucwa: { minEventTimeout: 4 } }
    return config
  }
  const lab = await start(t, quick())
  const held = await runProbe({ ...probeOptions(lab), longPollSeconds: 4 })
  const ok = row(held, 'long-poll', 'webext.contoso.com')
  t.equal(ok?.result, 'PASS', ok?.detail ?? 'no row')
  t.match(ok?.detail, /^the event channel was held [45] s \(timeout=4\) and answered 200$/)
  t.notOk(row(await runProbe(probeOptions(lab)), 'long-poll', 'webext.contoso.com'), 'no row without --long-poll')

  const config = quick()
  const longPoll = config.rules.find((r) => r.name === 'webext-longpoll')!
  longPoll.timeouts = { response: 2 }
  const short = await start(t, config)
  const cut = row(await runProbe({ ...probeOptions(short), longPollSeconds: 4 }), 'long-poll', 'webext.contoso.com')
  t.equal(cut?.result, 'FAIL', cut?.detail ?? 'no row')
  t.match(cut?.detail, /^after [23] s of timeout=4: 504/)
  t.match(cut?.cause, /response \(read\) timeout for \/ucwa is shorter than the event channel's.*960 s/)
})
