// Faults injected on purpose (rules.<name>.fault), through real sockets: what the client gets, what
// the upstream received (or did not), and the exchange record's code. Then the same through the lab
// API's setFault, turned on and off on a running lab.
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startLab, startProxy, type FaultConfig, type RunningProxy } from '../src/index.js'
import { CliProcess, runCli } from './helpers/cli.js'

interface Upstream { port: number, requests: string[], closedEarly: number }

// An upstream that answers /body with 100 bytes, holds /hold open (a long poll), and counts the
// requests it received and the ones whose client went away before the answer.
async function upstream (t: Test): Promise<Upstream> {
  const state: Upstream = { port: 0, requests: [], closedEarly: 0 }
  const server = http.createServer((req, res) => {
    state.requests.push(req.url ?? '')
    res.on('close', () => { if (!res.writableFinished) state.closedEarly++ })
    if (req.url === '/hold') { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{'); return }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' })
    res.end('x'.repeat(100))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  state.port = (server.address() as net.AddressInfo).port
  return state
}

async function proxyWith (t: Test, up: Upstream, fault: FaultConfig): Promise<{ proxy: RunningProxy, port: number, records: Array<{ error: string, status: number, aborted: boolean }> }> {
  const proxy = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: up.port, httpsPort: up.port } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', fault }],
  })
  t.teardown(() => proxy.close(0))
  const records: Array<{ error: string, status: number, aborted: boolean }> = []
  proxy.bus.subscribe((ex) => { records.push({ error: ex.error, status: ex.status, aborted: ex.aborted }) })
  return { proxy, port: proxy.listeners[0]!.port, records }
}

interface Outcome { status?: number, body: string, error?: string, headers?: http.IncomingHttpHeaders, ms: number }

function get (port: number, urlPath: string, timeoutMs = 10_000): Promise<Outcome> {
  const started = performance.now()
  return new Promise((resolve) => {
    let body = ''
    let status: number | undefined
    let headers: http.IncomingHttpHeaders | undefined
    const done = (error?: string): void => { resolve({ ...(status === undefined ? {} : { status }), body, ...(error === undefined ? {} : { error }), ...(headers === undefined ? {} : { headers }), ms: performance.now() - started }) }
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host: 'webext.contoso.com' }, agent: false }, (res) => {
      status = res.statusCode
      headers = res.headers
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { done() })
      res.on('error', (err: NodeJS.ErrnoException) => { done(err.code ?? err.message) })
      res.on('aborted', () => { done('aborted') })
    })
    req.on('error', (err: NodeJS.ErrnoException) => { done(err.code ?? err.message) })
    req.setTimeout(timeoutMs, () => { req.destroy(); done('client_timeout') })
  })
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100))

t.test('abort: the rule\'s status instead of forwarding, nothing reaches the upstream', async (t) => {
  const up = await upstream(t)
  const { port, records } = await proxyWith(t, up, { abort: 503 })
  const r = await get(port, '/body')
  t.equal(r.status, 503)
  t.equal(r.headers?.['x-lyncproxy-error'], 'fault_abort')
  t.match(r.body, /fault injected on purpose/)
  t.same(up.requests, [], 'the upstream received nothing')
  await settle()
  t.match(records.at(-1), { error: 'fault_abort', status: 503 })
})

t.test('delay: the request goes on after the delay, whole', async (t) => {
  const up = await upstream(t)
  const { port } = await proxyWith(t, up, { delay: 0.4 })
  const r = await get(port, '/body')
  t.equal(r.status, 200)
  t.equal(r.body, 'x'.repeat(100))
  t.ok(r.ms >= 390, `held at least the delay (${Math.round(r.ms)} ms)`)
  t.same(up.requests, ['/body'])
})

t.test('reset: the client connection closes without an answer', async (t) => {
  const up = await upstream(t)
  const { port, records } = await proxyWith(t, up, { reset: true })
  const r = await get(port, '/body')
  t.equal(r.status, undefined, 'no status line')
  t.match(r.error, /ECONNRESET|socket hang up/)
  t.same(up.requests, [])
  await settle()
  t.match(records.at(-1), { error: 'fault_reset', aborted: true })
})

t.test('stall: no answer until the client gives up', async (t) => {
  const up = await upstream(t)
  const { port, records } = await proxyWith(t, up, { stall: true })
  const r = await get(port, '/body', 800)
  t.equal(r.error, 'client_timeout')
  t.same(up.requests, [], 'nothing was forwarded')
  await settle()
  t.match(records.at(-1), { error: 'fault_stall' })
})

t.test('truncateAfter: the body breaks off after the bytes allowed', async (t) => {
  const up = await upstream(t)
  const { port, records } = await proxyWith(t, up, { truncateAfter: 10 })
  const r = await get(port, '/body')
  t.equal(r.status, 200, 'the head went out')
  t.equal(r.body, 'x'.repeat(10), 'ten bytes of the hundred')
  t.ok(r.error !== undefined, `the client saw the break: ${r.error ?? ''}`)
  t.same(up.requests, ['/body'])
  await settle()
  t.match(records.at(-1), { error: 'fault_truncated', aborted: true })
})

t.test('cutAfter: a held response is cut, and the upstream sees its request end', async (t) => {
  const up = await upstream(t)
  const { port, records } = await proxyWith(t, up, { cutAfter: 0.3 })
  const r = await get(port, '/hold')
  t.equal(r.status, 200)
  t.equal(r.body, '{')
  t.ok(r.error !== undefined, `cut: ${r.error ?? ''}`)
  await settle()
  t.equal(up.closedEarly, 1, 'the upstream request was closed too')
  t.match(records.at(-1), { error: 'fault_cut', aborted: true })
  const quick = await get(port, '/body')
  t.equal(quick.body, 'x'.repeat(100), 'a response that ends in time is not cut')
})

t.test('percent: 0 never applies the fault', async (t) => {
  const up = await upstream(t)
  const { port } = await proxyWith(t, up, { abort: 500, percent: 0 })
  for (let i = 0; i < 5; i++) t.equal((await get(port, '/body')).status, 200)
  t.equal(up.requests.length, 5)
})

// The same faults on a WebSocket upgrade. The upstream answers 101, sends a frame of its own
// ("welcome", 9 bytes) and counts the upgrades that reached it; the client is a raw socket.
async function wsUpstream (t: Test): Promise<Upstream> {
  const state: Upstream = { port: 0, requests: [], closedEarly: 0 }
  const server = http.createServer()
  const tunnels = new Set<net.Socket>()
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    state.requests.push(req.url ?? '')
    tunnels.add(socket)
    socket.on('error', () => { /* the proxy closes tunnels as the fault says */ })
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
    socket.write(Buffer.from([0x81, 7, ...Buffer.from('welcome')]))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  // Upgraded sockets have left the HTTP server's bookkeeping: closeAllConnections does not see them.
  t.teardown(() => new Promise<void>((resolve) => { for (const s of tunnels) s.destroy(); server.closeAllConnections(); server.close(() => resolve()) }))
  state.port = (server.address() as net.AddressInfo).port
  return state
}

interface WsOutcome { bytes: Buffer, ended: 'closed' | 'reset' | 'still-open', ms: number, firstByteMs?: number }

// Sends an upgrade and collects what comes back until the proxy closes, or `waitMs` passes.
function upgrade (port: number, waitMs: number): Promise<WsOutcome> {
  const started = performance.now()
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1')
    let settled = false
    const finish = (ended: WsOutcome['ended']): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ bytes: Buffer.concat(chunks), ended, ms: performance.now() - started, ...(firstByteMs === undefined ? {} : { firstByteMs }) })
    }
    let firstByteMs: number | undefined
    const timer = setTimeout(() => finish('still-open'), waitMs)
    socket.on('data', (c: Buffer) => { firstByteMs ??= performance.now() - started; chunks.push(c) })
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? 'reset' : 'closed'))
    socket.on('close', () => finish('closed'))
    socket.write('GET /ws HTTP/1.1\r\nHost: webext.contoso.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  })
}
const SWITCHED = /^HTTP\/1\.1 101 /

t.test('faults on a WebSocket upgrade: abort, reset and stall never reach the upstream', async (t) => {
  const up = await wsUpstream(t)
  const abort = await proxyWith(t, up, { abort: 503 })
  const refused = await upgrade(abort.port, 5_000)
  t.match(refused.bytes.toString('latin1'), /^HTTP\/1\.1 503 /, 'abort: the status instead of the upgrade')
  t.equal(refused.ended, 'closed')

  const reset = await proxyWith(t, up, { reset: true })
  const cut = await upgrade(reset.port, 5_000)
  t.equal(cut.bytes.length, 0, 'reset: not a byte')
  t.not(cut.ended, 'still-open', 'and the connection is gone')

  const stall = await proxyWith(t, up, { stall: true })
  const waiting = await upgrade(stall.port, 400)
  t.same({ bytes: waiting.bytes.length, ended: waiting.ended }, { bytes: 0, ended: 'still-open' }, 'stall: no answer while the client waits')
  await settle()
  t.equal(up.requests.length, 0, 'none of the three reached the upstream')
  t.match(abort.records, [{ error: 'fault_abort', status: 503 }])
  t.match(reset.records, [{ error: 'fault_reset', aborted: true }])
  t.match(stall.records, [{ error: 'fault_stall' }], 'the stalled exchange is recorded once the client leaves')
})

t.test('faults on a WebSocket upgrade: delay, cutAfter and truncateAfter act on the tunnel', async (t) => {
  const up = await wsUpstream(t)
  const delay = await proxyWith(t, up, { delay: 0.3 })
  const late = await upgrade(delay.port, 1_500)
  t.match(late.bytes.toString('latin1'), SWITCHED, 'delay: switched')
  t.ok(late.firstByteMs! >= 280, `after the delay (${Math.round(late.firstByteMs!)} ms)`)
  t.equal(late.ended, 'still-open', 'and the tunnel stays open')

  const cutAfter = await proxyWith(t, up, { cutAfter: 0.4 })
  const held = await upgrade(cutAfter.port, 5_000)
  t.match(held.bytes.toString('latin1'), SWITCHED)
  t.ok(held.bytes.includes('welcome'), 'the frame came through before the cut')
  t.equal(held.ended, 'closed', 'cutAfter: the tunnel is closed')
  t.ok(held.ms >= 380, `no sooner than the cut (${Math.round(held.ms)} ms)`)

  const truncate = await proxyWith(t, up, { truncateAfter: 3 })
  const short = await upgrade(truncate.port, 5_000)
  const text = short.bytes.toString('latin1')
  t.match(text, SWITCHED, 'the 101 head whole')
  t.equal(short.bytes.length - (text.indexOf('\r\n\r\n') + 4), 3, 'then 3 bytes of the frame')
  t.equal(short.ended, 'closed')
  const none = await proxyWith(t, up, { truncateAfter: 0 })
  const headOnly = await upgrade(none.port, 5_000)
  t.equal(headOnly.bytes.length - (headOnly.bytes.toString('latin1').indexOf('\r\n\r\n') + 4), 0, 'truncateAfter 0: the head, then not a byte')
  t.equal(headOnly.ended, 'closed', 'and the connection is cut, not left waiting')
  await settle()
  t.equal(up.requests.length, 4, 'each of these reached the upstream')
  t.match(cutAfter.records, [{ error: 'fault_cut', aborted: true }])
  t.match(truncate.records, [{ error: 'fault_truncated', aborted: true }])
  t.match(none.records, [{ error: 'fault_truncated', aborted: true }])
})

t.test('the lab API: a fault turned on and off on a running lab', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-faults-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const lab = await startLab({ certsDir: path.join(work, 'certs'), faults: { webext: { abort: 502 } } })
  t.teardown(() => lab.close())
  const url = `${lab.urls['webext.contoso.com']!}/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com`
  const broken = await lab.fetch(url)
  t.equal(broken.status, 502, 'on from the start')
  t.equal(broken.headers.get('x-lyncproxy-error'), 'fault_abort')
  await broken.arrayBuffer()
  await lab.setFault('webext', undefined)
  const healed = await lab.fetch(url)
  t.equal(healed.status, 200, 'off again')
  t.equal(healed.headers.get('x-lab-member')?.startsWith('fe0'), true, 'answered by a Front End server')
  await healed.arrayBuffer()
  await lab.setFault('webext', { reset: true })
  await t.rejects(lab.fetch(url), 'reset')
  await t.rejects(lab.setFault('no-such-rule', { abort: 500 }), /the configuration has no rule no-such-rule/)
})

t.test('lyncproxy lab --fault: refused specs say why, and a valid one is served', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-fault-cli-'))
  fs.chmodSync(work, 0o777)
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  for (const [spec, message] of [
    ['webext', /no rule name, or no fault after it/],
    ['webext:abrt=503', /unknown field 'abrt': use percent, delay, abort/],
    ['webext:abort=99', /abort: Expected integer to be greater or equal to 200/],
    ['nosuchrule:reset', /the configuration has no rule nosuchrule\. Fix: use one of /],
  ] as const) {
    const r = await runCli(['lab', '--fault', spec])
    t.equal(r.code, 64, `${spec}: exit 64`)
    t.match(r.stderr, /^LRP_ERR_USAGE: /)
    t.match(r.stderr, message)
  }

  const file = path.join(work, 'lab.yaml')
  fs.writeFileSync(file, `admin:
  enabled: false
certs:
  dir: ${JSON.stringify(path.join(work, 'certs'))}
listeners:
  - { name: external-http, protocol: http, address: 127.0.0.1, port: 0, redirectToHttps: false }
pools:
  fe:
    role: frontend
    kind: members
    fqdn: pool01.contoso.net
    externalWebFqdn: webext.contoso.com
    members: [{ name: fe01, address: 127.77.9.11 }]
    httpPort: 0
    httpsPort: 0
rules:
  - { name: webext, publicNames: [webext.contoso.com], action: forward, pool: fe }
lab:
  sipDomain: contoso.com
  servers: [{ name: fe01, pool: fe }]
`)
  const lab = new CliProcess(['lab', '-c', file, '--fault', 'webext:abort=503'], { timeoutMs: 60_000 })
  t.teardown(async () => { lab.kill('SIGKILL'); await lab.exited })
  const ready = await lab.waitFor(/external-http\s+http:\/\/127\.0\.0\.1:(\d+)/, 45_000)
  t.ok(ready, `the lab started: ${lab.output}`)
  if (ready === undefined) return
  const r = await get(Number(ready[1]), '/Autodiscover/AutodiscoverService.svc/root')
  t.equal(r.status, 503)
  t.equal(r.headers?.['x-lyncproxy-error'], 'fault_abort', 'the fault from the command line is served')
})
