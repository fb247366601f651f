// NTLM pins when the client goes with a request in flight (issue 16 §1): the client connection's
// 'close' both ends the exchange and destroys the pin's agent under the request. Whichever runs
// first, the proxy keeps serving, the exchange is recorded once as the client's abort, the member is
// given back, the pin is released and its upstream connection closed.
import type { Socket } from 'node:net'
import t from 'tap'
import type { Exchange } from '../src/observe/exchange.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { openRaw, sleep } from './helpers/raw-client.js'
import { startRawUpstream } from './helpers/raw-upstream.js'

const HOST = 'webext.contoso.com'
const TYPE1 = 'TlRMTVNTUAABAAAABYIIAAAAAAAAAAAAAAAAAAAAAAA='

async function until (check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await sleep(10)
  return check()
}

t.test('a pinned client connection that resets with a request in flight', async (t) => {
  // The handshake's first leg is answered with a challenge; anything under /hold is never answered.
  const upSockets = new Set<Socket>()
  const up = await startRawUpstream((socket, head) => {
    upSockets.add(socket)
    socket.on('close', () => upSockets.delete(socket))
    if (head.startsWith('GET /hold')) return
    socket.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAAAAAAADAAAAABAgAAASNFZ4mrze8AAAAAAAAAAAAAAAAAAAAA\r\nContent-Length: 0\r\n\r\n')
  })
  const p = await startTestProxy({ pools: { fe: pool(up.port) }, rules: [{ name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe' }] })
  const seen: Exchange[] = []
  p.proxy.bus.subscribe((ex) => seen.push(ex))
  t.teardown(async () => { await p.close(); await up.close() })
  const member = p.proxy.table().pools.get('fe')!.members[0]!
  const baseline = p.proxy.counters.pinnedConnections

  for (const [name, requests] of [
    // The request that creates the pin is the one in flight: the exchange's 'close' listener was
    // registered before the pin's.
    ['the pinning request', [`GET /hold/first HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: NTLM ${TYPE1}\r\n\r\n`]],
    // A later request rides on the pin: the pin's listener runs before that exchange's.
    ['a request on the pin', [`GET /challenge HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: NTLM ${TYPE1}\r\n\r\n`, `GET /hold/later HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`]],
  ] as const) {
    await t.test(name, async (t) => {
      const before = seen.length
      const c = await openRaw(p.httpPort)
      for (const r of requests.slice(0, -1)) {
        c.write(r)
        t.ok(await c.waitFor('401 Unauthorized', 3000), 'the challenge came back on the pinned connection')
      }
      c.write(requests.at(-1)!)
      t.ok(await until(() => up.heads.some((h) => h.startsWith('GET ' + (requests.at(-1)!.split(' ')[1] ?? ''))), 3000), 'the upstream holds the request')
      t.equal(p.proxy.counters.pinnedConnections, baseline + 1, 'the client connection is pinned')
      c.socket.resetAndDestroy()
      t.ok(await until(() => p.proxy.counters.pinnedConnections === baseline, 2000), 'the pin is released')
      t.ok(await until(() => upSockets.size === 0, 2000), 'its upstream connection is closed')
      await sleep(200)
      const mine = seen.slice(before)
      t.equal(mine.length, requests.length, 'one record per request')
      const last = mine.at(-1)
      t.equal(last?.status, 499, 'the held request: no answer went out')
      t.equal(last?.error, 'client_aborted', 'the client left: not the pin\'s destroyed connection')
      t.equal(member.active, 0, 'the member is given back')
      t.equal(member.consecutiveFailures, 0, 'and not blamed')
    })
  }
  const r = await openRaw(p.httpPort)
  r.write(`GET /challenge HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)
  t.ok(await r.waitFor('401 Unauthorized', 3000), 'the proxy still serves')
  r.destroy()
})
