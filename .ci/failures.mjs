// After a red `npm test`: the failures again, in plain text, from the TAP that tap keeps of each test
// file (.tap/test-results/). The terse reporter draws its progress with terminal control sequences,
// and a CI log that keeps only part of the output can lose the failures among them; this prints each
// failed assertion with the start of its diagnostics, and names the test files that left no results
// at all (a file that hung or a runner that was stopped).
import fs from 'node:fs'
import path from 'node:path'

const RESULTS = '.tap/test-results'
const DIAG_LINES = 12

function filesUnder (dir) {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
}

let failed = 0
for (const file of filesUnder(RESULTS).sort()) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const shown = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (!/^\s*not ok /.test(line) || /# (TODO|SKIP)/i.test(line)) continue
    shown.push(line)
    // The YAML diagnostics follow, indented further than the assertion.
    const indent = line.length - line.trimStart().length
    for (let j = i + 1; j < lines.length && j <= i + DIAG_LINES; j++) {
      const next = lines[j]
      if (next.trim() === '' || next.length - next.trimStart().length <= indent) break
      shown.push(next)
    }
  }
  if (shown.length === 0) continue
  failed++
  console.log(`\n== ${path.relative(RESULTS, file).replace(/\.tap$/, '')}`)
  for (const line of shown) console.log(line)
}

const expected = [...filesUnder('test'), ...filesUnder('examples')]
  .filter((f) => /\.test\.(ts|mjs)$/.test(f) && !f.startsWith(path.join('test', 'fuzz')) && !f.startsWith(path.join('test', 'helpers')))
const missing = expected.filter((f) => !fs.existsSync(path.join(RESULTS, f + '.tap')))
if (missing.length > 0) console.log(`\n== test files with no results: ${missing.join(', ')}`)
// tap's process tracker records how each test file's process ended (.tap/processinfo): one that
// passed every assertion can still have died of a signal or exited non-zero, which fails the run too.
const PROCESSINFO = '.tap/processinfo'
const endings = filesUnder(PROCESSINFO).flatMap((f) => {
  try {
    const p = JSON.parse(fs.readFileSync(f, 'utf8'))
    // Only the test files' own processes: a child a test started may end non-zero on purpose.
    if (p.parent !== null && p.parent !== undefined) return []
    return (p.code !== 0 && p.code !== null) || (p.signal !== null && p.signal !== undefined) ? [`${(p.argv ?? []).slice(1).join(' ')}: code ${p.code}, signal ${p.signal}`] : []
  } catch {
    return []
  }
})
if (endings.length > 0) console.log(`\n== processes that did not exit 0:\n${endings.join('\n')}`)
console.log(`\nfailures: ${failed} test file(s) with a failed assertion, ${missing.length} with no results, ${endings.length} process(es) not exiting 0`)
