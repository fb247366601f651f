// A pool's maxSockets caps the upstream connections of ordinary requests per member; the rest wait in
// the proxy, as behind HAProxy's server maxconn. Long-poll rules are outside the cap. A request that
// waits too long gets 503 and is never sent; one whose client leaves is never sent either. A long poll
// whose client leaves closes its upstream connection and opens no other.
import http from 'node:http'
import https from 'node:https'
import t, { type Test } from 'tap'
import { request, type Reply } from './helpers/client.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startUpstream, type RecordingUpstream } from './helpers/upstream.js'

const HOST = 'webext.contoso.com'

// An upstream that holds every request until released, then answers the held ones and, from then
// on, each new one at once.
async function holdingUpstream (t: Test, tls?: { cert: string, key: string }): Promise<{ up: RecordingUpstream, release: () => void, closed: () => number }> {
  const held: http.ServerResponse[] = []
  let closed = 0
  let releasing = false
  const answer = (res: http.ServerResponse, path: string): void => { res.end(`answered ${path}`) }
  const up = await startUpstream((req, res) => {
    if (releasing) answer(res, req.url ?? '')
    else { held.push(res); (res as http.ServerResponse & { path?: string }).path = req.url ?? '' }
    res.on('close', () => { if (!res.writableFinished) closed++ })
  }, tls)
  t.teardown(() => up.close())
  return {
    up,
    closed: () => closed,
    release: () => {
      releasing = true
      for (const res of held.splice(0)) answer(res, (res as http.ServerResponse & { path?: string }).path ?? '')
    },
  }
}

async function until (what: string, test: () => boolean, limitMs = 5000): Promise<void> {
  const end = Date.now() + limitMs
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function rules (connectSeconds = 5): Record<string, unknown>[] {
  return [
    { name: 'events', publicNames: [HOST], paths: ['/ucwa'], action: 'forward', pool: 'fe', longPoll: true, timeouts: { response: 960 } },
    { name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe', timeouts: { connect: connectSeconds } },
  ]
}

t.test('ordinary requests beyond maxSockets wait for a free connection, and every one arrives once', async (t) => {
  const { up, release } = await holdingUpstream(t)
  const p = await startTestProxy({ pools: { fe: pool(up.port, { maxSockets: 2 }) }, rules: rules() })
  t.teardown(() => p.close())
  const replies = [1, 2, 3, 4, 5].map((n) => request({ port: p.httpPort, host: HOST, path: `/held/${n}` }))
  await until('two requests at the upstream', () => up.requests.length === 2)
  await pause(300)
  t.equal(up.requests.length, 2, 'no more than maxSockets requests reach the member at once')
  t.equal(up.connections(), 2, 'over maxSockets connections')
  t.equal(p.proxy.counters.waiting.count, 3, 'the other three wait in the proxy (lyncproxy_upstream_waiting_requests)')
  release()
  const done = await Promise.all(replies)
  t.equal(p.proxy.counters.waiting.count, 0, 'and none is left waiting')
  t.same(done.map((r) => r.status), [200, 200, 200, 200, 200])
  t.same(done.map((r) => r.body), [1, 2, 3, 4, 5].map((n) => `answered /held/${n}`), 'each client gets its own answer')
  t.same(up.requests.map((r) => r.url).sort(), ['/held/1', '/held/2', '/held/3', '/held/4', '/held/5'], 'each request went upstream exactly once')
  t.equal(up.connections(), 2, 'the waiting requests took the freed connections')
})

t.test('a request that waits longer than twice the connect timeout gets 503 and is never sent', async (t) => {
  const { up, release } = await holdingUpstream(t)
  const p = await startTestProxy({ pools: { fe: pool(up.port, { maxSockets: 2 }) }, rules: rules(1) })
  t.teardown(() => p.close())
  const held = [request({ port: p.httpPort, host: HOST, path: '/held/1' }), request({ port: p.httpPort, host: HOST, path: '/held/2' })]
  await until('two requests at the upstream', () => up.requests.length === 2)
  const started = Date.now()
  const late = await request({ port: p.httpPort, host: HOST, path: '/late' })
  const waited = Date.now() - started
  t.equal(late.status, 503)
  t.equal(late.headers['x-lyncproxy-error'], 'upstream_busy')
  t.equal(late.headers['retry-after'], '10')
  t.match(late.body, /all 2 connections to pool fe .* stayed busy for 2 s: raise pools\.fe\.maxSockets, or mark the rule that carries long polls \(\/ucwa, \/mcx\) with longPoll: true/)
  t.ok(waited >= 1900 && waited < 4000, `answered after the 2 s wait (took ${waited} ms)`)
  release()
  t.same((await Promise.all(held)).map((r: Reply) => r.status), [200, 200], 'the requests on the connections are unharmed')
  await pause(300)
  t.same(up.requests.map((r) => r.url), ['/held/1', '/held/2'], 'the expired request never reached the upstream, not even once a connection freed')
  t.equal((await request({ port: p.httpPort, host: HOST, path: '/after' })).status, 200, 'the pool serves again')
})

t.test('a queued request whose client leaves is never sent', async (t) => {
  const { up, release } = await holdingUpstream(t)
  const p = await startTestProxy({ pools: { fe: pool(up.port, { maxSockets: 1 }) }, rules: rules() })
  t.teardown(() => p.close())
  const first = request({ port: p.httpPort, host: HOST, path: '/held/1' })
  await until('the first request at the upstream', () => up.requests.length === 1)
  const gone = http.get({ host: '127.0.0.1', port: p.httpPort, path: '/left', headers: { Host: HOST }, agent: false })
  gone.on('error', () => { /* destroyed on purpose */ })
  await pause(200)
  gone.destroy()
  await pause(200)
  release()
  t.equal((await first).status, 200)
  await pause(300)
  t.same(up.requests.map((r) => r.url), ['/held/1'], 'the abandoned request was dropped from the queue')
})

t.test('long polls are outside maxSockets: they all reach the member, and ordinary requests still pass', async (t) => {
  const { up, release } = await holdingUpstream(t)
  const p = await startTestProxy({ pools: { fe: pool(up.port, { maxSockets: 2 }) }, rules: rules() })
  t.teardown(() => p.close())
  const polls = [1, 2, 3, 4, 5, 6].map((n) => request({ port: p.httpPort, host: HOST, path: `/ucwa/events/${n}` }))
  await until('six long polls at the upstream', () => up.requests.length === 6)
  t.equal(up.connections(), 6, 'one upstream connection per long poll, beyond the cap of 2')
  // The held polls use none of the ordinary requests' connections: this one waits only for its answer.
  const ordinary = request({ port: p.httpPort, host: HOST, path: '/Autodiscover/x' })
  await until('the ordinary request at the upstream', () => up.requests.length === 7)
  release()
  t.equal((await ordinary).status, 200)
  t.same((await Promise.all(polls)).map((r) => r.status), [200, 200, 200, 200, 200, 200])
})

// undici puts an in-flight request that was aborted back in its queue and connects again for it
// (nodejs/undici#5845): 5,000 UCWA clients leaving at once cost 5,000 new TLS handshakes to the Front
// End, and seconds in which the proxy answered nothing. Long polls go by node:http, which does not.
for (const upstreamTls of [false, true]) {
  t.test(`long polls whose clients leave close their upstream connections and open no new ones (${upstreamTls ? '443 → HTTPS' : '80 → HTTP'} upstream)`, async (t) => {
    const certs = await testCertificates()
    const { up, release, closed } = await holdingUpstream(t, upstreamTls ? certs.internal.get('fe') : undefined)
    const p = await startTestProxy({ pools: { fe: pool(up.port) }, rules: rules() })
    t.teardown(() => p.close())
    const port = upstreamTls ? p.httpsPort : p.httpPort
    const clients = [1, 2, 3, 4].map((n) => {
      const options = { host: '127.0.0.1', port, path: `/ucwa/events/${n}`, headers: { Host: HOST }, agent: false }
      const req = upstreamTls ? https.get({ ...options, ca: certs.caPem, servername: HOST }) : http.get(options)
      req.on('error', () => { /* destroyed on purpose */ })
      return req
    })
    await until('four long polls at the upstream', () => up.requests.length === 4)
    t.equal(up.connections(), 4, 'one upstream connection per poll')
    for (const c of clients) c.destroy()
    await until('the four held requests closed at the upstream', () => closed() === 4)
    await pause(500)
    t.equal(up.connections(), 4, 'no connection opened after the clients left')
    t.equal(up.requests.length, 4, 'and no poll was sent again')
    const next = request({ port, host: HOST, path: '/ucwa/events/5', ...(upstreamTls ? { tls: { ca: certs.caPem } } : {}) })
    await until('the next poll at the upstream', () => up.requests.length === 5)
    release()
    const reply = await next
    t.equal(reply.status, 200, 'the next poll is answered')
    t.equal(reply.body, 'answered /ucwa/events/5')
  })
}
