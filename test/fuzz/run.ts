// npm run fuzz -- [--runs N] [--seed S] [--path P] [--strict] [--no-shrink] [--time-limit SECONDS]
//                 [--dist DIR] [--no-build] [--regressions] [--ignore CODES]
//
// The fuzzed edge for longer than npm test runs it. Builds dist/ first (unless --no-build, or --dist
// names another build), prints the seed, and on a failure prints the shrunk case: the bytes of each
// connection as JS string literals, and an entry to paste into test/fuzz/regressions.ts, with the
// seed and path that replay it (`--seed S --path P`). Exits 1 on a failure, or when the proxy's fds
// or RSS did not stay flat (then it lists the fds left open). FUZZ_VERBOSE=1 logs every case.
//   --strict       known-open defects (known.ts) fail too, and are shrunk
//   --no-shrink    stop at the first failure
//   --regressions  replay the regression list first (known entries too, reporting what they do)
//   --ignore CODES violation codes to pass over (comma-separated), to look past a defect found
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { REPO } from './child.js'
import { FuzzHarness } from './harness.js'
import { formatReport, fuzz, replayRegression, type KnownSeen } from './property.js'
import { REGRESSIONS } from './regressions.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    seed: { type: 'string' },
    path: { type: 'string' },
    strict: { type: 'boolean', default: false },
    'no-shrink': { type: 'boolean', default: false },
    'time-limit': { type: 'string' },
    dist: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    regressions: { type: 'boolean', default: false },
    ignore: { type: 'string', default: '' },
  },
})

const seed = values.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(values.seed)
const runs = Number(values.runs)
const ignore = values.ignore.split(',').filter((c) => c !== '')
if (values.dist === undefined && !values['no-build']) {
  process.stdout.write('building dist/ (npm run build) ...\n')
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' })
}
process.stdout.write(`fuzz: seed ${seed}, ${runs} runs${values.path === undefined ? '' : `, path ${values.path}`}${values.dist === undefined ? '' : `, build ${values.dist}`}\n`)
const h = new FuzzHarness(values.dist === undefined ? {} : { dist: values.dist })
await h.start()
let code = 0
try {
  if (values.regressions) {
    for (const r of REGRESSIONS) {
      const known = new Map<string, KnownSeen>()
      const open = await replayRegression(h, r, values.strict, known, ignore)
      const codes = [...new Set(open.map((v) => v.code))].join(', ')
      const what = open.length > 0 ? `FAILS (${codes}): ${open.map((v) => `[${v.code}] ${v.detail.split('\n')[0]}`).join('; ')}` : known.size > 0 ? `known: ${[...known.keys()].join('; ')}` : 'passes'
      process.stdout.write(`regression ${JSON.stringify(r.name)}${r.known === undefined ? '' : ` (marked known: ${r.known})`}: ${what}\n`)
    }
  }
  const report = await fuzz(h, {
    runs,
    seed,
    ...(values.path === undefined ? {} : { path: values.path }),
    strict: values.strict,
    ignore,
    shrink: !values['no-shrink'],
    ...(values['time-limit'] === undefined ? {} : { timeLimitMs: Number(values['time-limit']) * 1000 }),
    log: (line) => process.stdout.write(line + '\n'),
  })
  process.stdout.write(formatReport(report, `npm run fuzz -- --runs ${runs}${values.strict ? ' --strict' : ''}`) + '\n')
  // The proxy's fds at the end, when they stayed above where they started: what is left open.
  const series = h.series.at(-1) ?? []
  if (series.length > 1 && series.at(-1)!.fds > series[0]!.fds && h.child.alive) process.stdout.write(`  proxy fds at the end (${series[0]!.fds} at the start):\n${h.child.fdTargets().map((l) => '    ' + l).join('\n')}\n`)
  if (report.failed || report.flatness.some((f) => f.violations.length > 0)) code = 1
} finally {
  await h.close()
}
process.exit(code)
