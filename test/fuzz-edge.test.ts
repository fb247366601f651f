// The fuzzed edge (issue 16 §2): generated traffic from fast-check (test/fuzz/arbitraries.ts)
// against the built proxy in a child process, with the chaos upstream behind a recording relay, and
// every invariant checked after every case (test/fuzz/oracle.ts): the process alive and serving,
// one outcome per request, nothing unpublished, smuggled or unsent at the upstream, no body
// crossing, fds and RSS flat. First the regression list, then a bounded run with a fixed seed.
// `npm run fuzz -- --runs N --seed S` runs longer and prints a failure ready to paste into
// test/fuzz/regressions.ts.
//
// No wall-clock assertions: every wait is a deadline derived from the proxy's configured timeouts
// (test/fuzz/client.ts), and the run stops generating at a time limit well inside tap's timeout, so
// a busy machine runs fewer cases rather than failing.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { REPO } from './fuzz/child.js'
import { FuzzHarness } from './fuzz/harness.js'
import { formatReport, fuzz, replayRegression, type KnownSeen } from './fuzz/property.js'
import { REGRESSIONS } from './fuzz/regressions.js'

const SEED = 20261202
const RUNS = Number(process.env.FUZZ_RUNS ?? 150)
// Generation and shrinking stop here; tap's timeout for the file is 180 s, and one case takes at most
// about 15 s (client deadlines, test/fuzz/client.ts).
const TIME_LIMIT_MS = 100_000

t.test('the fuzzed edge', async (t) => {
  if (!fs.existsSync(path.join(REPO, 'dist/control/proxy.js'))) {
    t.fail('dist/ is missing: npm test builds it; alone, run npm run build first')
    return
  }
  const h = new FuzzHarness()
  await h.start()
  t.teardown(async () => {
    // Known defect, cause not yet found: now and then (1 run in 3 on 2026-12-03) something keeps
    // this process alive after every assertion has been made, and tap then kills it at its timeout.
    // In ac5cdb1's CI run the watchdog, then set after the close, never fired: the close itself had
    // not finished. This timer is unref'd and set before the close, so it fires only in those cases:
    // it names what is still open, for whoever looks next, and lets the process end with its results.
    let step = 'closing the harness'
    setTimeout(() => {
      console.error(`# still open ${step === 'closed' ? 'after the fuzz harness closed' : `while ${step}`}: ${process.getActiveResourcesInfo().join(', ')}`)
      process.exit()
    }, 15_000).unref()
    await h.close()
    step = 'closed'
  })

  await t.test('regressions', async (t) => {
    for (const r of REGRESSIONS) {
      if (r.known !== undefined) {
        t.skip(`${r.name}: ${r.known}`, () => {})
        continue
      }
      const known = new Map<string, KnownSeen>()
      const open = await replayRegression(h, r, false, known)
      t.same(open.map((v) => `[${v.code}] ${v.detail}`), [], r.name)
      for (const k of known.values()) t.comment(`${r.name}: known-open defect seen: ${k.reason}`)
    }
  })

  await t.test(`generated traffic, seed ${SEED}`, async (t) => {
    const report = await fuzz(h, { runs: RUNS, seed: SEED, timeLimitMs: TIME_LIMIT_MS, ...(process.env.FUZZ_VERBOSE === undefined ? {} : { log: (line: string) => console.error(line) }) })
    t.comment(formatReport(report, `npm run fuzz -- --runs ${RUNS}`))
    if (report.failed) t.fail(`a case failed (the report above has it shrunk, with its replay and a regression entry): ${report.violations.map((v) => `[${v.code}] ${v.detail.split('\n')[0]}`).join('; ')}`)
    else t.ok(report.ran >= 20, `enough cases ran to mean something (${report.ran})`)
    for (const f of report.flatness.filter((x) => x.judged)) t.same(f.violations.map((v) => `[${v.code}] ${v.detail}`), [], `fds and RSS flat: ${f.summary}`)
  })
})
