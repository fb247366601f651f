// Health of a `members` pool: active checks (Microsoft's HTTPS probe, TCP connects for layer 4) with
// fall and rise, 503 when nobody is healthy, passive ejection with a back-off, and the retry rule:
// once, on another member, for idempotent requests without a body whose connection was refused.
import net, { type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { Exchange } from '../src/observe/exchange.js'
import type { Member } from '../src/upstream/member.js'
import { request } from './helpers/client.js'
import { DEAD_ADDRESS, deadPort, eventually, KeepAliveClient, membersPool, startLoggedProxy, startServerAt, type LoggedProxy, type PlainServer, type SeenRequest } from './helpers/pool.js'
import { startTestProxy, testCertificates } from './helpers/proxy.js'
import { startRawUpstream } from './helpers/raw-upstream.js'

const HOST = 'webext.contoso.com'
const PROBE = '/autodiscover/autodiscoverservice.svc/root'
const INTERVAL = 0.2
const FALL = 3
const RISE = 2

const isProbe = (q: SeenRequest): boolean => q.url === PROBE
const traffic = (s: PlainServer): SeenRequest[] => s.requests.filter((q) => !isProbe(q))

// Two HTTPS members answering the probe with status[i]; other paths answer 200 naming the member.
async function healthSetup (t: Test, extraPool: Record<string, unknown> = {}): Promise<{ p: LoggedProxy, servers: PlainServer[], status: number[], startMember: (i: number, port: number) => Promise<PlainServer>, member: (i: number) => Member }> {
  const certs = await testCertificates()
  const fe = certs.internal.get('fe')!
  const status = [200, 200]
  const servers: PlainServer[] = []
  const startMember = (i: number, port: number): Promise<PlainServer> => startServerAt({
    port,
    tls: fe,
    handler: (req, res) => {
      if (req.url === PROBE) { res.writeHead(status[i]!); res.end(); return }
      res.writeHead(200, { 'X-Member': String(i) })
      res.end(`member ${i}`)
    },
  })
  servers.push(await startMember(0, 0), await startMember(1, 0))
  const p = await startLoggedProxy({
    pools: { x: membersPool(servers, { health: { check: 'http', interval: INTERVAL, timeout: 0.5, rise: RISE, fall: FALL }, tls: { ca: ['lab'] }, ...extraPool }) },
    rules: [{ name: 'all', publicNames: [HOST], action: 'forward', pool: 'x', listeners: ['external-https'] }],
  })
  t.teardown(async () => { await p.close(); for (const s of servers) await s.close() })
  const member = (i: number): Member => p.proxy.table().pools.get('x')!.members[i]!
  return { p, servers, status, startMember, member }
}

t.test('active HTTPS checks: Microsoft\'s probe, down after fall failures, up after rise successes', async (t) => {
  const { p, servers, status, member } = await healthSetup(t)
  const client = new KeepAliveClient(p.httpsPort, { ca: p.certs.caPem, servername: HOST })
  t.teardown(() => client.close())

  t.ok(await eventually(() => servers.every((s) => s.requests.filter(isProbe).length >= 2)), 'both members are probed')
  for (const probe of servers[0]!.requests.filter(isProbe)) {
    t.equal(probe.method, 'GET')
    t.equal(probe.headers.accept, undefined, 'the probe carries no Accept header')
    t.notOk(probe.rawHeaders.some((h, k) => k % 2 === 0 && h.toLowerCase() === 'accept'), 'not even an empty one')
    t.equal(probe.headers.host, 'pool01.contoso.net', 'Host is the pool FQDN')
  }
  // Probes repeat on the interval.
  const gaps = servers[0]!.requests.filter(isProbe).map((q) => q.at)
  t.ok(gaps.at(-1)! - gaps[0]! >= (gaps.length - 1) * INTERVAL * 1000 * 0.8, 'one probe per interval, not a burst')

  status[0] = 500
  const failedAt = Date.now()
  t.ok(await eventually(() => !member(0).up, FALL * INTERVAL * 1000 + 1500, 10), 'member 0 is marked down')
  const downAfter = Date.now() - failedAt
  const failures = servers[0]!.requests.filter((q) => isProbe(q) && q.at >= failedAt).length
  t.ok(failures >= FALL && failures <= FALL + 1, `down after ${FALL} failed probes, not before (${failures} failed probes seen)`)
  t.ok(downAfter <= (FALL + 1) * INTERVAL * 1000 + 500, `down within the fall count of intervals (${downAfter} ms)`)

  const before = traffic(servers[0]!).length
  for (let i = 0; i < 10; i++) {
    const r = await client.request(HOST, '/while-down', { method: 'POST', body: `b${i}` })
    t.equal(r.status, 200)
    t.equal(r.headers['x-member'], '1')
  }
  t.equal(traffic(servers[0]!).length, before, 'a member that is down receives no traffic')
  t.equal(traffic(servers[1]!).filter((q) => q.url === '/while-down').length, 10)

  status[0] = 200
  const healedAt = Date.now()
  t.ok(await eventually(() => member(0).up, (RISE + 2) * INTERVAL * 1000 + 1500, 10), 'member 0 comes back')
  const successes = servers[0]!.requests.filter((q) => isProbe(q) && q.at >= healedAt).length
  t.ok(successes >= RISE && successes <= RISE + 1, `up after ${RISE} successful probes (${successes} seen)`)
  for (let i = 0; i < 10; i++) t.equal((await client.request(HOST, '/after')).status, 200)
  t.equal(traffic(servers[0]!).filter((q) => q.url === '/after').length, 5, 'back in rotation')

  const transitions = p.logs.filter((l) => l.kind === 'health' && l.member === 'm1').map((l) => [l.change, l.level])
  t.same(transitions, [['down', 40], ['up', 30]], 'both transitions are logged, the down one as a warning')
  t.match(p.logs.find((l) => l.change === 'down')?.msg, /pool x member m1 down: health check failed 3 times: GET \/autodiscover\/autodiscoverservice\.svc\/root answered 500/, 'with the reason')
})

t.test('a member whose server is closed mid-run is ejected within fall, and returns after rise', async (t) => {
  const { p, servers, startMember, member } = await healthSetup(t)
  t.ok(await eventually(() => servers.every((s) => s.requests.filter(isProbe).length >= 1)), 'probed')
  const port = servers[0]!.port
  await servers[0]!.close()
  const closedAt = Date.now()
  t.ok(await eventually(() => !member(0).up, FALL * INTERVAL * 1000 + 1500, 10), 'marked down')
  const downAfter = Date.now() - closedAt
  t.ok(downAfter >= (FALL - 1) * INTERVAL * 1000 - 50, `not before ${FALL} failed probes (${downAfter} ms)`)
  t.ok(downAfter <= FALL * INTERVAL * 1000 + 500, `within ${FALL} intervals (${downAfter} ms)`)

  // POSTs are never retried, so a 200 for each proves the dead member was not even tried.
  for (let i = 0; i < 6; i++) {
    const r = await request({ port: p.httpsPort, host: HOST, path: '/p', method: 'POST', body: 'x', tls: { ca: p.certs.caPem } })
    t.equal(r.status, 200, `POST ${i} went to the live member`)
  }
  t.equal(traffic(servers[1]!).length, 6)

  const back = await startMember(0, port)
  servers.push(back)
  const restartedAt = Date.now()
  t.ok(await eventually(() => member(0).up, (RISE + 1) * INTERVAL * 1000 + 1500, 10), 'back up')
  t.ok(Date.now() - restartedAt >= (RISE - 1) * INTERVAL * 1000 - 50, 'not before rise successes')
  t.ok(back.requests.filter(isProbe).length >= RISE, `the restarted server answered ${RISE} probes first`)
  for (let i = 0; i < 6; i++) t.equal((await request({ port: p.httpsPort, host: HOST, path: '/q', tls: { ca: p.certs.caPem } })).status, 200)
  t.equal(traffic(back).length, 3, 'and takes its share again')
})

t.test('all members down: 503 with Retry-After and a body naming the pool', async (t) => {
  const { p, servers, status, member } = await healthSetup(t)
  status[0] = 503
  status[1] = 404
  t.ok(await eventually(() => !member(0).up && !member(1).up, FALL * INTERVAL * 1000 + 2000, 10), 'both down')
  const r = await request({ port: p.httpsPort, host: HOST, path: '/x', tls: { ca: p.certs.caPem } })
  t.equal(r.status, 503)
  t.match(r.headers['retry-after'], /^\d+$/, 'Retry-After in seconds')
  t.ok(Number(r.headers['retry-after']) > 0)
  t.match(r.body, /pool x\b/, 'the body names the pool')
  t.equal(r.headers['x-lyncproxy-error'], 'no_healthy_member')
  t.equal(traffic(servers[0]!).length + traffic(servers[1]!).length, 0, 'no member received the request')
})

t.test('tcp checks for a layer-4 pool', async (t) => {
  // Two TCP members on distinct loopback addresses and the same port, as a frontend's target port.
  const greeters: net.Server[] = []
  const accepted = [0, 0]
  const greeter = (i: number, port: number): Promise<net.Server> => new Promise((resolve, reject) => {
    const s = net.createServer((c) => { accepted[i]!++; c.on('error', () => c.destroy()); c.end(`member ${i}\n`) })
    s.once('error', reject)
    s.listen(port, `127.0.0.${21 + i}`, () => resolve(s))
  })
  greeters.push(await greeter(0, 0))
  const port = (greeters[0]!.address() as AddressInfo).port
  greeters.push(await greeter(1, port))
  const p = await startLoggedProxy({
    pools: {
      l4: {
        kind: 'members',
        fqdn: 'dirpool.contoso.net',
        members: [{ name: 'a', address: '127.0.0.21' }, { name: 'b', address: '127.0.0.22' }],
        health: { check: 'tcp', interval: INTERVAL, timeout: 0.5, rise: RISE, fall: 2 },
      },
    },
    rules: [{ name: 'deny', publicNames: [HOST], action: 'deny' }],
    tcp: [{ name: 'f', port: 0, pool: 'l4', targetPort: port }],
  })
  const closeAll = async (): Promise<void> => { for (const g of greeters) await new Promise<void>((resolve) => { if (g.listening) g.close(() => resolve()); else resolve() }) }
  t.teardown(async () => { await p.close(); await closeAll() })
  const fport = p.proxy.tcpFrontends.find((f) => f.name === 'f')!.port
  const member = (i: number): Member => p.proxy.table().tcpPools.get('f')!.members[i]!

  t.ok(await eventually(() => accepted[0]! >= 2 && accepted[1]! >= 2), 'both members get TCP probes without any client traffic')
  const greet = (): Promise<string> => new Promise((resolve, reject) => {
    const c = net.connect(fport, '127.0.0.1')
    let text = ''
    c.setEncoding('utf8').on('data', (s: string) => { text += s })
    c.on('end', () => resolve(text))
    c.on('error', reject)
  })

  await new Promise<void>((resolve) => greeters[0]!.close(() => resolve()))
  const closedAt = Date.now()
  t.ok(await eventually(() => !member(0).up, 2 * INTERVAL * 1000 + 1500, 10), 'the closed member is marked down')
  t.ok(Date.now() - closedAt <= 2 * INTERVAL * 1000 + 500, 'within the fall count of intervals')
  for (let i = 0; i < 4; i++) t.equal(await greet(), 'member 1\n', `connection ${i} went to the live member`)

  greeters[0] = await greeter(0, port)
  const before = accepted[0]!
  t.ok(await eventually(() => member(0).up, (RISE + 1) * INTERVAL * 1000 + 1500, 10), 'back up after rise')
  t.ok(accepted[0]! - before >= RISE, `after ${RISE} successful connects`)
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) seen.add(await greet())
  t.same([...seen].sort(), ['member 0\n', 'member 1\n'], 'connections are balanced over both again')
  const transitions = p.logs.filter((l) => l.kind === 'health' && l.member === 'a').map((l) => [l.frontend, l.change])
  t.same(transitions, [['f', 'down'], ['f', 'up']], 'a layer-4 frontend\'s member transitions are logged too')
})

t.test('passive ejection: consecutive refusals eject a member for the back-off', async (t) => {
  const dead = await deadPort()
  const live = await startServerAt({ handler: (_req, res) => { res.writeHead(200, { 'X-Member': 'live' }); res.end() } })
  const p = await startTestProxy({
    pools: { x: membersPool([{ port: dead, address: DEAD_ADDRESS }, live], { passive: { failures: 2, backoff: 1 } }) },
    rules: [{ name: 'all', publicNames: [HOST], action: 'forward', pool: 'x', listeners: ['external-http'] }],
  })
  const started: PlainServer[] = [live]
  t.teardown(async () => { await p.close(); for (const s of started) await s.close() })
  const post = async (body: string): Promise<number> => (await request({ port: p.httpPort, host: HOST, path: '/p', method: 'POST', body })).status

  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push(await post(`p${i}`))
  t.equal(statuses.filter((s) => s === 502).length, 2, `exactly 'failures' (2) POSTs hit the refusing member (${statuses.join(',')})`)
  const m = p.proxy.table().pools.get('x')!.members[0]!
  t.ok(m.ejectedUntil > Date.now(), 'the member is ejected')
  t.equal(statuses.slice(statuses.lastIndexOf(502) + 1).every((s) => s === 200), true, 'after the ejection every POST went to the other member')
  t.equal(live.requests.length, 10, 'the live member received the other 10')

  // After the back-off the member is tried again: revive it on its port.
  const revived = await startServerAt({ address: DEAD_ADDRESS, port: dead, handler: (_req, res) => { res.writeHead(200, { 'X-Member': 'revived' }); res.end() } })
  started.push(revived)
  t.ok(await eventually(() => Date.now() >= m.ejectedUntil, 3000), 'the back-off runs out')
  for (let i = 0; i < 6; i++) t.equal(await post(`q${i}`), 200)
  t.ok(revived.requests.length >= 2, `the member receives traffic again after the back-off (${revived.requests.length})`)
  t.equal(m.ejections, 0, 'and a success clears its ejection record')
})

t.test('passive ejection on 5xx answers', async (t) => {
  const sick = await startServerAt({ handler: (_req, res) => { res.writeHead(502); res.end('bad gateway') } })
  const live = await startServerAt({ handler: (_req, res) => { res.writeHead(200); res.end() } })
  const p = await startTestProxy({
    pools: { x: membersPool([sick, live], { passive: { failures: 3, backoff: 30 } }) },
    rules: [{ name: 'all', publicNames: [HOST], action: 'forward', pool: 'x', listeners: ['external-http'] }],
  })
  t.teardown(async () => { await p.close(); await sick.close(); await live.close() })
  for (let i = 0; i < 20; i++) await request({ port: p.httpPort, host: HOST, path: `/g${i}` })
  t.equal(sick.requests.length, 3, 'the member answering 502 received exactly 3 requests before its ejection')
  t.equal(live.requests.length, 17)
})

t.test('retry: once, on another member, only for idempotent requests without a body refused at connect', async (t) => {
  const dead = await deadPort()
  const live = await startServerAt({ handler: (_req, res) => { res.writeHead(200, { 'X-Member': 'live' }); res.end('ok') } })
  // Accepts, reads the request, then resets: something was sent, so nothing may be retried.
  const resetter = await startRawUpstream((socket) => { socket.resetAndDestroy() })
  const p = await startTestProxy({
    pools: {
      refused: membersPool([{ port: dead, address: DEAD_ADDRESS }, live], { passive: { failures: 1000 } }),
      reset: membersPool([resetter, live], { passive: { failures: 1000 } }),
      twoDead: membersPool([{ port: dead, address: DEAD_ADDRESS }, { port: dead, address: DEAD_ADDRESS }, live], { passive: { failures: 1000 } }),
    },
    rules: [
      { name: 'refused', publicNames: [HOST], paths: ['/refused'], action: 'forward', pool: 'refused', listeners: ['external-http'] },
      { name: 'reset', publicNames: [HOST], paths: ['/reset'], action: 'forward', pool: 'reset', listeners: ['external-http'] },
      { name: 'two-dead', publicNames: [HOST], paths: ['/two-dead'], action: 'forward', pool: 'twoDead', listeners: ['external-http'] },
    ],
  })
  t.teardown(async () => { await p.close(); await live.close(); await resetter.close() })
  const exchanges: Exchange[] = []
  const unsubscribe = p.proxy.bus.subscribe((ex) => exchanges.push(ex))
  t.teardown(unsubscribe)
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(() => client.close())
  const liveUrls = (): string[] => live.requests.map((q) => q.url)

  // GET: every one succeeds, the refused ones after a retry on the live member.
  for (let i = 0; i < 6; i++) {
    const r = await client.request(HOST, `/refused/get${i}`)
    t.equal(r.status, 200, `GET ${i} answered 200`)
  }
  for (let i = 0; i < 6; i++) t.equal(liveUrls().filter((u) => u === `/refused/get${i}`).length, 1, `GET ${i} reached the live member exactly once`)
  const gets = exchanges.filter((e) => e.target.startsWith('/refused/get'))
  t.equal(gets.filter((e) => e.retried).length, 3, 'half of them were retried (round robin put them on the refusing member first)')
  t.ok(gets.filter((e) => e.retried).every((e) => e.status === 200 && e.upstream === `127.0.0.1:${live.port}`), 'a retried exchange ends on the other member with 200')

  // POST: refused → 502, never resent; the live member sees each body at most once.
  const postStatus: number[] = []
  for (let i = 0; i < 6; i++) postStatus.push((await client.request(HOST, '/refused/post', { method: 'POST', body: `body-${i}` })).status)
  t.same(postStatus.filter((s) => s === 502).length, 3, `POSTs on the refusing member got 502 (${postStatus.join(',')})`)
  for (let i = 0; i < 6; i++) {
    const seen = live.requests.filter((q) => q.body === `body-${i}`).length
    t.equal(seen, postStatus[i] === 200 ? 1 : 0, `body-${i} reached an upstream ${postStatus[i] === 200 ? 'once' : 'never'}`)
  }

  // Not even a POST without a body (Content-Length: 0): the method alone forbids a second send.
  const empty: number[] = []
  for (let i = 0; i < 2; i++) empty.push((await client.request(HOST, '/refused/empty-post', { method: 'POST', body: '' })).status)
  t.same(empty.sort(), [200, 502], 'the empty POST that met the refusing member got 502, not a retry')
  t.equal(liveUrls().filter((u) => u === '/refused/empty-post').length, 1, 'the live member received only the one sent to it')

  // A GET with a body is not retried either.
  const before = live.requests.length
  const withBody: number[] = []
  for (let i = 0; i < 2; i++) withBody.push((await client.request(HOST, '/refused/get-body', { body: 'payload' })).status)
  t.same(withBody.sort(), [200, 502], 'the GET with a body that met the refusing member got 502')
  t.equal(live.requests.length - before, 1, 'the live member received only the one sent to it')

  // Something reached the member before it failed: no retry, even for a GET, and a POST body once.
  const resetStatus: number[] = []
  for (let i = 0; i < 4; i++) resetStatus.push((await request({ port: p.httpPort, host: HOST, path: `/reset/g${i}` })).status)
  t.same(resetStatus.filter((s) => s === 502).length, 2, 'GETs reset by a member after sending are not retried')
  for (let i = 0; i < 4; i++) {
    const post = await request({ port: p.httpPort, host: HOST, path: '/reset/p', method: 'POST', body: `once-${i}` })
    const total = live.requests.filter((q) => q.body === `once-${i}`).length + (resetter.rawBytes().split(`once-${i}`).length - 1)
    t.equal(total, 1, `POST once-${i} (${post.status}) reached the upstreams exactly once in total`)
  }

  // Once only: with two refusing members in a row, the second refusal is the answer.
  const twoDead: number[] = []
  for (let i = 0; i < 6; i++) twoDead.push((await request({ port: p.httpPort, host: HOST, path: `/two-dead/${i}` })).status)
  t.ok(twoDead.includes(502), `a request whose retry was refused too gets 502, no third try (${twoDead.join(',')})`)
  const tries = exchanges.filter((e) => e.target.startsWith('/two-dead/'))
  t.ok(tries.every((e) => e.status === 200 || (e.status === 502 && e.retried)), 'a 502 only after one retry')
})
