// The bench report's ratios: a bar is judged on the ratio of the medians, and the round-by-round
// ratios are shown beside it, each target against the other's run of the same round.
import t from 'tap'
import { barsOf, ratiosOf, scenarioText } from '../bench/report.js'
import type { RunSummary, ThroughputRow, ThroughputScenarioResult } from '../bench/results.js'
import type { LoadTool } from '../bench/load.js'
import type { TargetId } from '../bench/targets.js'

function run (rps: number): RunSummary {
  return { requests: rps * 10, rps, p50: 1, p99: 2, p999: 3, max: 4, cpuSeconds: 1, cpuUsPerRequest: 1, peakRssMB: 50, errors: 0, timeouts: 0, non2xx: 0, othersCores: 0, listenOverflows: 0 }
}

function row (target: TargetId, tool: LoadTool, rounds: number[], median: number): ThroughputRow {
  return { target, label: target, tool, rounds: rounds.map(run), median: run(median) }
}

// Round 2 is slow for both targets: the medians' ratio and the rounds' ratios then differ.
const scenarioA: ThroughputScenarioResult = {
  kind: 'throughput',
  id: 'a',
  title: 'GET',
  connections: 50,
  rate: null,
  durationS: 10,
  rows: [
    row('lyncproxy', 'wrk', [11000, 6000, 10400], 10400),
    row('nginx', 'wrk', [20000, 10000, 22000], 20000),
    row('http-proxy', 'wrk', [6000, 3000], 4500),
  ],
}

t.test('each round is paired with the same round of the other target', async (t) => {
  const ratios = ratiosOf([scenarioA])
  const nginx = ratios.find((r) => r.name === 'lyncproxy / nginx')!
  t.equal(nginx.value, 10400 / 20000, 'judged: the ratio of the medians')
  t.same(nginx.rounds, [11000 / 20000, 6000 / 10000, 10400 / 22000], 'shown: round by round')
  const httpProxy = ratios.find((r) => r.name === 'lyncproxy / http-proxy')!
  t.equal(httpProxy.rounds, undefined, 'no pairing when the targets ran a different number of rounds')
})

t.test('the bar is judged on the medians, and its text carries the rounds', async (t) => {
  const bar = barsOf({ scenarios: [scenarioA], ratios: ratiosOf([scenarioA]) }).find((b) => b.id === 'get-rps')!
  t.equal(bar.met, true, '0.52× nginx and 2.31× http-proxy: met, though round 3 alone was below 0.5×')
  t.match(bar.measured, 'lyncproxy / nginx = 0.52× (wrk; rounds 0.55, 0.60, 0.47)')
  t.match(bar.measured, 'lyncproxy / http-proxy = 2.31× (wrk)', 'no rounds where none pair')
})

// --before: the build before in the same rounds. Its CPU per request is a ratio of its own.
function cpuRun (rps: number, cpuUsPerRequest: number): RunSummary {
  return { ...run(rps), cpuUsPerRequest }
}

const beforeRows = (tool: LoadTool): ThroughputRow[] => [
  { target: 'lyncproxy', label: 'lyncproxy', tool, rounds: [cpuRun(9000, 100), cpuRun(8000, 110)], median: cpuRun(8500, 105) },
  { target: 'lyncproxy-before', label: 'lyncproxy, build before (abc1234)', tool, rounds: [cpuRun(10000, 125), cpuRun(8000, 100)], median: cpuRun(9000, 120) },
]

t.test('lyncproxy / build before: req/s and CPU µs per request, per scenario and load generator', async (t) => {
  const a: ThroughputScenarioResult = { ...scenarioA, rows: [...scenarioA.rows, ...beforeRows('wrk'), ...beforeRows('autocannon')] }
  const c: ThroughputScenarioResult = { ...scenarioA, id: 'c', title: 'POST', rows: beforeRows('autocannon') }
  const ratios = ratiosOf([a, c]).filter((r) => r.name === 'lyncproxy / build before')
  t.same(ratios.map((r) => `${r.scenario}/${r.tool}/${r.metric}`), ['a/autocannon/rps', 'a/autocannon/cpuUsPerRequest', 'a/wrk/rps', 'a/wrk/cpuUsPerRequest', 'c/autocannon/rps', 'c/autocannon/cpuUsPerRequest'])
  const rps = ratios.find((r) => r.scenario === 'c' && r.metric === 'rps')!
  t.equal(rps.value, 8500 / 9000, 'req/s: the ratio of the medians')
  t.same(rps.rounds, [9000 / 10000, 8000 / 8000], 'req/s round by round')
  const cpu = ratios.find((r) => r.scenario === 'c' && r.metric === 'cpuUsPerRequest')!
  t.equal(cpu.value, 105 / 120, 'CPU µs per request: the ratio of the medians')
  t.same(cpu.rounds, [100 / 125, 110 / 100], 'CPU µs per request round by round')

  const text = scenarioText(c, ratiosOf([c]))
  t.match(text, 'req/s ratios: lyncproxy / build before 0.94×')
  t.match(text, 'CPU µs/req ratios: lyncproxy / build before 0.88×')
  t.match(text, 'lyncproxy, build before (abc1234)', 'the table names the build before with its commit')
})

t.test('the build before changes no bar', async (t) => {
  const a: ThroughputScenarioResult = { ...scenarioA, rows: [...scenarioA.rows, ...beforeRows('wrk')] }
  const without = barsOf({ scenarios: [scenarioA], ratios: ratiosOf([scenarioA]) })
  const withBefore = barsOf({ scenarios: [a], ratios: ratiosOf([a]) })
  t.same(withBefore, without)
})
