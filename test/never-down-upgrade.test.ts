// WebSocket tunnels when a peer goes at the wrong moment (issue 16 §1): every ending publishes exactly
// one record that says how the exchange ended, gives the member back, and closes both sockets: a
// client that resets before the upstream answered, a refusal whose client (or upstream) leaves
// mid-body, an upstream that resets after its 101, both sides closing at once, the idle timeout, and
// the proxy shutting down while an upgrade waits for its answer.
import net, { type AddressInfo, type Socket } from 'node:net'
import tls from 'node:tls'
import t, { type Test } from 'tap'
import type { Exchange } from '../src/observe/exchange.js'
import { DEAD_ADDRESS, deadPort, membersPool } from './helpers/pool.js'
import { pool, startTestProxy, testCertificates, type TestProxy } from './helpers/proxy.js'
import { openRaw, RawConnection, sleep } from './helpers/raw-client.js'

const HOST = 'webext.contoso.com'
const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'

function upgradeRequest (path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
}

async function until (check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await sleep(10)
  return check()
}

// One upstream connection as the test sees it: the path it was asked for and how it ended.
interface UpConn { path: string, socket: Socket, closed: boolean }

// A raw upstream: the request path decides what it does with the upgrade (see `behave`).
async function startUpgradeUpstream (behave: (path: string, socket: Socket) => void, cert?: { cert: string, key: string }): Promise<{ port: number, conns: UpConn[], close: () => Promise<void> }> {
  const conns: UpConn[] = []
  const onSocket = (socket: Socket): void => {
    socket.on('error', () => { /* the proxy resets as it sees fit */ })
    let head = ''
    const onData = (c: Buffer): void => {
      head += c.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      const path = head.split(' ')[1] ?? ''
      const conn: UpConn = { path, socket, closed: false }
      conns.push(conn)
      socket.on('close', () => { conn.closed = true })
      behave(path, socket)
    }
    socket.on('data', onData)
  }
  const server = cert === undefined ? net.createServer(onSocket) : tls.createServer(cert, onSocket)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    close: () => new Promise((resolve) => {
      for (const c of conns) c.socket.destroy()
      server.close(() => resolve())
    }),
  }
}

function records (p: TestProxy): Exchange[] {
  const seen: Exchange[] = []
  p.proxy.bus.subscribe((ex) => seen.push(ex))
  return seen
}

t.test('websocket tunnels end once, whoever leaves first', async (t) => {
  const up = await startUpgradeUpstream((path, socket) => {
    if (path.startsWith('/hold')) return
    if (path.startsWith('/decline')) {
      socket.write('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\npart of the refusal\n')
      if (path.startsWith('/decline-reset')) setTimeout(() => socket.resetAndDestroy(), 100)
      return
    }
    socket.write(SWITCH + 'welcome\n')
    if (path.startsWith('/accept-reset')) setTimeout(() => socket.resetAndDestroy(), 100)
    socket.on('data', (c: Buffer) => socket.write(c))
  })
  const p = await startTestProxy({
    pools: { ws: pool(up.port) },
    rules: [
      { name: 'ws-idle', publicNames: [HOST], paths: ['/idle'], action: 'forward', pool: 'ws', timeouts: { response: 1 } },
      { name: 'ws', publicNames: [HOST], action: 'forward', pool: 'ws' },
    ],
  })
  const seen = records(p)
  const clients: RawConnection[] = []
  t.teardown(async () => { for (const c of clients) c.destroy(); await p.close(); await up.close() })
  const member = (): { active: number, consecutiveFailures: number } => p.proxy.table().pools.get('ws')!.members[0]!
  const open = async (path: string): Promise<RawConnection> => {
    const c = await openRaw(p.httpPort)
    clients.push(c)
    c.write(upgradeRequest(path))
    return c
  }
  const upConn = async (path: string): Promise<UpConn> => {
    await until(() => up.conns.some((c) => c.path === path), 3000)
    return up.conns.find((c) => c.path === path)!
  }
  // Exactly one record for `path`, after the ending has had time to publish a second one.
  const onlyRecord = async (t: Test, path: string): Promise<Exchange | undefined> => {
    const mine = (): Exchange[] => seen.filter((e) => e.target === path)
    t.ok(await until(() => mine().length > 0, 3000), `${path}: recorded`)
    await sleep(200)
    t.equal(mine().length, 1, `${path}: exactly one record`)
    return mine()[0]
  }

  await t.test('the client resets before the upstream answered', async (t) => {
    const c = await open('/hold/reset')
    const u = await upConn('/hold/reset')
    t.equal(member().active, 1, 'the waiting upgrade counts against its member')
    c.socket.resetAndDestroy()
    const ex = await onlyRecord(t, '/hold/reset')
    t.equal(ex?.status, 499, 'nginx\'s status for a client that left before any answer')
    t.equal(ex?.error, 'client_aborted', 'the client left: not an upstream failure')
    t.equal(ex?.aborted, true)
    t.ok(await until(() => u.closed, 2000), 'the upstream connection is closed')
    t.equal(member().active, 0, 'the member is given back')
    t.equal(member().consecutiveFailures, 0, 'the member is not blamed for the client')
  })

  await t.test('a refusal whose client leaves mid-body', async (t) => {
    const c = await open('/decline/client-leaves')
    t.ok(await c.waitFor('part of the refusal', 3000), 'the refusal\'s head and part of its body arrive')
    const u = await upConn('/decline/client-leaves')
    c.socket.resetAndDestroy()
    const ex = await onlyRecord(t, '/decline/client-leaves')
    t.equal(ex?.status, 403, 'the status that went out')
    t.equal(ex?.upstreamStatus, 403)
    t.equal(ex?.error, 'client_aborted')
    t.equal(ex?.aborted, true)
    t.ok(await until(() => u.closed, 2000), 'the upstream connection is closed, not left to its timeout')
    t.equal(member().active, 0, 'the member is given back')
  })

  await t.test('a refusal whose upstream resets mid-body', async (t) => {
    const c = await open('/decline-reset/x')
    t.ok(await c.waitFor('part of the refusal', 3000))
    t.ok(await c.waitClose(3000), 'the client connection is closed')
    t.equal(c.how, 'error', 'with a reset: a FIN would look like a whole refusal')
    const ex = await onlyRecord(t, '/decline-reset/x')
    t.equal(ex?.status, 403)
    t.equal(ex?.error, 'upstream_truncated')
    t.equal(member().active, 0, 'the member is given back')
  })

  await t.test('the upstream resets after its 101', async (t) => {
    const c = await open('/accept-reset/x')
    t.ok(await c.waitFor('welcome', 3000), 'the tunnel is open')
    t.ok(await c.waitClose(3000), 'the client connection is closed')
    t.equal(c.how, 'error', 'with a reset, as the layer-4 frontends do')
    const ex = await onlyRecord(t, '/accept-reset/x')
    t.equal(ex?.status, 101)
    t.equal(ex?.error, 'upstream_aborted', 'the record says the member broke the tunnel')
    t.equal(member().active, 0, 'the member is given back')
  })

  await t.test('the client resets after the 101', async (t) => {
    const c = await open('/accept/client-resets')
    t.ok(await c.waitFor('welcome', 3000))
    t.equal(member().active, 1, 'an open tunnel counts against its member')
    const u = await upConn('/accept/client-resets')
    c.socket.resetAndDestroy()
    const ex = await onlyRecord(t, '/accept/client-resets')
    t.equal(ex?.status, 101)
    t.equal(ex?.error, 'client_aborted')
    t.ok(await until(() => u.closed, 2000), 'the upstream connection is closed')
    t.equal(member().active, 0, 'the member is given back')
  })

  await t.test('both sides close at once', async (t) => {
    const c = await open('/accept/both')
    t.ok(await c.waitFor('welcome', 3000))
    const u = await upConn('/accept/both')
    u.socket.destroy()
    c.socket.destroy()
    const ex = await onlyRecord(t, '/accept/both')
    t.equal(ex?.status, 101)
    t.equal(member().active, 0, 'the member is given back once')
  })

  await t.test('the idle timeout', async (t) => {
    const c = await open('/idle')
    t.ok(await c.waitFor('welcome', 3000))
    const u = await upConn('/idle')
    t.ok(await c.waitClose(3000), 'the idle tunnel is closed')
    const ex = await onlyRecord(t, '/idle')
    t.equal(ex?.status, 101)
    t.ok(await until(() => u.closed, 2000), 'the upstream connection is closed')
    t.equal(member().active, 0, 'the member is given back')
  })

  t.equal(member().active, 0, 'nothing left counted against the member')
})

t.test('shutting down while an upgrade waits for its answer leaves no upstream connection open', async (t) => {
  const up = await startUpgradeUpstream(() => { /* answers when the test says */ })
  const p = await startTestProxy({ pools: { ws: pool(up.port) }, rules: [{ name: 'ws', publicNames: [HOST], action: 'forward', pool: 'ws' }] })
  const seen = records(p)
  t.teardown(async () => { await up.close() })
  const c = await openRaw(p.httpPort)
  c.write(upgradeRequest('/late'))
  t.ok(await until(() => up.conns.length === 1, 3000), 'the upstream holds the upgrade')
  await p.close()
  t.ok(await c.waitClose(2000), 'the proxy closed the client connection')
  // The upgrade must go with its client. Should it still be open, its answer arrives once the proxy
  // has seen the client go: nothing may be tunnelled to nobody.
  const u = up.conns[0]!
  await sleep(100)
  if (!u.closed) u.socket.write(SWITCH + 'too late\n')
  t.ok(await until(() => u.closed, 2000), 'the upstream connection is closed')
  t.equal(seen.filter((e) => e.target === '/late').length, 1, 'one record')
  t.equal(seen[0]?.error, 'client_aborted')
})

t.test('an upgrade whose upstream does not answer gets the rule\'s response timeout, not the connect timeout', async (t) => {
  const up = await startUpgradeUpstream(() => { /* never answers */ })
  const p = await startTestProxy({
    pools: { ws: pool(up.port) },
    rules: [{ name: 'ws', publicNames: [HOST], action: 'forward', pool: 'ws', timeouts: { connect: 5, response: 1 } }],
  })
  const seen = records(p)
  t.teardown(async () => { await p.close(); await up.close() })
  const c = await openRaw(p.httpPort)
  const started = performance.now()
  c.write(upgradeRequest('/silent'))
  t.ok(await c.waitFor('\r\n\r\n', 4000), 'an answer')
  const elapsed = performance.now() - started
  t.match(c.text, /^HTTP\/1\.1 504 /, '504')
  t.match(c.text, /X-Lyncproxy-Error: upstream_timeout/, 'upstream_timeout, as a forwarded request would get')
  t.ok(elapsed >= 900 && elapsed < 3000, `after ${Math.round(elapsed)} ms, the rule's 1 s`)
  t.ok(await until(() => up.conns[0]?.closed === true, 2000), 'the upstream connection is closed')
  t.ok(await until(() => seen.length === 1, 2000), 'one record')
  t.equal(seen[0]?.error, 'upstream_timeout')
  t.equal(p.proxy.table().pools.get('ws')!.members[0]!.active, 0, 'the member is given back')
})

t.test('a refused upgrade counts against its member, and a client that keeps its side open does not keep the connection', async (t) => {
  const dead = await deadPort()
  const p = await startTestProxy({
    pools: { x: membersPool([{ port: dead, address: DEAD_ADDRESS }], { passive: { failures: 1, backoff: 30 } }) },
    rules: [{ name: 'ws', publicNames: [HOST], action: 'forward', pool: 'x' }],
  })
  const seen = records(p)
  t.teardown(async () => { await p.close() })
  // A half-open client: it has read the answer and would keep the connection for ever.
  const c = await new Promise<RawConnection>((resolve, reject) => {
    const s = net.connect({ port: p.httpPort, host: '127.0.0.1', allowHalfOpen: true })
    s.once('error', reject)
    s.once('connect', () => resolve(new RawConnection(s)))
  })
  c.write(upgradeRequest('/refused'))
  t.ok(await c.waitFor('upstream_refused', 3000), 'the client gets the refusal')
  const connections = async (): Promise<number> => (await p.proxy.listenerStatus()).find((l) => l.name === 'external-http')!.connections
  t.ok(await until(() => c.how === 'end', 1000), 'after a FIN')
  let open = 1
  for (let i = 0; i < 20 && open > 0; i++) { open = await connections(); if (open > 0) await sleep(50) }
  t.equal(open, 0, 'the proxy closed its side of the connection itself')
  t.ok(await until(() => seen.length === 1, 2000), 'one record')
  t.equal(seen[0]?.status, 502)
  const m = p.proxy.table().pools.get('x')!.members[0]!
  t.ok(m.ejectedUntil > Date.now(), 'the refusing member is ejected (passive health), as for a forwarded request')
  t.equal(m.active, 0, 'the member is given back')
})

t.test('over TLS: an upstream that resets after its 101 closes the client without taking the proxy down', async (t) => {
  const certs = await testCertificates()
  // A TLS member, as the 443 → 4443 bridge reaches it; the reset is of its TCP connection.
  const up = await startUpgradeUpstream((_path, socket) => {
    socket.write(SWITCH + 'welcome\n')
    setTimeout(() => (socket as tls.TLSSocket & { _parent?: Socket })._parent?.resetAndDestroy(), 100)
  }, certs.internal.get('fe'))
  const p = await startTestProxy({ pools: { ws: pool(up.port) }, rules: [{ name: 'ws', publicNames: [HOST], action: 'forward', pool: 'ws' }] })
  const seen = records(p)
  t.teardown(async () => { await p.close(); await up.close() })
  for (let i = 0; i < 3; i++) {
    const c = await openRaw(p.httpsPort, { tls: { ca: certs.caPem, servername: HOST } })
    c.write(upgradeRequest(`/tls/${i}`))
    t.ok(await c.waitFor('welcome', 3000), 'the tunnel is open')
    t.ok(await c.waitClose(3000), 'the client connection is closed')
  }
  t.ok(await until(() => seen.length === 3, 2000), 'three records')
  t.same(seen.map((e) => e.error), ['upstream_aborted', 'upstream_aborted', 'upstream_aborted'])
  t.equal(p.proxy.table().pools.get('ws')!.members[0]!.active, 0)
  const tlsCheck = tls.connect({ port: p.httpsPort, host: '127.0.0.1', ca: certs.caPem, servername: HOST })
  await new Promise<void>((resolve, reject) => { tlsCheck.once('secureConnect', resolve); tlsCheck.once('error', reject) })
  tlsCheck.destroy()
  t.pass('the proxy still accepts connections')
})
