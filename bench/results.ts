// The shape of a run's JSON in bench/results (version 1; bench/result-files.ts names the files), and
// the medians it quotes.
import type { LoadTool } from './load.js'
import type { MachineInfo } from './machine.js'
import type { ScenarioId } from './options.js'
import type { TargetId } from './targets.js'

export interface RunSummary {
  requests: number
  rps: number
  // Latencies in milliseconds.
  p50: number
  p99: number
  p999: number
  max: number
  // The target's process tree: CPU seconds during the run, per request, and the highest RSS seen.
  cpuSeconds: number
  cpuUsPerRequest: number
  peakRssMB: number
  errors: number
  timeouts: number
  non2xx: number
  // CPUs that other processes on the machine kept busy during the run, on average: 0 on a quiet
  // machine; anything near 1 on this 2-CPU machine means the figure is not trustworthy.
  othersCores: number
  // Connections the kernel dropped during the run because an accept queue was full (clients retry
  // after 1, 3, 7 s: the multi-second latencies and timeouts of a connection burst).
  listenOverflows: number
}

export interface ThroughputRow {
  target: TargetId
  label: string
  tool: LoadTool
  rounds: RunSummary[]
  // Each figure is the median over the rounds; errors, timeouts and non2xx are the sums.
  median: RunSummary
}

export interface ThroughputScenarioResult {
  kind: 'throughput'
  id: ScenarioId
  title: string
  connections: number
  // Fixed request rate (req/s over all connections), when the scenario has one.
  rate: number | null
  durationS: number
  rows: ThroughputRow[]
}

export interface LongPollRound {
  count: number
  opened: number
  heldAtBackend: number
  answered: number
  failed: number
  firstError: string | null
  allHeld: boolean
  // Every held request was gone from the backend a few seconds after the clients closed.
  released: boolean
  // The target was restarted after this round because it had not released them.
  restarted: boolean
  setupSeconds: number
  rssHeldMB: number
  peakRssMB: number
  fdsHeld: number
  cpuSeconds: number
  without: RunSummary
  with: RunSummary
}

export interface LongPollRow {
  target: TargetId
  label: string
  rounds: LongPollRound[]
  allHeld: boolean
  median: {
    heldAtBackend: number
    setupSeconds: number
    rssHeldMB: number
    peakRssMB: number
    fdsHeld: number
    p99Without: number
    p99With: number
    p99Ratio: number
    errorsWithout: number
    errorsWith: number
  }
}

export interface LongPollScenarioResult {
  kind: 'longpoll'
  id: 'e'
  title: string
  count: number
  tls: boolean
  smallLoad: { connections: number, rate: number, durationS: number }
  rows: LongPollRow[]
}

export interface SoakRound {
  round: number
  rps: number
  p99: number
  errors: number
  rssMB: number
  fds: number
}

export interface SoakScenarioResult {
  kind: 'soak'
  id: 'soak'
  title: string
  target: TargetId
  roundSeconds: number
  rounds: SoakRound[]
  // Largest growth of a later round over round 1, in percent (negative: every later round was lower).
  rssDriftPct: number
  fdDriftPct: number
  // Largest fall below round 1, in percent, for the record.
  rssFallPct: number
  fdFallPct: number
}

export type ScenarioResult = ThroughputScenarioResult | LongPollScenarioResult | SoakScenarioResult

export interface ProfileEntry {
  selfMs: number
  selfPct: number
  functionName: string
  location: string
}

export interface ProfileResult {
  file: string
  load: RunSummary
  samples: number
  durationMs: number
  // Whether only the samples of the measured load were counted (else the whole process life).
  windowed: boolean
  top: ProfileEntry[]
  // lyncproxy's own functions by total time (self + callees); selfPct holds that total share.
  lyncproxy: ProfileEntry[]
  // Self time grouped by where the code lives: lyncproxy, pino, node:http, TLS, GC, idle, …
  areas: Array<{ area: string, selfPct: number }>
}

export interface Ratio {
  scenario: ScenarioId
  tool: LoadTool
  // rps and p99: the scenario's figure (p99 at a fixed rate); cpuUsPerRequest: the target's CPU per
  // request, for the build before only.
  metric: 'rps' | 'p99' | 'cpuUsPerRequest'
  name: string
  // The ratio of the two medians: what a bar is judged on.
  value: number
  // Round by round, each target against the other's run of the same round (measured minutes apart).
  rounds?: number[]
}

export interface Bar {
  id: string
  scenario: string
  bar: string
  // null: not measured in this run.
  met: boolean | null
  measured: string
}

export interface BenchResults {
  version: 1
  mode: 'full' | 'quick' | 'profile'
  startedAt: string
  finishedAt: string
  machine: MachineInfo
  // before: the checkout measured as lyncproxy-before (--before), and its commit when it is a git checkout.
  settings: { rounds: number, durationS: number, warmupS: number, longPolls: number, logFile: string, wrk: boolean, quietWaitS: number, build: string, before?: { dir: string, commit: string | null } }
  skipped: Array<{ target: string, reason: string }>
  scenarios: ScenarioResult[]
  ratios: Ratio[]
  bars: Bar[]
  profile: ProfileResult | null
  // Scenarios measured again later (--merge) and put in place of the first run's.
  reruns?: Array<{ scenarios: string[], startedAt: string, finishedAt: string, loadAverage: { start: number, end: number | null } }>
}

export function median (values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = Math.floor(v.length / 2)
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

export function sum (values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

export function medianSummary (rounds: readonly RunSummary[]): RunSummary {
  const m = (k: keyof RunSummary): number => median(rounds.map((r) => r[k]))
  const s = (k: keyof RunSummary): number => sum(rounds.map((r) => r[k]))
  return {
    requests: m('requests'),
    rps: m('rps'),
    p50: m('p50'),
    p99: m('p99'),
    p999: m('p999'),
    max: m('max'),
    cpuSeconds: m('cpuSeconds'),
    cpuUsPerRequest: m('cpuUsPerRequest'),
    peakRssMB: m('peakRssMB'),
    errors: s('errors'),
    timeouts: s('timeouts'),
    non2xx: s('non2xx'),
    othersCores: m('othersCores'),
    listenOverflows: s('listenOverflows'),
  }
}
