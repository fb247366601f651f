// The bench report's ratios: a bar is judged on the ratio of the medians, and the round-by-round
// ratios are shown beside it, each target against the other's run of the same round.
import t from 'tap'
import { barsOf, ratiosOf } from '../bench/report.js'
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
