// The "nothing lost" invariants (proxy-correctness.md §5) under injected upstream faults. A chaos
// upstream answers /<kind>/<id> correctly or breaks in one of eight ways; a keep-alive client sends
// N requests of every kind at once, with unique ids, for three rounds. After every round: every
// request got exactly one outcome, every 200 echoes its own id, the fault counts equal the faults
// injected, no request reached the upstream twice, and the proxy (this process) still serves.
// Across rounds, file descriptors and RSS stay flat.
//
// No deadline here is a guess at how fast the machine is. `slow` and `stall` wait for the proxy to
// give up (test/helpers/chaos-upstream.ts says why); the proxy's response timeout is first measured
// on a lone `slow` request, and how long a request may take, and how long the proxy may take to let
// go, are multiples of what it took. On a busy machine undici's coarse clock and the event loop fall
// behind together, and the deadlines with them.
import fs from 'node:fs'
import http from 'node:http'
import v8 from 'node:v8'
import vm from 'node:vm'
import t from 'tap'
import { CHAOS_KINDS, partialBody, startChaosUpstream, type ChaosKind } from './helpers/chaos-upstream.js'
import { request } from './helpers/client.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { eventually } from './helpers/pool.js'

const N = 15
const ROUNDS = 3
const RESPONSE_TIMEOUT_S = 1
// A request without any outcome this long after it got its connection to the proxy is lost. None
// waits for more than one response timeout (`slow` for its head, `stall` for the rest of its body),
// and the round keeps 24 of them in flight at once, so it may be busier than the lone one was.
const DEADLINE_TIMEOUTS = 8
// Only a proxy that never times out comes near this while its timeout is measured.
const CALIBRATION_DEADLINE_MS = 30 * RESPONSE_TIMEOUT_S * 1000
// Letting go of connections once the round is over waits on no timer of the proxy's, only on the
// turns that see sockets close: a few, against the many that one response timeout spans.
const SETTLE_TIMEOUTS = 2
const FD_TOLERANCE = 10
const RSS_GROWTH = 0.2

// What each kind must produce at the client.
const EXPECTED: Record<ChaosKind, { status: number, complete: boolean, error?: string }> = {
  ok: { status: 200, complete: true },
  okchunked: { status: 200, complete: true },
  post: { status: 200, complete: true },
  truncate: { status: 200, complete: false },
  stall: { status: 200, complete: false },
  reset: { status: 502, complete: true, error: 'upstream_reset' },
  garbage: { status: 502, complete: true, error: 'upstream_bad_response' },
  dupcl: { status: 502, complete: true, error: 'upstream_bad_response' },
  slow: { status: 504, complete: true, error: 'upstream_timeout' },
}

interface Outcome {
  kind: ChaosKind
  id: string
  // 0: no response at all (a visible abort before the status line, or lost).
  status: number
  complete: boolean
  body: string
  error: string
  lost: boolean
}

// `deadlineMs` runs from the moment the request has a connection: waiting in the agent's queue behind
// other requests is not this request's time.
function send (port: number, agent: http.Agent, kind: ChaosKind, id: string, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { kind, id, status: 0, complete: false, body: '', error: '', lost: false }
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      if (deadline !== undefined) clearTimeout(deadline)
      resolve(out)
    }
    const post = kind === 'post'
    const req = http.request({
      host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: `/${kind}/${id}`,
      headers: { Host: 'webext.contoso.com', ...(post ? { 'Content-Type': 'text/plain', 'Content-Length': String(id.length) } : {}) },
    })
    let deadline: NodeJS.Timeout | undefined
    req.once('socket', () => { deadline = setTimeout(() => { out.lost = true; req.destroy(); finish() }, deadlineMs) })
    req.on('response', (res) => {
      out.status = res.statusCode ?? 0
      out.error = String(res.headers['x-lyncproxy-error'] ?? '')
      res.setEncoding('latin1')
      res.on('data', (c: string) => { out.body += c })
      res.on('end', () => { out.complete = res.complete; finish() })
      res.on('error', () => { out.complete = false; finish() })
      res.on('close', () => { out.complete = res.complete; finish() })
    })
    req.on('error', () => finish())
    req.end(post ? id : undefined)
  })
}

function fdCount (): number {
  return fs.readdirSync('/proc/self/fd').length
}

// A real collection before each RSS reading, exposed without a command-line flag.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

t.test('chaos: nothing lost, nothing crossed, nothing leaked', async (t) => {
  const chaos = await startChaosUpstream()
  const p = await startTestProxy({
    defaults: { timeouts: { response: RESPONSE_TIMEOUT_S } },
    pools: { chaos: pool(chaos.port) },
    rules: [{ name: 'chaos', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'chaos', listeners: ['external-http'] }],
  })
  t.teardown(async () => { await p.close(); await chaos.close() })
  const member = p.proxy.table().pools.get('chaos')!.members[0]!

  const calibration = new http.Agent({ keepAlive: true })
  const calibratedAt = performance.now()
  const lone = await send(p.httpPort, calibration, 'slow', `timeout-${Math.random().toString(36).slice(2, 8)}`, CALIBRATION_DEADLINE_MS)
  const timeoutMs = performance.now() - calibratedAt
  calibration.destroy()
  t.same({ status: lone.status, error: lone.error, lost: lone.lost }, { status: 504, error: 'upstream_timeout', lost: false }, `a lone slow request gets its 504 (upstream_timeout), in ${timeoutMs.toFixed(0)} ms for a ${RESPONSE_TIMEOUT_S} s timeout`)
  if (lone.status !== 504) return
  const deadlineMs = DEADLINE_TIMEOUTS * timeoutMs
  const settleMs = SETTLE_TIMEOUTS * timeoutMs

  const samples: Array<{ fds: number, rss: number }> = []
  for (let round = 1; round <= ROUNDS; round++) {
    await t.test(`round ${round}`, async (t) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 24 })
      const logStart = chaos.log.length
      const jobs: Array<Promise<Outcome>> = []
      for (let i = 0; i < N; i++) {
        for (const kind of CHAOS_KINDS) jobs.push(send(p.httpPort, agent, kind, `r${round}-${kind}-${i}-${Math.random().toString(36).slice(2, 8)}`, deadlineMs))
      }
      const roundStart = performance.now()
      const outcomes = await Promise.all(jobs)
      const roundMs = performance.now() - roundStart
      agent.destroy()

      t.equal(outcomes.length, N * CHAOS_KINDS.length, 'one outcome per request sent')
      t.same(outcomes.filter((o) => o.lost).map((o) => `${o.kind} ${o.id}`), [], `no request left without an outcome within ${deadlineMs.toFixed(0)} ms of its connection (round: ${roundMs.toFixed(0)} ms)`)
      const crossed = outcomes.filter((o) => o.status === 200 && !o.body.startsWith(o.id))
      t.same(crossed.map((o) => `${o.id} got ${o.body.slice(0, 40)}`), [], 'every 200 body starts with its own id')
      for (const kind of CHAOS_KINDS) {
        const e = EXPECTED[kind]
        const of = outcomes.filter((o) => o.kind === kind)
        const wrong = of.filter((o) => o.status !== e.status || o.complete !== e.complete || (e.error !== undefined && o.error !== e.error))
        t.same(wrong.map((o) => `${o.status} complete=${o.complete} ${o.error}`), [], `${kind}: all ${N} → ${e.status}${e.complete ? '' : ' incomplete'}${e.error === undefined ? '' : ' ' + e.error}`)
        if (e.status === 200 && e.complete) t.ok(of.every((o) => o.body === o.id), `${kind}: exact bodies`)
        if (!e.complete) t.ok(of.every((o) => partialBody(o.id).startsWith(o.body) || o.body.startsWith(o.id)), `${kind}: only the bytes that came, nothing padded`)
      }
      const counts = new Map<string, number>()
      for (const entry of chaos.log.slice(logStart)) counts.set(entry, (counts.get(entry) ?? 0) + 1)
      const twice = [...counts].filter(([, n]) => n > 1).map(([e]) => e)
      t.same(twice, [], 'no request reached the upstream twice')
      t.equal(outcomes.filter((o) => o.kind === 'post' && counts.get(`post ${o.id}`) === 1).length, N, 'every POST reached it exactly once')

      // Settle: the client is gone, the upstream drops its connections; the proxy must let go of all.
      chaos.dropConnections()
      const statusNow = async (): Promise<number> => (await p.proxy.listenerStatus()).reduce((n, l) => n + l.connections, 0)
      t.ok(await eventually(async () => await statusNow() === 0, settleMs), 'no client connection left open at the proxy')
      t.ok(await eventually(() => member.active === 0, settleMs), `the member's active count is back to 0 (${member.active})`)
      const health = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/ok/health' })
      t.equal(health.status, 200, 'the proxy still serves')
      chaos.dropConnections()
      t.ok(await eventually(() => chaos.connections() === 0, settleMs), `the upstream's connections are all closed (${chaos.connections()} open)`)
      // The proxy's ends of those connections close a turn or so later: sampled once two readings
      // 50 ms apart agree.
      let fds = -1
      await eventually(() => { const before = fds; fds = fdCount(); return fds === before }, settleMs)
      gc()
      samples.push({ fds: fdCount(), rss: process.memoryUsage.rss() })
      t.comment(`round ${round}: ${fdCount()} fds, RSS ${(process.memoryUsage.rss() / 1048576).toFixed(1)} MB`)
    })
  }

  const first = samples[0]!
  const last = samples.at(-1)!
  t.ok(last.fds - first.fds <= FD_TOLERANCE, `file descriptors flat: ${samples.map((s) => s.fds).join(' → ')}`)
  t.ok(last.rss < first.rss * (1 + RSS_GROWTH), `RSS flat: ${samples.map((s) => (s.rss / 1048576).toFixed(1)).join(' → ')} MB`)
})
