// Active health checks against members that misbehave at the wrong moment (issue 16 §1): a probe
// answer that trickles in must not stall every other member's checks, a probe that has its status
// must not keep its connection, a round still running when the checker stops (a reload) must not
// change the retired pool, and a member-event consumer that throws must not stop the checks or the
// process.
import net, { type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { HealthChecker } from '../src/upstream/health.js'
import type { Member } from '../src/upstream/member.js'
import { UpstreamPool } from '../src/upstream/pool.js'
import { sleep } from './helpers/raw-client.js'

// A raw member: `onProbe` gets each probe connection once its request head has arrived.
async function rawMember (t: Test, onProbe: (s: Socket) => void): Promise<{ port: number, open: () => number, probes: () => number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  let probes = 0
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => { /* the checker may reset */ })
    let head = ''
    const onData = (c: Buffer): void => {
      head += c.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      s.off('data', onData)
      probes++
      onProbe(s)
    }
    s.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = (): Promise<void> => new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
  })
  t.teardown(close)
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size, probes: () => probes, close }
}

function poolOf (ports: number[]): UpstreamPool {
  return new UpstreamPool({
    name: 'x',
    kind: 'members',
    fqdn: 'pool01.contoso.net',
    address: '127.0.0.1',
    httpPort: 0,
    httpsPort: 0,
    members: ports.map((port, i) => ({ name: `m${i + 1}`, address: '127.0.0.1', httpPort: port, httpsPort: port, weight: 1 })),
    balance: 'round-robin',
    affinity: 'none',
    passive: { failures: 3, backoffMs: 1000 },
    ca: undefined,
    verify: false,
    servername: 'pool01.contoso.net',
    maxSockets: 16,
  })
}

const SETTINGS = { check: 'http' as const, path: '/probe', intervalMs: 100, timeoutMs: 300, rise: 1, fall: 1, plain: true }

async function until (check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await sleep(10)
  return check()
}

// A trickle, one byte every 100 ms: no silence ever reaches the 300 ms timeout.
function trickle (s: Socket, text: string): void {
  let i = 0
  const timer = setInterval(() => {
    if (s.destroyed) { clearInterval(timer); return }
    s.write(text[i % text.length]!)
    i++
  }, 100)
  s.on('close', () => clearInterval(timer))
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'

t.test('a member whose answer trickles in does not stall the checks of the others', async (t) => {
  const slow = await rawMember(t, (s) => trickle(s, 'HTTP/1.1 200 OK\r\nX-Padding: ' + 'a'.repeat(10_000)))
  const healthy = await rawMember(t, (s) => s.end(OK))
  const pool = poolOf([slow.port, healthy.port])
  const events: string[] = []
  pool.onMemberEvent = (m, change) => events.push(`${m.name} ${change}`)
  const checker = new HealthChecker(pool, SETTINGS)
  t.teardown(() => checker.stop())
  checker.start()
  t.ok(await until(() => events.includes('m1 down'), 2000), 'the trickling member fails its check within the timeout')
  const probes = healthy.probes()
  // A round lasts at most the timeout (300 ms) and then waits the interval (100 ms).
  await sleep(1200)
  t.ok(healthy.probes() >= probes + 2, `the other member is still checked every round (${healthy.probes() - probes} probes in 1200 ms)`)
  await healthy.close()
  t.ok(await until(() => events.includes('m2 down'), 2000), 'and a failure of the other member is still seen')
})

t.test('a probe that has its status does not keep its connection', async (t) => {
  const member = await rawMember(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n')
    trickle(s, 'x')
  })
  const pool = poolOf([member.port])
  const checker = new HealthChecker(pool, SETTINGS)
  t.teardown(() => checker.stop())
  checker.start()
  t.ok(await until(() => member.probes() >= 6, 3000), 'several rounds ran')
  t.ok(member.open() <= 1, `at most the current probe's connection is open (${member.open()} after ${member.probes()} probes)`)
  t.equal(pool.members[0]!.up, true, 'the 200 counts')
})

t.test('a round still running when the checker stops changes nothing', async (t) => {
  const member = await rawMember(t, (s) => { setTimeout(() => s.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'), 200) })
  const pool = poolOf([member.port])
  const events: string[] = []
  pool.onMemberEvent = (m, change) => events.push(`${m.name} ${change}`)
  const checker = new HealthChecker(pool, { ...SETTINGS, timeoutMs: 1000 })
  checker.start()
  t.ok(await until(() => member.probes() === 1, 2000), 'the probe is out')
  checker.stop()
  await sleep(500)
  t.same(events, [], 'no member event for a pool whose checker has stopped')
  t.equal(pool.members[0]!.up, true, 'its member is left as it was')
  t.equal(member.probes(), 1, 'and no further round runs')
})

t.test('a member-event consumer that throws stops neither the checks nor the process', async (t) => {
  let up = false
  const member = await rawMember(t, (s) => s.end(up ? OK : 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'))
  const pool = poolOf([member.port])
  const seen: Member[] = []
  pool.onMemberEvent = (m) => { seen.push(m); throw new Error('a consumer failed') }
  const checker = new HealthChecker(pool, SETTINGS)
  t.teardown(() => checker.stop())
  checker.start()
  t.ok(await until(() => seen.length === 1, 2000), 'down, and the consumer threw')
  up = true
  t.ok(await until(() => pool.members[0]!.up, 2000), 'the checks went on: the member is back up')
})
