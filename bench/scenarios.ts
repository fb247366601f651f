// The scenarios of issue 6 and how each is measured. Targets are measured one after another within a
// round, rounds follow each other, and every figure quoted later is a median over the rounds.
import http from 'node:http'
import path from 'node:path'
import { runAutocannon, runPaced, runWrk, type LoadResult, type LoadSpec, type LoadTool } from './load.js'
import { openLongPolls } from './longpoll.js'
import type { BenchOptions, ScenarioId } from './options.js'
import { PUBLIC_NAME } from './peers.js'
import { ProcSampler, processTree, snapshot, waitQuiet, type ProcWindow } from './procstats.js'
import { median, medianSummary, sum, type LongPollRound, type LongPollRow, type LongPollScenarioResult, type RunSummary, type SoakRound, type SoakScenarioResult, type ThroughputRow, type ThroughputScenarioResult } from './results.js'
import { missingReason, startTarget, targetLabel, type BenchContext, type RunningTarget, type TargetId } from './targets.js'

export type Log = (line: string) => void

export const GET_PATH = '/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com'
const HEADERS = { host: PUBLIC_NAME, accept: 'application/json' }
const UPLOAD = Buffer.alloc(64 * 1024, 'x')

interface ThroughputDef {
  title: string
  tls: boolean
  connections: number
  method?: 'GET' | 'POST'
  body?: Buffer
  rate?: number
  wrk: boolean
}

export const THROUGHPUT: Partial<Record<ScenarioId, ThroughputDef>> = {
  a: { title: 'HTTP GET of a ~1 KB JSON body, keep-alive, 50 connections', tls: false, connections: 50, wrk: true },
  b: { title: 'HTTPS 443 → upstream TLS (4443), same body, 50 connections', tls: true, connections: 50, wrk: true },
  c: { title: 'POST with a 64 KB body, 50 connections', tls: false, connections: 50, method: 'POST', body: UPLOAD, wrk: true },
  d: { title: '1,000 concurrent keep-alive connections, HTTP GET', tls: false, connections: 1000, wrk: false },
  f: { title: 'HTTP GET at a fixed 2,000 req/s (50 connections): latency', tls: false, connections: 50, rate: 2000, wrk: false },
}

// The running targets of a scenario. A full run restarts them for every scenario, so that each
// scenario's memory figures start from a fresh process.
export class TargetSet {
  private readonly running = new Map<TargetId, RunningTarget>()
  readonly failed = new Map<TargetId, string>()

  constructor (private readonly ctx: BenchContext, private readonly log: Log) {}

  async get (id: TargetId): Promise<RunningTarget | undefined> {
    const have = this.running.get(id)
    if (have !== undefined) return have
    if (this.failed.has(id)) return undefined
    const missing = missingReason(id, this.ctx)
    if (missing !== undefined) { this.failed.set(id, missing); return undefined }
    try {
      const t = await startTarget(id, this.ctx)
      this.log(`  started ${t.label} (pid ${t.pid}, http :${t.httpPort}, https :${t.httpsPort})`)
      this.running.set(id, t)
      return t
    } catch (err) {
      const reason = `did not start: ${(err as Error).message.split('\n').slice(0, 6).join(' | ')}`
      this.failed.set(id, reason)
      this.log(`  ${targetLabel(id, this.ctx)} ${reason}`)
      return undefined
    }
  }

  async restart (id: TargetId): Promise<RunningTarget | undefined> {
    const t = this.running.get(id)
    if (t !== undefined) { await t.stop(); this.running.delete(id) }
    return this.get(id)
  }

  async stopAll (): Promise<void> {
    for (const t of this.running.values()) await t.stop()
    this.running.clear()
  }
}

function url (t: RunningTarget, tls: boolean, p = GET_PATH): string {
  return `${tls ? 'https' : 'http'}://127.0.0.1:${tls ? t.httpsPort : t.httpPort}${p}`
}

function loadSpec (def: ThroughputDef, t: RunningTarget, durationS: number): LoadSpec {
  const spec: LoadSpec = { url: url(t, def.tls), connections: def.connections, durationS, headers: { ...HEADERS } }
  if (def.tls) spec.servername = PUBLIC_NAME
  if (def.method !== undefined) spec.method = def.method
  if (def.body !== undefined) {
    spec.body = def.body
    spec.headers['content-type'] = 'application/octet-stream'
  }
  if (def.rate !== undefined) spec.rate = def.rate
  return spec
}

export function summarize (load: LoadResult, proc: ProcWindow): RunSummary {
  return {
    requests: load.requests,
    rps: load.rps,
    p50: load.p50,
    p99: load.p99,
    p999: load.p999,
    max: load.max,
    cpuSeconds: proc.cpuSeconds,
    cpuUsPerRequest: load.requests === 0 ? NaN : proc.cpuSeconds / load.requests * 1e6,
    peakRssMB: proc.peakRssBytes / 2 ** 20,
    errors: load.errors,
    timeouts: load.timeouts,
    non2xx: load.non2xx,
    othersCores: proc.seconds > 0 ? proc.othersCpuSeconds / proc.seconds : NaN,
    listenOverflows: proc.listenOverflows,
  }
}

export function fmt (n: number, digits = 0): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '–'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function progress (s: RunSummary): string {
  const errs = s.errors + s.timeouts + s.non2xx
  return `${fmt(s.rps)} req/s, p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms, CPU ${fmt(s.cpuSeconds, 1)} s, RSS ${fmt(s.peakRssMB)} MB` +
    `${errs > 0 ? `, ${errs} errors/non-2xx` : ''}${s.listenOverflows > 0 ? `, ${s.listenOverflows} listen-queue overflows` : ''}` +
    `${s.othersCores >= 0.1 ? ` (others busy: ${fmt(s.othersCores, 2)} CPUs)` : ''}`
}

// Before a measured run: give other people's work on the machine a chance to finish (--quiet-wait).
export async function settle (opts: BenchOptions, log: Log): Promise<void> {
  if (opts.quietWaitS <= 0) return
  await waitQuiet(opts.quietWaitS, 0.25, (busy) => log(`  waiting up to ${opts.quietWaitS} s for the machine to quieten (other processes use ${fmt(busy, 2)} CPUs)`))
}

async function measure (t: RunningTarget, run: () => Promise<LoadResult>): Promise<RunSummary> {
  const sampler = new ProcSampler(t.pid)
  let load: LoadResult
  try {
    load = await run()
  } catch (err) {
    sampler.stop()
    throw err
  }
  return summarize(load, sampler.stop())
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function runThroughput (id: ScenarioId, targetIds: TargetId[], set: TargetSet, ctx: BenchContext, opts: BenchOptions, log: Log): Promise<ThroughputScenarioResult> {
  const def = THROUGHPUT[id]!
  log(`\n[${id}] ${def.title}`)
  const targets: RunningTarget[] = []
  for (const tid of targetIds) {
    const t = await set.get(tid)
    if (t !== undefined) targets.push(t)
  }
  // A fixed rate is measured with the even pace first, and with autocannon's overallRate beside it.
  const tools: LoadTool[] = def.rate === undefined ? ['autocannon'] : ['paced', 'autocannon']
  // The smoke (--quick) runs wrk once, in scenario a, to prove that path works.
  if (def.wrk && opts.wrk && ctx.tools.wrk !== undefined && (!opts.quick || id === 'a')) tools.push('wrk')
  // Each load generator warms up on each target before the first round. Warmed by autocannon alone,
  // the paced load's first seconds (JIT in this process and in the target, its own connections)
  // landed in round 1: lyncproxy's round-1 p99 was 9.6 ms against 3.0 ms in rounds 2 and 3.
  const warmTools = tools.filter((tool) => tool !== 'wrk')
  for (const t of targets) {
    if (opts.warmupS === 0) break
    log(`  warm-up ${t.label} (${opts.warmupS} s${warmTools.length > 1 ? ` × ${warmTools.join(', ')}` : ''})`)
    for (const tool of warmTools) {
      const spec = loadSpec(def, t, opts.warmupS)
      await (tool === 'paced' ? runPaced({ ...spec, rate: def.rate! }) : runAutocannon(spec))
    }
  }
  const rows = new Map<string, ThroughputRow>()
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      for (const tool of tools) {
        const spec = loadSpec(def, t, opts.durationS)
        await settle(opts, log)
        const s = await measure(t, () => tool === 'wrk'
          ? runWrk(ctx.tools.wrk!, spec, path.join(ctx.tmp, 'wrk.lua'))
          : tool === 'paced' ? runPaced({ ...spec, rate: def.rate! }) : runAutocannon(spec))
        log(`  [${id}] round ${round}/${opts.rounds} ${t.label} (${tool}): ${progress(s)}`)
        const key = `${t.id}/${tool}`
        let row = rows.get(key)
        if (row === undefined) {
          row = { target: t.id, label: t.label, tool, rounds: [], median: s }
          rows.set(key, row)
        }
        row.rounds.push(s)
        await pause(300)
      }
    }
  }
  for (const row of rows.values()) row.median = medianSummary(row.rounds)
  return { kind: 'throughput', id, title: def.title, connections: def.connections, rate: def.rate ?? null, durationS: opts.durationS, rows: [...rows.values()] }
}

function backendStats (port: number, what = 'stats'): Promise<{ held: number, requests: number }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/__bench/${what}`, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { try { resolve(JSON.parse(body) as { held: number, requests: number }) } catch (err) { reject(err as Error) } })
    }).on('error', reject)
  })
}

// Waits until the backend holds `want` long polls, or until the count has stopped moving.
async function waitHeld (port: number, want: number, stallMs: number, limitMs: number): Promise<number> {
  const start = Date.now()
  let last = -1
  let lastChange = Date.now()
  for (;;) {
    const { held } = await backendStats(port)
    if (held === want) return held
    if (held !== last) { last = held; lastChange = Date.now() }
    if (Date.now() - lastChange > stallMs || Date.now() - start > limitMs) return held
    await pause(200)
  }
}

export async function runLongPolls (targetIds: TargetId[], set: TargetSet, ctx: BenchContext, opts: BenchOptions, log: Log): Promise<LongPollScenarioResult> {
  const count = opts.longPolls
  const title = `${fmt(count)} idle long polls (UCWA event channels, HTTPS) held open beside a small HTTPS load`
  log(`\n[e] ${title}`)
  const small = { connections: 10, rate: 500, durationS: Math.max(1, opts.durationS / 2) }
  const smallDef: ThroughputDef = { title: 'small load', tls: true, connections: small.connections, rate: small.rate, wrk: false }
  const targets: RunningTarget[] = []
  for (const tid of targetIds) {
    const t = await set.get(tid)
    if (t !== undefined) targets.push(t)
  }
  for (const t of targets) if (opts.warmupS > 0) await runPaced({ ...loadSpec(smallDef, t, opts.warmupS), rate: small.rate })
  const rows = new Map<TargetId, LongPollRow>()
  for (let round = 1; round <= opts.rounds; round++) {
    for (let ti = 0; ti < targets.length; ti++) {
      const t = targets[ti]!
      await settle(opts, log)
      const sampler = new ProcSampler(t.pid)
      const without = summarize(await runPaced({ ...loadSpec(smallDef, t, small.durationS), rate: small.rate }), { cpuSeconds: 0, peakRssBytes: 0, endRssBytes: 0, peakFds: 0, othersCpuSeconds: 0, seconds: 0, listenOverflows: 0 })
      const before = (await backendStats(ctx.backend.httpPort)).held
      const t0 = performance.now()
      const polls = await openLongPolls({ childDir: ctx.childDir, port: t.httpsPort, tls: true, count })
      const held = await waitHeld(ctx.backend.httpPort, before + count, opts.quick ? 1500 : 3000, 120_000) - before
      const setupSeconds = (performance.now() - t0) / 1000
      // Let the set-up's last handshakes and session tickets settle before measuring beside them.
      await pause(opts.quick ? 200 : 2000)
      const withSampler = new ProcSampler(t.pid)
      const withLoad = await runPaced({ ...loadSpec(smallDef, t, small.durationS), rate: small.rate })
      const withProc = withSampler.stop()
      const atHold = snapshot(processTree(t.pid))
      const status = await polls.status()
      await polls.close()
      const left = await waitHeld(ctx.backend.httpPort, before, opts.quick ? 1000 : 2000, 15_000)
      const proc = sampler.stop()
      let restarted = false
      if (left !== before) {
        // The proxy kept the upstream side of closed polls open (and may have more queued behind
        // them): answer them, and restart the proxy, so that no round inherits another's polls.
        await backendStats(ctx.backend.httpPort, 'release').catch(() => undefined)
        if (round < opts.rounds) {
          const fresh = await set.restart(t.id)
          if (fresh !== undefined) { targets[ti] = fresh; restarted = true }
        }
        await waitHeld(ctx.backend.httpPort, 0, 2000, 15_000)
      }
      const r: LongPollRound = {
        count,
        opened: status.opened,
        heldAtBackend: held,
        answered: status.answered,
        failed: status.lost,
        firstError: status.firstError,
        allHeld: status.opened === count && held === count && status.answered === 0 && status.lost === 0,
        released: left === before,
        restarted,
        setupSeconds,
        rssHeldMB: atHold.rssBytes / 2 ** 20,
        peakRssMB: proc.peakRssBytes / 2 ** 20,
        fdsHeld: atHold.fds,
        cpuSeconds: proc.cpuSeconds,
        without,
        with: summarize(withLoad, withProc),
      }
      const errs = (s: RunSummary): number => s.errors + s.timeouts + s.non2xx
      log(`  [e] round ${round}/${opts.rounds} ${t.label}: ${r.allHeld ? 'all held' : 'NOT all held'} (backend ${held}/${count}, answered ${r.answered}, failed ${r.failed}${r.firstError === null ? '' : ` "${r.firstError}"`}), ` +
        `set up in ${fmt(setupSeconds, 1)} s, RSS ${fmt(r.rssHeldMB)} MB, ${r.fdsHeld} fds; small-load p99 ${fmt(without.p99, 2)} → ${fmt(r.with.p99, 2)} ms` +
        `${errs(r.with) > 0 ? ` (${errs(r.with)} errors/timeouts beside the polls)` : ''}${r.released ? '' : `; ${left - before} polls still held at the backend after close${restarted ? ' (restarted)' : ''}`}`)
      let row = rows.get(t.id)
      if (row === undefined) {
        row = { target: t.id, label: t.label, rounds: [], allHeld: true, median: undefined as unknown as LongPollRow['median'] }
        rows.set(t.id, row)
      }
      row.rounds.push(r)
      await pause(opts.quick ? 300 : 1000)
    }
  }
  for (const row of rows.values()) {
    const m = (f: (r: LongPollRound) => number): number => median(row.rounds.map(f))
    const p99Without = m((r) => r.without.p99)
    const p99With = m((r) => r.with.p99)
    row.allHeld = row.rounds.every((r) => r.allHeld)
    row.median = {
      heldAtBackend: m((r) => r.heldAtBackend),
      setupSeconds: m((r) => r.setupSeconds),
      rssHeldMB: m((r) => r.rssHeldMB),
      peakRssMB: m((r) => r.peakRssMB),
      fdsHeld: m((r) => r.fdsHeld),
      p99Without,
      p99With,
      p99Ratio: p99With / p99Without,
      errorsWithout: sum(row.rounds.map((r) => r.without.errors + r.without.timeouts + r.without.non2xx)),
      errorsWith: sum(row.rounds.map((r) => r.with.errors + r.with.timeouts + r.with.non2xx)),
    }
  }
  return { kind: 'longpoll', id: 'e', title, count, tls: true, smallLoad: small, rows: [...rows.values()] }
}

export async function runSoak (set: TargetSet, opts: BenchOptions, log: Log): Promise<SoakScenarioResult | undefined> {
  const roundSeconds = opts.quick ? opts.durationS : 30
  const title = `soak: 5 rounds of ${roundSeconds} s, HTTP and HTTPS GET (25 + 25 connections), RSS and open fds after each`
  log(`\n[soak] ${title}`)
  const t = await set.get('lyncproxy')
  if (t === undefined) return undefined
  const http1: ThroughputDef = { title: 'soak http', tls: false, connections: 25, wrk: false }
  const https1: ThroughputDef = { title: 'soak https', tls: true, connections: 25, wrk: false }
  const rounds: SoakRound[] = []
  for (let round = 1; round <= 5; round++) {
    await settle(opts, log)
    const [a, b] = await Promise.all([runAutocannon(loadSpec(http1, t, roundSeconds)), runAutocannon(loadSpec(https1, t, roundSeconds))])
    // Let the connections of the round close before reading the process.
    await pause(2000)
    const s = snapshot(processTree(t.pid))
    const r: SoakRound = {
      round,
      rps: a.rps + b.rps,
      p99: Math.max(a.p99, b.p99),
      errors: a.errors + a.timeouts + a.non2xx + b.errors + b.timeouts + b.non2xx,
      rssMB: s.rssBytes / 2 ** 20,
      fds: s.fds,
    }
    rounds.push(r)
    log(`  [soak] round ${round}/5: ${fmt(r.rps)} req/s, p99 ${fmt(r.p99, 2)} ms, ${r.errors} errors; RSS ${fmt(r.rssMB, 1)} MB, ${r.fds} fds`)
  }
  const first = rounds[0]!
  // A leak grows: the bar is judged on growth over round 1; falls (idle pool sockets closing) are kept for the record.
  const change = (f: (r: SoakRound) => number): number[] => rounds.slice(1).map((r) => (f(r) - f(first)) / f(first) * 100)
  const rss = change((r) => r.rssMB)
  const fds = change((r) => r.fds)
  return {
    kind: 'soak',
    id: 'soak',
    title,
    target: 'lyncproxy',
    roundSeconds,
    rounds,
    rssDriftPct: Math.max(...rss),
    fdDriftPct: Math.max(...fds),
    rssFallPct: -Math.min(0, ...rss),
    fdFallPct: -Math.min(0, ...fds),
  }
}
