// The lab as shipped (config/lab.yaml): the Director pool sits behind lyncproxy acting as its HLB VIP.
// Through the reverse proxy, meet.contoso.com is answered by dir01 and dir02 in turn, per request;
// the VIP's internal listeners reach the servers' internal site; the layer-4 frontends pass TLS
// through to echo stand-ins that name themselves; and NTLM still works behind the members pool.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import pino from 'pino'
import t from 'tap'
import { deepFreeze, type ResolvedConfig } from '../src/config/defaults.js'
import { loadConfigFile } from '../src/config/load.js'
import { startLab, type RunningLab } from '../src/lab/run.js'
import { KeepAliveClient } from './helpers/pool.js'

const run = promisify(execFile)
const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-hlb-certs-'))

let lab: RunningLab
let caPem: string

t.before(async () => {
  const loaded = await loadConfigFile(path.join(REPO, 'config/lab.yaml'))
  // The repository's certs/ belongs to whoever runs the lab: this test issues its own.
  const config = deepFreeze({ ...structuredClone(loaded.config), certs: { dir: certsDir } }) as ResolvedConfig
  lab = await startLab({ ...loaded, config }, { logger: pino({ level: 'silent' }), ephemeralPorts: true })
  caPem = fs.readFileSync(path.join(certsDir, 'lab-ca.pem'), 'utf8')
})
t.teardown(async () => {
  await lab?.close()
  fs.rmSync(certsDir, { recursive: true, force: true })
})

function listener (name: string): { address: string, port: number } {
  const l = lab.proxy.listeners.find((x) => x.name === name)
  if (l === undefined) throw new Error(`no listener ${name}`)
  return l
}

function site (member: string, kind: 'internal' | 'external', protocol: 'http' | 'https'): number {
  const s = lab.standIns.find((x) => x.member === member)?.sites.find((x) => x.kind === kind && x.protocol === protocol)
  if (s === undefined) throw new Error(`no ${kind} ${protocol} site on ${member}`)
  return s.port
}

t.test('through the reverse proxy, meet.contoso.com alternates dir01/dir02 per request on one connection', async (t) => {
  const ext = listener('external-https')
  const client = new KeepAliveClient(ext.port, { ca: caPem, servername: 'meet.contoso.com' })
  t.teardown(() => client.close())
  const members: string[] = []
  const sockets = new Set<number>()
  for (let i = 0; i < 8; i++) {
    const r = await client.request('meet.contoso.com', '/meet/user1/ABC123')
    t.ok(r.status < 500, `answered (${r.status})`)
    const member = String(r.headers['x-lab-member'])
    t.ok(member === 'dir01' || member === 'dir02', `served by a Director (${member})`)
    t.equal(r.headers['x-lab-port'], String(site(member, 'external', 'https')), `${member} answered on its external HTTPS site (the 4443 one)`)
    members.push(member)
    sockets.add(r.localPort)
  }
  t.equal(sockets.size, 1, 'one client connection')
  for (let i = 1; i < members.length; i++) t.not(members[i], members[i - 1], `request ${i} went to the other Director`)
})

t.test('the VIP\'s internal listeners reach the servers\' internal site', async (t) => {
  const vip = listener('dir-vip-https')
  t.equal(vip.address, '127.0.1.2', 'the VIP address of lab.yaml')
  const client = new KeepAliveClient(vip.port, { ca: caPem, servername: 'dirpool.contoso.net' }, undefined, vip.address)
  t.teardown(() => client.close())
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const r = await client.request('dirpool.contoso.net', '/autodiscover/autodiscoverservice.svc/root')
    t.equal(r.status, 200)
    const member = String(r.headers['x-lab-member'])
    seen.add(member)
    t.equal(r.headers['x-lab-port'], String(site(member, 'internal', 'https')), `${member}: internal HTTPS site (the 443 one)`)
    t.match(r.body, /"AccessLocation"\s*:\s*"Internal"/, 'autodiscover says Internal')
  }
  t.same([...seen].sort(), ['dir01', 'dir02'], 'both servers behind the VIP')

  const http = listener('dir-vip-http')
  const plain = new KeepAliveClient(http.port, undefined, undefined, http.address)
  t.teardown(() => plain.close())
  const r = await plain.request('dirpool.contoso.net', '/autodiscover/autodiscoverservice.svc/root')
  t.equal(r.status, 200)
  t.equal(r.headers['x-lab-port'], String(site(String(r.headers['x-lab-member']), 'internal', 'http')), 'the VIP\'s port 80 reaches the internal HTTP site')

  const ext = listener('dir-vip-ext-https')
  const fromRp = new KeepAliveClient(ext.port, { ca: caPem, servername: 'dirpool.contoso.net' }, undefined, ext.address)
  t.teardown(() => fromRp.close())
  const e = await fromRp.request('webdirext.contoso.com', '/autodiscover/autodiscoverservice.svc/root')
  t.match(e.body, /"AccessLocation"\s*:\s*"External"/, 'and its 4443 the external site')
})

// What an internal client checks when it finds the pool by the automatic sign-in names: the VIP's
// web certificate and the SIP certificate behind 5061 must name them (Microsoft's certificate
// requirements for internal servers).
t.test('the Director\'s certificates name lyncdiscoverinternal, lyncdiscover and sip of the SIP domain', async (t) => {
  for (const [name, servername] of [['dir-vip-https', 'lyncdiscoverinternal.contoso.com'], ['dir-vip-https', 'lyncdiscover.contoso.com']] as const) {
    const vip = listener(name)
    const socket = tls.connect({ host: vip.address, port: vip.port, ca: caPem, servername })
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject) })
    t.ok(socket.authorized, `${name}: verifies against the lab CA`)
    t.equal(tls.checkServerIdentity(servername, socket.getPeerCertificate()), undefined, `${name}: the certificate names ${servername}`)
    socket.destroy()
  }
  const sip = lab.proxy.tcpFrontends.find((f) => f.name === 'dir-sip')!
  const socket = tls.connect({ host: sip.address, port: sip.port, ca: caPem, servername: 'sip.contoso.com' })
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject) })
  t.equal(tls.checkServerIdentity('sip.contoso.com', socket.getPeerCertificate()), undefined, 'the 5061 certificate names sip.contoso.com')
  socket.destroy()
})

t.test('layer-4 frontends pass TLS through to the servers, balanced', async (t) => {
  const frontends = lab.proxy.tcpFrontends
  t.same(frontends.map((f) => f.name).sort(), ['dir-444', 'dir-cls-50001', 'dir-cls-50002', 'dir-cls-50003', 'dir-sip'], 'every layer-4 row of the port summary exists')
  for (const f of frontends) {
    const target = lab.proxy.config().tcp.find((x) => x.name === f.name)!.targetPort
    const greeted: string[] = []
    for (let i = 0; i < (f.name === 'dir-sip' ? 4 : 2); i++) {
      const socket = tls.connect({ host: f.address, port: f.port, ca: caPem, servername: 'dirpool.contoso.net' })
      const text = await new Promise<string>((resolve, reject) => {
        let got = ''
        socket.once('secureConnect', () => {
          t.ok(socket.authorized, `${f.name}: the server certificate verifies for dirpool.contoso.net against the lab CA`)
          socket.write('PING\r\n')
        })
        socket.setEncoding('utf8').on('data', (s: string) => {
          got += s
          if (got.endsWith('PING\r\n')) socket.end()
        })
        socket.on('end', () => resolve(got))
        socket.on('error', reject)
      })
      const m = /^(dir0[12]) (\d+)\r\nPING\r\n$/.exec(text)
      t.ok(m, `${f.name}: greeting and echo (${JSON.stringify(text)})`)
      t.equal(Number(m?.[2]), target, `${f.name}: the server's own port for this frontend`)
      greeted.push(m?.[1] ?? '')
    }
    t.same([...new Set(greeted)].sort(), ['dir01', 'dir02'], `${f.name}: connections go to both servers`)
  }
})

// The seed sends CLS to each Director server, not to the VIP: every server's agent answers on the
// server's own address, which is where a CLS controller connects.
t.test('each Director server answers the CLS ports on its own address', async (t) => {
  for (const name of ['dir-cls-50001', 'dir-cls-50002', 'dir-cls-50003']) {
    const target = lab.proxy.config().tcp.find((x) => x.name === name)!.targetPort
    for (const [member, address] of [['dir01', '127.0.1.21'], ['dir02', '127.0.1.22']] as const) {
      const socket = tls.connect({ host: address, port: target, ca: caPem, servername: 'dirpool.contoso.net' })
      const greeting = await new Promise<string>((resolve, reject) => {
        socket.setEncoding('utf8').once('data', (s: string) => resolve(s))
        socket.once('error', reject)
      })
      socket.destroy()
      t.equal(greeting, `${member} ${target}\r\n`, `${name}: ${member} at ${address}:${target} is its own agent`)
    }
  }
})

const noCurl = fs.existsSync('/usr/bin/curl') || fs.existsSync('/usr/local/bin/curl') ? false : 'curl is not installed'

t.test('NTLM through the reverse proxy and the HLB members pool: curl --ntlm succeeds', { skip: noCurl }, async (t) => {
  const ext = listener('external-https')
  const caFile = path.join(certsDir, 'lab-ca.pem')
  const url = `https://webdirext.contoso.com:${ext.port}/WebTicket/WebTicketService.svc`
  for (let i = 0; i < 3; i++) {
    const { stdout } = await run('curl', ['-sS', '--ntlm', '-u', 'CONTOSO\\user1:Pass@word1', '--cacert', caFile,
      '--resolve', `webdirext.contoso.com:${ext.port}:127.0.0.1`, '-D', '-', url], { timeout: 15_000 })
    const statuses = [...stdout.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1])
    t.same(statuses, ['401', '200'], `attempt ${i}: challenge, then authenticated (${statuses.join(',')})`)
    const members = [...stdout.matchAll(/^x-lab-member: (\S+)/gim)].map((m) => m[1])
    t.equal(members.length, 2)
    t.equal(members[0], members[1], `attempt ${i}: the type-1 and type-3 messages reached the same Director (${members.join(',')})`)
    t.match(stdout, /authenticated as CONTOSO\\user1/i, 'the stand-in authenticated the user')
  }
})
