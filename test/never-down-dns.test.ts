// DNS members when the answer comes at the wrong moment (issue 16 §1): an answer that arrives after
// the pool was retired by a reload changes nothing and says nothing, and an event consumer that
// throws neither fails the start nor stops the re-resolution. A small UDP responder on 127.0.0.1
// plays the DNS server, so the delay of each answer is the test's to choose.
import dgram from 'node:dgram'
import t, { type Test } from 'tap'
import { DnsMembers } from '../src/upstream/dns-members.js'
import { UpstreamPool } from '../src/upstream/pool.js'
import { sleep } from './helpers/raw-client.js'

const NAME = 'pool01.contoso.net'

// Answers A queries with `address` after `delayMs`, AAAA queries with no records.
async function startDns (t: Test, address: string, delayMs: () => number): Promise<{ server: string, queries: () => number }> {
  const socket = dgram.createSocket('udp4')
  let queries = 0
  socket.on('message', (q, from) => {
    queries++
    // Header (12 bytes), then the question: labels, a zero byte, type and class.
    let end = 12
    while (q[end] !== 0) end += q[end]! + 1
    const type = q.readUInt16BE(end + 1)
    const question = q.subarray(12, end + 5)
    const a = type === 1
    const header = Buffer.alloc(12)
    q.copy(header, 0, 0, 2)
    header.writeUInt16BE(0x8180, 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(a ? 1 : 0, 6)
    const answer = Buffer.alloc(16)
    answer.writeUInt16BE(0xc00c, 0)
    answer.writeUInt16BE(1, 2)
    answer.writeUInt16BE(1, 4)
    answer.writeUInt32BE(60, 6)
    answer.writeUInt16BE(4, 10)
    address.split('.').forEach((o, i) => { answer[12 + i] = Number(o) })
    const reply = Buffer.concat([header, question, ...(a ? [answer] : [])])
    setTimeout(() => { if (!closed) socket.send(reply, from.port, from.address) }, delayMs())
  })
  let closed = false
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => { closed = true; socket.close() })
  return { server: `127.0.0.1:${socket.address().port}`, queries: () => queries }
}

function dnsPool (): UpstreamPool {
  return new UpstreamPool({
    name: 'x',
    kind: 'dns',
    fqdn: NAME,
    address: NAME,
    httpPort: 80,
    httpsPort: 443,
    members: [{ name: '10.0.0.1', address: '10.0.0.1', httpPort: 80, httpsPort: 443, weight: 1 }],
    balance: 'round-robin',
    affinity: 'none',
    passive: { failures: 3, backoffMs: 1000 },
    ca: undefined,
    verify: false,
    servername: NAME,
    maxSockets: 16,
  })
}

t.test('an answer that arrives after stop() changes nothing and says nothing', async (t) => {
  const dns = await startDns(t, '10.0.0.2', () => 300)
  const pool = dnsPool()
  const events: string[] = []
  const members = new DnsMembers(pool, { name: NAME, server: dns.server }, (_p, detail) => events.push(detail))
  const refreshed = members.refresh()
  await sleep(100)
  t.ok(dns.queries() > 0, 'the question is out')
  // A reload retires the pool while its answer is on the way.
  members.stop()
  await refreshed
  await sleep(400)
  t.same(pool.members.map((m) => m.address), ['10.0.0.1'], 'the retired pool keeps its members')
  t.same(events, [], 'and logs neither a change nor a failure')
})

t.test('an event consumer that throws fails neither the start nor the following', async (t) => {
  const dns = await startDns(t, '10.0.0.3', () => 0)
  const pool = dnsPool()
  let thrown = 0
  const members = new DnsMembers(pool, { name: NAME, server: dns.server, intervalMs: 1000 }, () => { thrown++; throw new Error('a consumer failed') })
  t.teardown(() => members.stop())
  await members.start()
  t.pass('start() resolved although the consumer threw')
  t.same(pool.members.map((m) => m.address), ['10.0.0.3'], 'the answer was taken')
  t.equal(thrown, 1, 'one event, for the change (not a second one calling it a failure)')
  const before = dns.queries()
  await sleep(1500)
  t.ok(dns.queries() > before, 'the name is still followed')
})
