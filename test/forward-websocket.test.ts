// WebSocket tunnelling over raw sockets: the upgrade reaches the upstream with the proxy's forwarding
// fields, the 101 and the bytes after it pass both ways, a refusal is relayed, and anything but
// `Upgrade: websocket` (h2c above all) or an unpublished name never reaches an upstream. Through a
// pool of two, a tunnel names and counts its member and reports the member's health.
import { createHash } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo, type Socket } from 'node:net'
import tls from 'node:tls'
import t from 'tap'
import type { Exchange } from '../src/observe/exchange.js'
import type { Member } from '../src/upstream/member.js'
import { DEAD_ADDRESS, deadPort, eventually, membersPool } from './helpers/pool.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'
import { headerValues, parseResponseHead } from './helpers/wire.js'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
const ACCEPT = createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')

// A masked client text frame and an unmasked server text frame (RFC 6455 §5), so the bytes in the
// tunnel are what a browser and IIS would exchange.
function clientFrame (text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
}

function serverFrame (text: string): Buffer {
  const payload = Buffer.from(text)
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload])
}

interface WsUpstream {
  port: number
  // The upgrade requests it received, and every byte each connection sent it.
  upgrades: Array<{ url: string, rawHeaders: string[], head: Buffer }>
  rawBytes: () => Buffer
  close: () => Promise<void>
}

// Accepts every upgrade with a 101, greets, then echoes each byte back.
async function startWsUpstream (cert?: { cert: string, key: string }): Promise<WsUpstream> {
  const upgrades: WsUpstream['upgrades'] = []
  const raw: Buffer[] = []
  const sockets = new Set<Socket>()
  const server = cert === undefined ? http.createServer() : https.createServer(cert)
  server.on(cert === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (c: Buffer) => raw.push(c))
  })
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', rawHeaders: req.rawHeaders, head })
    socket.on('error', () => { /* the proxy closes tunnels as it sees fit */ })
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
      'X-MS-Server-Fqdn: fe01.contoso.net\r\n\r\n')
    socket.write(serverFrame('welcome'))
    if (head.length > 0) socket.write(head)
    socket.on('data', (c: Buffer) => socket.write(c))
    // As IIS does: the peer's end of the stream ends the connection.
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    rawBytes: () => Buffer.concat(raw),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

// A raw client that reads what arrives and waits for what a test expects.
class RawClient {
  readonly socket: Socket
  private received = Buffer.alloc(0)
  closed = false
  private waiters: Array<() => void> = []

  constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (c: Buffer) => { this.received = Buffer.concat([this.received, c]); this.wake() })
    socket.on('close', () => { this.closed = true; this.wake() })
    socket.on('error', () => { /* seen as closed */ })
  }

  static connect (port: number, o?: { ca: string, servername: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = o === undefined ? net.connect(port, '127.0.0.1') : tls.connect({ port, host: '127.0.0.1', ca: o.ca, servername: o.servername })
      socket.once(o === undefined ? 'connect' : 'secureConnect', () => resolve(new RawClient(socket)))
      socket.once('error', reject)
    })
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  // Resolves once `done(received)` holds or the connection closes or `ms` pass; returns what arrived.
  async until (done: (received: Buffer) => boolean, ms = 2000): Promise<Buffer> {
    const deadline = Date.now() + ms
    while (!done(this.received) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.received
  }

  // The bytes after the response head, once the head has arrived.
  afterHead (): Buffer {
    const end = this.received.indexOf('\r\n\r\n')
    return end < 0 ? Buffer.alloc(0) : this.received.subarray(end + 4)
  }

  destroy (): void {
    this.socket.destroy()
  }
}

function upgradeRequest (host: string, path = '/ucwa/v1/applications/1/events', extra = ''): string {
  return `GET ${path} HTTP/1.1\r\n` +
    `Host: ${host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${KEY}\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    'X-Forwarded-For: 6.6.6.6\r\n' +
    extra + '\r\n'
}

function fields (raw: string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!)
  return out
}

function hasHead (b: Buffer): boolean {
  return b.includes('\r\n\r\n')
}

t.test('websocket upgrades', async (t) => {
  const certs = await testCertificates()
  const plainWs = await startWsUpstream()
  const secureWs = await startWsUpstream(certs.internal.get('fe'))
  const decline = await startUpstream((req, res) => {
    const status = req.url?.startsWith('/forbidden') === true ? 403 : 200
    res.writeHead(status, { 'Content-Type': 'text/plain', 'X-Declined': 'yes' })
    res.end(`no websocket here (${status})`)
  })
  const p = await startTestProxy({
    pools: { ws: pool(plainWs.port, { httpsPort: secureWs.port }), plain: pool(decline.port) },
    rules: [
      { name: 'declines', publicNames: ['webext.contoso.com'], paths: ['/forbidden', '/plain'], action: 'forward', pool: 'plain', listeners: ['external-http'] },
      { name: 'ws-idle', publicNames: ['webext.contoso.com'], paths: ['/idle'], action: 'forward', pool: 'ws', timeouts: { response: 1 } },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'ws' },
    ],
  })
  const clients: RawClient[] = []
  t.teardown(async () => {
    for (const c of clients) c.destroy()
    await p.close()
    await Promise.all([plainWs.close(), secureWs.close(), decline.close()])
  })
  const connect = async (listener: 'http' | 'https'): Promise<RawClient> => {
    const c = listener === 'http'
      ? await RawClient.connect(p.httpPort)
      : await RawClient.connect(p.httpsPort, { ca: certs.caPem, servername: 'webext.contoso.com' })
    clients.push(c)
    return c
  }
  const totalUpstreamTraffic = (): number => plainWs.rawBytes().length + secureWs.rawBytes().length + decline.rawBytes().length

  for (const [listener, upstream] of [['http', plainWs], ['https', secureWs]] as const) {
    await t.test(`${listener} listener: 101, then bytes both ways`, async (t) => {
      const before = upstream.upgrades.length
      const c = await connect(listener)
      c.socket.write(upgradeRequest('WebExt.Contoso.com'))
      await c.until((b) => hasHead(b) && b.includes('welcome'))
      const head = parseResponseHead((await c.until(hasHead)).toString('latin1'))
      t.equal(head.status, 101, 'the client receives 101')
      t.same(headerValues(head.lines, 'upgrade'), ['websocket'])
      t.same(headerValues(head.lines, 'connection'), ['Upgrade'])
      t.same(headerValues(head.lines, 'sec-websocket-accept'), [ACCEPT], 'the upstream\'s accept key is relayed')
      t.same(headerValues(head.lines, 'x-ms-server-fqdn'), ['fe01.contoso.net'])
      t.same(c.afterHead(), serverFrame('welcome'), 'the upstream\'s first frame arrives after the head')

      t.equal(upstream.upgrades.length, before + 1, 'the upstream received the upgrade')
      const up = upstream.upgrades.at(-1)!
      t.equal(up.url, '/ucwa/v1/applications/1/events')
      t.same(fields(up.rawHeaders, 'host'), ['WebExt.Contoso.com'], 'Host unchanged')
      t.same(fields(up.rawHeaders, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For is the proxy\'s own')
      t.same(fields(up.rawHeaders, 'x-forwarded-proto'), [listener])
      t.same(fields(up.rawHeaders, 'upgrade'), ['websocket'])
      t.same(fields(up.rawHeaders, 'connection'), ['Upgrade'])
      t.same(fields(up.rawHeaders, 'sec-websocket-key'), [KEY])
      t.same(fields(up.rawHeaders, 'sec-websocket-version'), ['13'])
      t.match(fields(up.rawHeaders, 'via').join(), /^1\.1 lyncproxy-[0-9a-f]{6}(\.[A-Za-z0-9-]+)?$/, 'the proxy\'s Via')

      const frame = clientFrame(`ping over ${listener}`)
      const already = c.afterHead().length
      c.socket.write(frame)
      await c.until(() => c.afterHead().length >= already + frame.length)
      t.same(c.afterHead().subarray(already), frame, 'the echo comes back through the tunnel byte for byte')
      t.ok(upstream.rawBytes().includes(frame), 'the upstream received the frame byte for byte')
      t.notOk(c.closed, 'the tunnel stays open')
    })
  }

  await t.test('bytes sent with the upgrade request wait for the 101', async (t) => {
    const c = await connect('http')
    const early = clientFrame('sent with the request')
    c.socket.write(Buffer.concat([Buffer.from(upgradeRequest('webext.contoso.com')), early]))
    await c.until(() => c.afterHead().includes(early))
    const up = plainWs.upgrades.at(-1)!
    t.same(up.head, Buffer.alloc(0), 'nothing reached the upstream before it accepted the upgrade')
    t.equal(parseResponseHead((await c.until(hasHead)).toString('latin1')).status, 101)
    t.ok(c.afterHead().includes(early), 'after the 101 they are delivered (and echoed)')
  })

  await t.test('an idle tunnel is closed after the rule\'s timeout', async (t) => {
    const c = await connect('http')
    const started = Date.now()
    c.socket.write(upgradeRequest('webext.contoso.com', '/idle'))
    await c.until((b) => b.includes('welcome'))
    t.equal(parseResponseHead((await c.until(hasHead)).toString('latin1')).status, 101)
    await c.until(() => false, 3000)
    const elapsed = Date.now() - started
    t.ok(c.closed, 'closed')
    t.ok(elapsed >= 900 && elapsed < 2500, `after ${elapsed} ms, the rule's 1 s`)
  })

  await t.test('an upstream that declines is relayed', async (t) => {
    for (const [path, status] of [['/forbidden/x', 403], ['/plain/x', 200]] as const) {
      const before = decline.requests.length
      const c = await connect('http')
      const early = clientFrame('must not leak')
      c.socket.write(Buffer.concat([Buffer.from(upgradeRequest('webext.contoso.com', path)), early]))
      const got = (await c.until(() => false, 1500)).toString('latin1')
      const head = parseResponseHead(got)
      t.equal(head.status, status, `${path}: the upstream's ${status} is relayed`)
      t.same(headerValues(head.lines, 'x-declined'), ['yes'], 'with its headers')
      t.match(head.body, `no websocket here (${status})`, 'and its body')
      t.same(headerValues(head.lines, 'upgrade'), [], 'no Upgrade in a refusal')
      t.ok(c.closed, 'and the connection is closed')
      t.equal(decline.requests.length, before + 1)
      t.same(fields(decline.requests.at(-1)!.rawHeaders, 'x-forwarded-for'), ['127.0.0.1'])
      t.notOk(decline.rawBytes().includes(early.toString('latin1')), 'bytes sent after the request never reached the upstream')
    }
  })

  await t.test('refused at the edge, never forwarded', async (t) => {
    const before = totalUpstreamTraffic()
    let c = await connect('http')
    c.socket.write(
      'GET /ucwa HTTP/1.1\r\n' +
      'Host: webext.contoso.com\r\n' +
      'Connection: Upgrade, HTTP2-Settings\r\n' +
      'Upgrade: h2c\r\n' +
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n')
    let head = parseResponseHead((await c.until(() => false, 1000)).toString('latin1'))
    t.equal(head.status, 400, 'Upgrade: h2c → 400')
    t.same(headerValues(head.lines, 'x-lyncproxy-error'), ['upgrade_refused'])
    t.ok(c.closed)

    c = await connect('http')
    c.socket.write(upgradeRequest('admin.contoso.com'))
    head = parseResponseHead((await c.until(() => false, 1000)).toString('latin1'))
    t.equal(head.status, 404, 'an upgrade to an unpublished name → 404')
    t.same(headerValues(head.lines, 'x-lyncproxy-error'), ['not_published'])

    c = await connect('http')
    c.socket.write(upgradeRequest('webext.contoso.com', '/ucwa', 'X_Auth: 1\r\n'))
    head = parseResponseHead((await c.until(() => false, 1000)).toString('latin1'))
    t.equal(head.status, 400, 'a header name with "_" → 400 on an upgrade too')

    t.equal(totalUpstreamTraffic(), before, 'no upstream received a byte')
  })
})

// A tunnel is counted against its member and reports the member's health as a forwarded request
// does (forward/member-attempt.ts): the record names the member and where it went, a member that
// refuses the connection or answers 503 is ejected, and the next upgrades go to the other one.
t.test('upgrades through a pool of two: member accounting and passive health', async (t) => {
  const live = await startWsUpstream()
  const liveToo = await startWsUpstream()
  const dead = await deadPort()
  const unwell = await startUpstream((_req, res) => {
    res.writeHead(503, { 'Content-Type': 'text/plain' })
    res.end('unwell')
  })
  const passive = { passive: { failures: 1, backoff: 30 } }
  const p = await startTestProxy({
    pools: {
      refusing: membersPool([{ port: dead, address: DEAD_ADDRESS }, { port: live.port }], passive),
      answering503: membersPool([{ port: unwell.port }, { port: liveToo.port }], passive),
    },
    rules: [
      { name: 'unwell', publicNames: ['webext.contoso.com'], paths: ['/unwell'], action: 'forward', pool: 'answering503', listeners: ['external-http'] },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'refusing', listeners: ['external-http'] },
    ],
  })
  const seen: Exchange[] = []
  p.proxy.bus.subscribe((ex) => seen.push(ex))
  const clients: RawClient[] = []
  t.teardown(async () => {
    for (const c of clients) c.destroy()
    await p.close()
    await Promise.all([live.close(), liveToo.close(), unwell.close()])
  })
  const members = (name: string): Member[] => [...p.proxy.table().pools.get(name)!.members]
  const upgrade = async (path: string): Promise<{ c: RawClient, status: number, error: string[] }> => {
    const c = await RawClient.connect(p.httpPort)
    clients.push(c)
    c.socket.write(upgradeRequest('webext.contoso.com', path))
    const head = parseResponseHead((await c.until(hasHead)).toString('latin1'))
    return { c, status: head.status, error: headerValues(head.lines, 'x-lyncproxy-error') }
  }
  const recordOf = async (path: string): Promise<Exchange | undefined> => {
    await eventually(() => seen.some((e) => e.target === path), 3000)
    return seen.find((e) => e.target === path)
  }

  await t.test('a member that refuses the connection is ejected; the next upgrades avoid it', async (t) => {
    const [m1, m2] = members('refusing')
    const first = await upgrade('/ws/1')
    t.equal(first.status, 502, 'round-robin sent the first upgrade to the dead member: 502')
    t.same(first.error, ['upstream_refused'])
    const rec = await recordOf('/ws/1')
    t.equal(rec?.member, 'm1', 'the record names the member it went to')
    t.equal(rec?.upstream, `${DEAD_ADDRESS}:${dead}`, 'and the bridged address and port')
    t.ok(m1!.ejectedUntil > Date.now(), 'the refusing member is ejected (passive health)')
    t.equal(m1!.active, 0, 'and given back')

    const second = await upgrade('/ws/2')
    const third = await upgrade('/ws/3')
    t.same([second.status, third.status], [101, 101], 'both following upgrades are switched')
    t.equal(live.upgrades.length, 2, 'by the live member')
    t.equal(m2!.active, 2, 'each open tunnel counts against its member')
    t.equal(m1!.active, 0, 'nothing counts against the ejected one')
    second.c.destroy()
    third.c.destroy()
    for (const path of ['/ws/2', '/ws/3']) {
      const r = await recordOf(path)
      t.equal(r?.member, 'm2', `${path}: the record names the live member`)
      t.equal(r?.upstream, `127.0.0.1:${live.port}`, `${path}: and where it went`)
      t.equal(r?.status, 101)
    }
    t.ok(await eventually(() => m2!.active === 0, 2000), 'the closed tunnels are given back')
    t.equal(m2!.consecutiveFailures, 0, 'the member that switched is not blamed')
  })

  await t.test('a member that answers 503 to the upgrade is ejected; the next upgrade avoids it', async (t) => {
    const [m1, m2] = members('answering503')
    const first = await upgrade('/unwell/1')
    t.equal(first.status, 503, 'the refusal is relayed')
    const rec = await recordOf('/unwell/1')
    t.equal(rec?.member, 'm1')
    t.equal(rec?.upstream, `127.0.0.1:${unwell.port}`)
    t.ok(m1!.ejectedUntil > Date.now(), 'a 503 counts against the member, as for a forwarded request')
    const next = await upgrade('/unwell/2')
    t.equal(next.status, 101, 'the next upgrade goes to the other member')
    t.equal(liveToo.upgrades.length, 1)
    t.equal(m2!.active, 1)
    next.c.destroy()
    t.equal((await recordOf('/unwell/2'))?.member, 'm2')
    t.ok(await eventually(() => m1!.active === 0 && m2!.active === 0, 2000), 'both members given back')
  })
})
