// A `dns` pool against a real DNS server on loopback (dnsmasq): the A records are the members,
// changes are followed after the TTL, a dead address is skipped by the retry of a GET, and
// `lyncproxy check` says that Lync does not support DNS load balancing for web traffic.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { runCheck } from '../src/cli/check.js'
import type { Exchange } from '../src/observe/exchange.js'
import { ensureDnsmasq, startDnsmasq, type Dnsmasq } from './helpers/dnsmasq.js'
import { eventually, KeepAliveClient, startServerAt, type PlainServer } from './helpers/pool.js'
import { startTestProxy } from './helpers/proxy.js'

const HOST = 'webext.contoso.com'
const NAME = 'web.lab.test'
const found = ensureDnsmasq()
const skip = 'reason' in found ? `no DNS server for the test: ${found.reason}` : false

async function members (addresses: string[]): Promise<PlainServer[]> {
  const out: PlainServer[] = []
  let port = 0
  for (const address of addresses) {
    const s = await startServerAt({
      address,
      port,
      handler: (req, res) => { res.writeHead(200, { 'X-Member': req.socket.localAddress ?? '' }); res.end() },
    })
    port = s.port
    out.push(s)
  }
  return out
}

t.test('dns pool: members from A records, changes followed after the TTL, a dead address skipped', { skip }, async (t) => {
  if ('reason' in found) return
  const [a, b, c] = await members(['127.0.0.11', '127.0.0.12', '127.0.0.13'])
  const port = a!.port
  const dns: Dnsmasq = await startDnsmasq(found.path, [['127.0.0.11', NAME], ['127.0.0.12', NAME]])
  const p = await startTestProxy({
    pools: { web: { kind: 'dns', fqdn: 'pool01.contoso.net', dns: { name: NAME, server: dns.server }, httpPort: port, httpsPort: port } },
    rules: [{ name: 'all', publicNames: [HOST], action: 'forward', pool: 'web', listeners: ['external-http'] }],
  })
  const exchanges: Exchange[] = []
  t.teardown(p.proxy.bus.subscribe((ex) => exchanges.push(ex)))
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(async () => { client.close(); await p.close(); await dns.close(); for (const s of [a, b, c]) await s!.close() })
  const pool = p.proxy.table().pools.get('web')!
  const addresses = (): string => pool.members.map((m) => m.address).sort().join(',')

  t.equal(addresses(), '127.0.0.11,127.0.0.12', 'the members are the two A records')
  for (let i = 0; i < 20; i++) t.equal((await client.request(HOST, `/one/${i}`)).status, 200)
  t.equal(a!.requests.length, 10, '127.0.0.11 got half')
  t.equal(b!.requests.length, 10, '127.0.0.12 got half')

  dns.setRecords([['127.0.0.12', NAME], ['127.0.0.13', NAME]])
  const changedAt = Date.now()
  t.ok(await eventually(() => addresses() === '127.0.0.12,127.0.0.13', 5000), 'the new answer set replaced the members')
  t.ok(Date.now() - changedAt <= 3000, `followed within the 1 s TTL and the 1 s refresh floor (${Date.now() - changedAt} ms)`)
  const before = a!.requests.length
  for (let i = 0; i < 20; i++) t.equal((await client.request(HOST, `/two/${i}`)).status, 200)
  t.equal(a!.requests.length, before, 'the address that left DNS gets no more traffic')
  t.equal(b!.requests.filter((q) => q.url.startsWith('/two/')).length, 10)
  t.equal(c!.requests.filter((q) => q.url.startsWith('/two/')).length, 10, 'the address that joined gets its share')

  // 127.0.0.14 has no server: a GET that meets it moves on to the next address.
  dns.setRecords([['127.0.0.13', NAME], ['127.0.0.14', NAME]])
  t.ok(await eventually(() => addresses() === '127.0.0.13,127.0.0.14', 5000), 'the dead address is in the answer set')
  const seen = exchanges.length
  for (let i = 0; i < 10; i++) t.equal((await client.request(HOST, `/three/${i}`)).status, 200, `GET ${i} answered`)
  t.equal(c!.requests.filter((q) => q.url.startsWith('/three/')).length, 10, 'every GET was answered by the live address, once')
  const three = exchanges.slice(seen).filter((e) => e.target.startsWith('/three/'))
  t.ok(three.some((e) => e.retried), 'some went to the dead address first and were retried')
  t.ok(three.filter((e) => e.retried).every((e) => e.upstream === `127.0.0.13:${port}`), 'and ended on the live one')
})

t.test('a tcp frontend on a dns pool follows the records too', { skip }, async (t) => {
  if ('reason' in found) return
  const greeters: net.Server[] = []
  let port = 0
  for (const address of ['127.0.0.11', '127.0.0.12']) {
    const s = net.createServer((c) => { c.on('error', () => c.destroy()); c.end(`${address}\n`) })
    await new Promise<void>((resolve) => s.listen(port, address, resolve))
    port = (s.address() as net.AddressInfo).port
    greeters.push(s)
  }
  const dns = await startDnsmasq(found.path, [['127.0.0.11', NAME], ['127.0.0.12', NAME]])
  const p = await startTestProxy({
    pools: { sip: { kind: 'dns', fqdn: 'dirpool.contoso.net', dns: { name: NAME, server: dns.server } } },
    rules: [{ name: 'deny', publicNames: [HOST], action: 'deny' }],
    tcp: [{ name: 'sip', port: 0, pool: 'sip', targetPort: port }],
  })
  t.teardown(async () => { await p.close(); await dns.close(); for (const g of greeters) await new Promise((resolve) => g.close(resolve)) })
  const fport = p.proxy.tcpFrontends[0]!.port
  const greet = (): Promise<string> => new Promise((resolve) => {
    const c = net.connect(fport, '127.0.0.1')
    let text = ''
    c.setEncoding('utf8').on('data', (s: string) => { text += s })
    c.on('close', () => resolve(text))
    c.on('error', () => { /* a reset shows as an empty greeting */ })
  })
  const seen: string[] = []
  for (let i = 0; i < 4; i++) seen.push(await greet())
  t.same([...new Set(seen)].sort(), ['127.0.0.11\n', '127.0.0.12\n'], `connections reach both A records (${JSON.stringify(seen)})`)
})

t.test('lyncproxy check warns that Lync does not support DNS load balancing for web traffic', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-dns-check-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const write = (name: string, usedByRule: boolean): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, [
      'listeners:',
      '  - { name: external-http, protocol: http, port: 8080 }',
      'pools:',
      '  web: { kind: dns, fqdn: pool01.contoso.net, dns: { name: web.lab.test, server: "127.0.0.1:5353" } }',
      '  fe: { fqdn: pool01.contoso.net, address: 127.0.0.1 }',
      'rules:',
      `  - { name: all, publicNames: [webext.contoso.com], action: forward, pool: ${usedByRule ? 'web' : 'fe'} }`,
      'tcp:',
      '  - { name: sip, port: 5061, pool: web }',
      '',
    ].join('\n'))
    return file
  }
  const run = async (file: string): Promise<{ code: number, out: string, err: string }> => {
    let out = ''
    let err = ''
    const code = await runCheck(['-c', file], { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } }, env: {} })
    return { code, out, err }
  }
  const web = await run(write('web.yaml', true))
  t.equal(web.code, 0, 'valid: the option exists for labs and non-Lync use')
  t.match(web.out, /^OK: /)
  t.match(web.err, /warning: .*pool web uses DNS load balancing for web traffic: Lync Server does not support that \(HTTP\/HTTPS needs a hardware load balancer\)/, 'the warning names the pool and the reason')
  const sipOnly = await run(write('sip.yaml', false))
  t.equal(sipOnly.code, 0)
  t.notMatch(sipOnly.err, /DNS load balancing/, 'DNS load balancing for SIP only (a tcp frontend) is what Lync supports: no warning')
})
