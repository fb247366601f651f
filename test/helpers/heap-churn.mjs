// Run by test/heap-policy.test.ts in a child process: applies the proxy's heap policy, holds a live
// set, then makes garbage that outlives young collections (as requests waiting for an upstream do)
// and prints the old generation's peak size and the live size after a full collection, in MB.
// Plain JavaScript on the built policy (dist), so that the child's heap holds the churn and not a
// TypeScript compiler as well, and no loader compiles anything per run.
import v8 from 'node:v8'
import { applyHeapPolicy } from '../../dist/control/heap-policy.js'

const applied = applyHeapPolicy()
const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')
const live = []
for (let i = 0; i < 300_000; i++) live.push({ i, s: `live ${i}`, a: [i, i + 1] })
const recent = new Array(200_000)
let peak = 0
for (let i = 0; i < 6_000_000; i++) {
  recent[i % recent.length] = { i, s: `recent ${i}`, a: [i] }
  if (i % 50_000 === 0) peak = Math.max(peak, oldSpace().space_size)
}
globalThis.gc?.()
const mb = (n) => Math.round(n / 1048576)
process.stdout.write(JSON.stringify({ applied, peakOldMB: mb(peak), liveMB: mb(oldSpace().space_used_size), held: live.length + recent.length }) + '\n')
