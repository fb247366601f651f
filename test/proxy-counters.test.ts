// Two proxies in one process keep their own counts: the requests waiting for an upstream connection
// and the NTLM-pinned client connections are the instance's (upstream/proxy-counters.ts), so each
// proxy's metrics report only its own, and a reload keeps the count.
import type { Socket } from 'node:net'
import t from 'tap'
import { createMetrics, type Metrics } from '../src/observe/metrics.js'
import { request } from './helpers/client.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { openRaw, sleep } from './helpers/raw-client.js'
import { startRawUpstream } from './helpers/raw-upstream.js'

const HOST = 'webext.contoso.com'
const TYPE1 = 'TlRMTVNTUAABAAAABYIIAAAAAAAAAAAAAAAAAAAAAAA='
const CHALLENGE = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAAAAAAADAAAAABAgAAASNFZ4mrze8AAAAAAAAAAAAAAAAAAAAA\r\nContent-Length: 0\r\n\r\n'

async function until (check: () => boolean, ms = 3000): Promise<boolean> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await sleep(10)
  return check()
}

async function gauge (metrics: Metrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name)
  return (await metric?.get())?.values[0]?.value ?? Number.NaN
}

t.test('queue and pinning counters belong to the proxy instance', async (t) => {
  // Requests under /hold are not answered until released; anything else gets an NTLM challenge.
  const held = new Set<Socket>()
  let releasing = false
  const answer = (socket: Socket): void => { socket.write('HTTP/1.1 204 No Content\r\n\r\n') }
  const up = await startRawUpstream((socket, head) => {
    if (!head.startsWith('GET /hold')) socket.write(CHALLENGE)
    else if (releasing) answer(socket)
    else held.add(socket)
  })
  const rules = [{ name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe' }]
  const queuing = await startTestProxy({ pools: { fe: pool(up.port, { maxSockets: 1 }) }, rules })
  const pinning = await startTestProxy({ pools: { fe: pool(up.port) }, rules })
  const queuingMetrics = createMetrics(queuing.proxy, { processMetrics: false })
  const pinningMetrics = createMetrics(pinning.proxy, { processMetrics: false })
  t.teardown(async () => {
    queuingMetrics.close()
    pinningMetrics.close()
    for (const s of held) s.destroy()
    await queuing.close()
    await pinning.close()
    await up.close()
  })
  t.not(queuing.proxy.counters, pinning.proxy.counters, 'each proxy has its own counters')

  // One request holds the only connection; two more wait in the queuing proxy.
  const replies = [1, 2, 3].map((n) => request({ port: queuing.httpPort, host: HOST, path: `/hold/${n}` }).catch(() => undefined))
  t.ok(await until(() => queuing.proxy.counters.waiting.count === 2), 'two requests wait in the queuing proxy')
  // The other proxy pins one client connection.
  const client = await openRaw(pinning.httpPort)
  t.teardown(() => client.socket.destroy())
  client.write(`GET /challenge HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: NTLM ${TYPE1}\r\n\r\n`)
  t.ok(await client.waitFor('401 Unauthorized', 3000), 'the challenge came back')
  t.ok(await until(() => pinning.proxy.counters.pinnedConnections === 1), 'the pinning proxy pinned the connection')

  t.equal(await gauge(queuingMetrics, 'lyncproxy_upstream_waiting_requests'), 2, 'the queuing proxy reports its waiting requests')
  t.equal(await gauge(pinningMetrics, 'lyncproxy_upstream_waiting_requests'), 0, 'the pinning proxy reports none waiting')
  t.equal(await gauge(pinningMetrics, 'lyncproxy_ntlm_pinned_connections'), 1, 'the pinning proxy reports its pin')
  t.equal(await gauge(queuingMetrics, 'lyncproxy_ntlm_pinned_connections'), 0, 'the queuing proxy reports no pin')

  // A reload compiles new pools; the requests already waiting are still counted by the same proxy.
  await queuing.proxy.reload({ config: queuing.proxy.config(), baseDir: process.cwd(), file: 'test-config.yaml', warnings: [] })
  t.equal(queuing.proxy.table().generation, 2, 'the reload took')
  t.equal(await gauge(queuingMetrics, 'lyncproxy_upstream_waiting_requests'), 2, 'the waiting requests are still counted after the reload')

  client.socket.destroy()
  t.ok(await until(() => pinning.proxy.counters.pinnedConnections === 0), 'the pin is released with its client connection')
  releasing = true
  for (const s of held) answer(s)
  t.same((await Promise.all(replies)).map((r) => r?.status), [204, 204, 204], 'every request is answered once released')
  t.ok(await until(() => queuing.proxy.counters.waiting.count === 0), 'no request is left waiting')
})
