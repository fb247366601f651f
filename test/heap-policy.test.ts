// The proxy fixes how far V8 lets the old generation grow past its live size (control/heap-policy.ts),
// unless the operator chose a value. Measured in child processes that churn promoted garbage, as a
// proxy under 1,000 busy clients does.
import { execFile } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { HEAP_GROWING_PERCENT, operatorSetHeapGrowth } from '../src/control/heap-policy.js'
import { cleanEnv, REPO } from './helpers/cli.js'

// `held` is printed only so that the child's live set is used, and stays live.
interface Churn { applied: boolean, peakOldMB: number, liveMB: number }

// The child is plain JavaScript on dist (test/helpers/heap-churn.mjs): no TypeScript loader.
function churn (nodeFlags: string[]): Promise<Churn> {
  return new Promise((resolve, reject) => {
    // env -u NODE_OPTIONS: see test/helpers/cli.ts (tap's process tracker puts itself back there).
    execFile('env', ['-u', 'NODE_OPTIONS', process.execPath, '--expose-gc', ...nodeFlags, path.join(REPO, 'test/helpers/heap-churn.mjs')], { env: cleanEnv(), timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) { reject(new Error(`${err.message}\n${stderr}`)); return }
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Churn)
    })
  })
}

t.test('an operator\'s own --heap-growing-percent is recognised in every spelling node takes', async (t) => {
  t.ok(operatorSetHeapGrowth(['--heap-growing-percent=50'], undefined))
  t.ok(operatorSetHeapGrowth(['--heap_growing_percent=50'], undefined))
  t.ok(operatorSetHeapGrowth([], '--max-old-space-size=512 --heap-growing-percent=50'))
  t.ok(operatorSetHeapGrowth([], '  --heap_growing_percent=80  '))
  t.notOk(operatorSetHeapGrowth(['--max-semi-space-size=8', '--heap-growing'], '--trace-gc'), 'other flags are not mistaken for it')
  t.notOk(operatorSetHeapGrowth([], undefined))
})

t.test('the policy holds the old generation near its live size while promoted garbage churns', async (t) => {
  const [policy, operator] = await Promise.all([churn([]), churn(['--heap-growing-percent=300'])])
  t.ok(policy.applied, `the policy applied (${HEAP_GROWING_PERCENT} %)`)
  t.notOk(operator.applied, 'an operator\'s value is left in place')
  t.ok(policy.peakOldMB < 2.2 * policy.liveMB, `peak old generation ${policy.peakOldMB} MB for ${policy.liveMB} MB live`)
  t.ok(operator.peakOldMB > 1.5 * policy.peakOldMB, `with the operator's 300 %, the peak is ${operator.peakOldMB} MB against ${policy.peakOldMB} MB`)
})
