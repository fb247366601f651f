// Every server lyncproxy starts reports a failed listen the same way: a coded LRP_ERR_LISTEN_* line
// that names the server, the address:port, what holds it or why, and the setting to change, and
// exit status 4 — never "internal error" with a stack. Real sockets: a net server on 127.x holds a
// port, and 192.0.2.1 (TEST-NET-1, on no interface here) cannot be bound. An unprivileged user
// cannot bind below 1024: `lyncproxy start` says so, and the lab moves those ports up instead. The CLI runs as a child process (test/helpers/cli.ts).
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { loadConfigFile } from '../src/config/load.js'
import { labCertificateRequest } from '../src/control/lab-cert-request.js'
import { listenError, listenErrno, LyncProxyError } from '../src/errors.js'
import { withFreshPortsOnClash } from '../src/lab/port-clash.js'
import { canBindPrivilegedPorts } from '../src/lab/unprivileged-ports.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { CliProcess, runCli, withoutPrivilege, type CliResult } from './helpers/cli.js'
import { freePort } from './helpers/ports.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-startup-listen-'))
// The unprivileged run reads the configs and creates its own lab certificates here.
fs.chmodSync(dir, 0o777)
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

function write (name: string, text: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text, { mode: 0o644 })
  return file
}

function hold (address: string, port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(port, address, () => resolve(server))
  })
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port
const close = (s: net.Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()))
const canBind = (address: string, port: number): Promise<boolean> => hold(address, port).then(async (s) => { await close(s); return true }, () => false)

// One line on stderr, exit 4, nothing that looks like a crash.
function assertListenFailure (t: Test, r: CliResult, code: string): string {
  t.equal(r.code, 4, `exit 4${r.code === 4 ? '' : ': ' + r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  t.equal(lines.length, 1, `one line${lines.length === 1 ? '' : ': ' + r.stderr}`)
  t.notMatch(r.stderr, /internal error|\n\s+at /, 'no stack')
  const line = lines[0] ?? ''
  t.match(line, new RegExp(`^${code}: `))
  t.match(line, /\. Fix: \S/, 'with a fix')
  return line
}

const HTTP_ONLY = (o: { address?: string, port: number, tcp?: string }): string => `admin:
  enabled: false
listeners:
  - name: external-http
    protocol: http
    address: ${o.address ?? '127.0.0.1'}
    port: ${o.port}
pools:
  fe:
    fqdn: pool01.contoso.net
    kind: members
    members:
      - { name: fe01, address: 127.0.0.1 }
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
${o.tcp ?? ''}`

// A small lab: one Front End server (internal sites on 80/443, external on the given ports), an
// Office Web Apps farm, and a layer-4 frontend whose echo servers stand in for the pool's SIP ports.
// Each case gets its own 127.77.N.x addresses, so that the fixed ports of parallel cases never meet.
interface LabOptions { net: number, feAddress?: string, feHttp?: number, feHttps?: number, owas?: boolean, echoPort?: number, httpPort?: number }
function labConfig (o: LabOptions, certsDir: string): string {
  const base = `127.77.${o.net}`
  return `admin:
  enabled: false
certs:
  dir: ${JSON.stringify(certsDir)}
listeners:
  - name: external-http
    protocol: http
    address: 127.0.0.1
    port: ${o.httpPort ?? 0}
  - name: external-https
    protocol: https
    address: 127.0.0.1
    port: 0
    certificates:
      - lab: true
pools:
  fe:
    role: frontend
    kind: members
    fqdn: pool01.contoso.net
    externalWebFqdn: webext.contoso.com
    members:
      - name: fe01
        address: ${o.feAddress ?? base + '.11'}
    httpPort: ${o.feHttp ?? 0}
    httpsPort: ${o.feHttps ?? 0}
    tls:
      ca: [lab]
  owas:
    role: owas
    fqdn: owas01.contoso.net
    externalWebFqdn: officewebapps01.contoso.com
    address: ${base}.3
    httpPort: 80
    httpsPort: 443
    tls:
      ca: [lab]
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
  - name: office-web-apps
    publicNames: [officewebapps01.contoso.com]
    action: forward
    pool: owas
lab:
  sipDomain: contoso.com
  servers:
    - { name: fe01, pool: fe }
${o.owas === false ? '' : '    - { name: owas01, pool: owas }\n'}${o.echoPort === undefined
    ? ''
    : `tcp:
  - { name: sip, address: 127.0.0.1, port: 0, pool: fe, targetPort: ${o.echoPort} }
`}`
}

// Made once, in this process, for every lab case: the runs then only read them, so that parallel
// runs never mint certificates into one directory at the same time.
const labCerts = path.join(dir, 'certs')
async function labFile (name: string, o: LabOptions): Promise<string> {
  const file = write(name, labConfig(o, labCerts))
  const loaded = await loadConfigFile(file)
  await ensureLabCertificates(labCertificateRequest(loaded.config))
  return file
}

t.test('listenError: one mapping for every errno, with the holder when this machine can tell', async (t) => {
  const holder = await hold('127.0.0.1')
  t.teardown(() => close(holder))
  const second = net.createServer()
  const inUse = await new Promise<NodeJS.ErrnoException>((resolve) => { second.once('error', resolve); second.listen(portOf(holder), '127.0.0.1') })
  const site = { what: 'test server', address: '127.0.0.1', port: portOf(holder), portSetting: 'change test.port', addressSetting: 'change test.address' }
  const e = listenError(inUse, site)
  t.equal(e.code, 'LRP_ERR_LISTEN_IN_USE')
  t.equal(e.exitCode, 4)
  t.equal(e.cause, inUse, 'keeps the system error as its cause')
  t.match(e.message, `test server cannot listen on 127.0.0.1:${portOf(holder)}: the port is already in use, held by this lyncproxy process (pid ${process.pid})`)
  t.equal(e.fix, 'stop that program, or change test.port')
  t.equal(listenErrno(e), 'EADDRINUSE', 'the errno is still there inside the coded error')
  t.equal(listenError(e, site).message, e.message, 'a coded error maps again from its cause')

  // A wildcard socket holds the port on every address.
  const wildcard = await hold('0.0.0.0')
  t.teardown(() => close(wildcard))
  const fake = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
  t.match(listenError(fake, { ...site, address: '127.0.0.5', port: portOf(wildcard) }).message, `held by this lyncproxy process (pid ${process.pid})`)

  const refused = listenError(Object.assign(new Error('listen EACCES'), { code: 'EACCES' }), { ...site, port: 80 })
  t.equal(refused.code, 'LRP_ERR_LISTEN_PRIVILEGED')
  t.match(refused.message, 'ports below 1024 need privilege')
  t.match(refused.fix, /^run as root, grant CAP_NET_BIND_SERVICE .*, or use a port from 1024 up: change test\.port$/)
  const policy = listenError(Object.assign(new Error('listen EACCES'), { code: 'EACCES' }), { ...site, port: 8080 })
  t.equal(policy.code, 'LRP_ERR_LISTEN_PRIVILEGED')
  t.match(policy.message, 'although the port is not privileged')

  const nowhere = net.createServer()
  const notAvail = await new Promise<NodeJS.ErrnoException>((resolve) => { nowhere.once('error', resolve); nowhere.listen(0, '192.0.2.1') })
  const a = listenError(notAvail, { ...site, address: '192.0.2.1', port: 0 })
  t.equal(a.code, 'LRP_ERR_LISTEN_ADDRESS')
  t.match(a.message, /192\.0\.2\.1 is not an address of this machine \(it has .*127\.0\.0\.1/)
  t.equal(a.fix, 'use an address this machine owns: change test.address')
  // macOS: only 127.0.0.1 is on lo0, so a lab server's own loopback address is missing there.
  const alias = listenError(Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' }), { ...site, address: '127.0.1.2', port: 80 })
  t.equal(alias.code, 'LRP_ERR_LISTEN_ADDRESS')
  t.equal(alias.fix, 'add it to the loopback interface (macOS: sudo ifconfig lo0 alias 127.0.1.2 up; docs/platforms.md lists the lab\'s addresses), or use an address this machine owns: change test.address')

  const unresolved = listenError(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), { ...site, address: 'proxy.invalid' })
  t.equal(unresolved.code, 'LRP_ERR_LISTEN_ADDRESS')
  t.match(unresolved.message, 'the host name proxy.invalid does not resolve')

  t.equal(listenErrno(new Error('no code')), undefined)
})

t.test('the lab retries a clash inside a stand-in\'s coded error, and reports it when it persists', async (t) => {
  let calls = 0
  const coded = new LyncProxyError('LRP_ERR_LISTEN_IN_USE', 'taken', { cause: Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }) })
  await t.rejects(withFreshPortsOnClash(true, async () => { calls++; throw coded }), coded)
  t.equal(calls, 5, 'retried as a clash, five tries')
})

t.test('start: a listener or tcp frontend whose port is taken, an address not on this machine', async (t) => {
  const holder = await hold('127.0.0.1')
  t.teardown(() => close(holder))
  const busy = portOf(holder)
  const free = await freePort()
  const [listener, frontend, address] = await Promise.all([
    runCli(['start', '-c', write('busy.yaml', HTTP_ONLY({ port: busy }))]),
    runCli(['start', '-c', write('tcp-busy.yaml', HTTP_ONLY({ port: free, tcp: `tcp:\n  - { name: sip, address: 127.0.0.1, port: ${busy}, pool: fe }\n` }))]),
    runCli(['start', '-c', write('nowhere.yaml', HTTP_ONLY({ address: '192.0.2.1', port: free }))]),
  ])

  let line = assertListenFailure(t, listener, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `busy.yaml at /listeners/external-http: listener external-http cannot listen on 127.0.0.1:${busy}: the port is already in use`)
  t.match(line, `held by pid ${process.pid} (`, 'names the process that holds the port')
  t.match(line, /Fix: stop that program, or set LYNCPROXY_HTTP_PORT \/ LYNCPROXY_HTTPS_PORT .*, or change the port: of listener external-http in \S*busy\.yaml$/)

  line = assertListenFailure(t, frontend, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `tcp frontend sip cannot listen on 127.0.0.1:${busy}: the port is already in use, held by pid ${process.pid}`)
  t.match(line, /Fix: stop that program, or change the port: of tcp frontend sip in \S*tcp-busy\.yaml$/)
  t.notMatch(line, 'LYNCPROXY_HTTP_PORT', 'the port variables do not move a tcp frontend')
  t.ok(await canBind('127.0.0.1', free), 'the listener bound before the failure is free again')

  line = assertListenFailure(t, address, 'LRP_ERR_LISTEN_ADDRESS')
  t.match(line, `listener external-http cannot listen on 192.0.2.1:${free}: 192.0.2.1 is not an address of this machine (it has `)
  t.match(line, /Fix: use an address this machine owns: change the address: of listener external-http in \S*nowhere\.yaml$/)
})

// The stand-ins' internal sites and the Office Web Apps farm listen on 80/443.
// Asked of the system, as the lab asks it: root in a container may lack CAP_NET_BIND_SERVICE.
const privileged = await canBindPrivilegedPorts()
t.test('lab: stand-ins, their internal sites, echo servers and the proxy\'s listeners', { skip: privileged ? false : 'needs the privilege to bind ports below 1024: the stand-ins listen on 80 and 443' }, async (t) => {
  const feExternal = await hold('127.77.1.11')
  const feInternal = await hold('127.77.2.11', 443)
  const echo = await hold('127.77.3.11')
  const proxyPort = await hold('127.0.0.1')
  const standinExternal = await hold('127.77.7.11')
  t.teardown(() => Promise.all([feExternal, feInternal, echo, proxyPort, standinExternal].map(close)))
  const files = await Promise.all([
    labFile('lab-external.yaml', { net: 1, feHttps: portOf(feExternal) }),
    labFile('lab-internal.yaml', { net: 2 }),
    labFile('lab-echo.yaml', { net: 3, echoPort: portOf(echo) }),
    labFile('lab-listener.yaml', { net: 4, httpPort: portOf(proxyPort) }),
    labFile('lab-nowhere.yaml', { net: 5, feAddress: '192.0.2.1' }),
  ])
  const standin = await labFile('standin.yaml', { net: 7, feHttps: portOf(standinExternal) })
  const [external, internal, echoes, listener, nowhere, alone] = await Promise.all([
    ...files.map((f) => runCli(['lab', '-c', f], { timeoutMs: 90_000 })),
    runCli(['standin', '--server', 'fe01', '-c', standin], { timeoutMs: 90_000 }),
  ])

  let line = assertListenFailure(t, external!, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `lab-external.yaml at /pools/fe/members/0: stand-in fe01 (Front End, external https site) cannot listen on 127.77.1.11:${portOf(feExternal)}: the port is already in use, held by pid ${process.pid}`)
  t.match(line, /Fix: stop that program, or change httpsPort: of pool fe, or give member fe01 its own, in \S*lab-external\.yaml$/)

  line = assertListenFailure(t, internal!, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, 'stand-in fe01 (Front End, internal https site) cannot listen on 127.77.2.11:443: the port is already in use')
  t.match(line, /Fix: stop that program, or the internal sites of a Front End stand-in always use ports 80 and 443, so give the server an address of its own: change the address: of member fe01 of pool fe in /)

  line = assertListenFailure(t, echoes!, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `echo server fe01 (the lab's stand-in behind tcp frontend sip) cannot listen on 127.77.3.11:${portOf(echo)}: the port is already in use, held by pid ${process.pid}`)
  t.match(line, /Fix: stop that program, or change targetPort: of tcp frontend sip \(its port: when unset\) in /)

  line = assertListenFailure(t, listener!, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `listener external-http cannot listen on 127.0.0.1:${portOf(proxyPort)}: the port is already in use, held by pid ${process.pid}`)
  t.match(line, 'LYNCPROXY_HTTP_PORT')
  t.equal(listener!.stdout, '', 'no banner: the lab did not start')

  line = assertListenFailure(t, nowhere!, 'LRP_ERR_LISTEN_ADDRESS')
  t.match(line, /stand-in fe01 \(Front End, internal http site\) cannot listen on 192\.0\.2\.1:80: 192\.0\.2\.1 is not an address of this machine/)
  t.match(line, /Fix: use an address this machine owns: change the address: of member fe01 of pool fe in /)

  line = assertListenFailure(t, alone!, 'LRP_ERR_LISTEN_IN_USE')
  t.match(line, `standin.yaml at /pools/fe/members/0: stand-in fe01 (Front End, external https site) cannot listen on 127.77.7.11:${portOf(standinExternal)}`, 'lyncproxy standin reports it the same way')
})

const dropPrivileges = withoutPrivilege(80)

t.test('lab without privilege: the ports below 1024 move up together, and requests still reach the servers', { skip: 'skip' in dropPrivileges ? dropPrivileges.skip : false }, async (t) => {
  if ('skip' in dropPrivileges) return
  // Its own certificate directory, which the unprivileged user creates (the shared one is root's).
  const certsDir = path.join(dir, 'certs-unprivileged')
  const file = write('lab-unprivileged.yaml', labConfig({ net: 6 }, certsDir))
  // A fault from the command line, and the console: a reload must keep both the moved ports and the fault.
  const lab = new CliProcess(['lab', '-c', file, '--console', '--fault', 'webext:abort=418'], { prefix: dropPrivileges.prefix, timeoutMs: 120_000, stdin: true })
  t.teardown(async () => { lab.kill('SIGKILL'); await lab.exited })
  const ready = await lab.waitFor(/Ctrl-C stops the lab/, 90_000)
  t.ok(ready, `the lab starts without privilege${ready === undefined ? ': ' + lab.output : ''}`)
  if (ready === undefined) return
  // Office Web Apps' 80/443 and the Front End's internal IIS sites (always 80/443) moved by 10000.
  t.match(lab.stdout, /owas01\s+external http:\/\/127\.77\.6\.3:10080, external https:\/\/127\.77\.6\.3:10443/)
  t.match(lab.stdout, /fe01\s+internal http:\/\/127\.77\.6\.11:10080, internal https:\/\/127\.77\.6\.11:10443/)
  t.match(lab.stdout, /note: not privileged to bind ports below 1024, so every lab port below 1024 moved up by 10000 \(80 → 10080, 443 → 10443\)/)
  const https = /external-https\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(lab.stdout)
  t.ok(https, 'the banner names the https listener\'s port')
  if (https === null) return
  const port = https[1]!
  // curl, as the banner's own lines do; the proxy must have forwarded to the moved port.
  const curl = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(certsDir, 'lab-ca.pem'),
    '--resolve', `officewebapps01.contoso.com:${port}:127.0.0.1`, `https://officewebapps01.contoso.com:${port}/hosting/discovery`], { encoding: 'utf8', timeout: 30_000 })
  t.equal(curl.status, 0, `curl ran: ${curl.stderr}`)
  t.equal(curl.stdout, '200', 'Office Web Apps answered its discovery document through the proxy')
  const logged = await lab.waitFor(/"path":"\/hosting\/discovery"[^\n]*"upstream":"127\.77\.6\.3:10443"|"upstream":"127\.77\.6\.3:10443"[^\n]*"path":"\/hosting\/discovery"/, 10_000)
  t.ok(logged, `the exchange went to owas01 on 10443: ${lab.stdout.split('\n').filter((l) => l.includes('discovery')).join('\n')}`)

  const webext = (): string => spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(certsDir, 'lab-ca.pem'),
    '--resolve', `webext.contoso.com:${port}:127.0.0.1`, `https://webext.contoso.com:${port}/`], { encoding: 'utf8', timeout: 30_000 }).stdout
  t.equal(webext(), '418', 'the fault from the command line')
  const mark = lab.output.length
  lab.type('reload')
  const reloaded = await lab.waitFor(/configuration reloaded|reload of [^\n]* failed[^\n]*/, 20_000, mark)
  t.match(reloaded?.[0] ?? '', 'configuration reloaded', `a reload of the file works with the ports moved: ${reloaded?.[0] ?? lab.output.slice(mark)}`)
  t.equal(webext(), '418', 'and keeps the fault')
  t.equal(spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(certsDir, 'lab-ca.pem'),
    '--resolve', `officewebapps01.contoso.com:${port}:127.0.0.1`, `https://officewebapps01.contoso.com:${port}/hosting/discovery`], { encoding: 'utf8', timeout: 30_000 }).stdout, '200', 'and the moved ports')
})
