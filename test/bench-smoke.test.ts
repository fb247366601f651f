// The benchmark harness (issue 6) runs: `npm run bench -- --quick` exits 0 and writes results of the
// expected shape. It asserts no speed; the numbers of a smoke run mean nothing.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const KILL_AFTER_MS = 150_000

// Two bench runs, each killed after KILL_AFTER_MS at the latest.
t.setTimeout(2 * KILL_AFTER_MS + 20_000)

// The harness runs in a process group of its own, so that a timeout (ours or tap's) kills it
// together with every target it started: nginx or a backend must never outlive the test.
function runBench (t: Test, args: string[]): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', './bench/register.mjs', 'bench/run.ts', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let running = true
    const killGroup = (): void => { if (running) try { process.kill(-child.pid!, 'SIGKILL') } catch { /* already gone */ } }
    const timer = setTimeout(killGroup, KILL_AFTER_MS)
    const onSignal = (): void => { killGroup(); process.exit(1) }
    process.once('SIGTERM', onSignal)
    t.teardown(killGroup)
    let output = ''
    child.stdout.on('data', (c: Buffer) => { output += c.toString() })
    child.stderr.on('data', (c: Buffer) => { output += c.toString() })
    child.on('close', (code) => {
      running = false
      clearTimeout(timer)
      process.off('SIGTERM', onSignal)
      resolve({ code, output })
    })
  })
}

interface Row { target: string, tool?: string, rounds: unknown[], median: Record<string, number | null> }
interface Scenario { kind: string, id: string, rows: Row[] }

t.test('npm run bench -- --quick runs every available target and writes the run\'s DATE-MACHINE-quick.json and .md', async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-bench-smoke-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  // dist/ comes from npm install (prepare); build only when it is missing.
  const build = existsSync(path.join(root, 'dist/cli/main.js')) ? ['--no-build'] : []
  const { code, output } = await runBench(t, ['--quick', '--out', out, ...build])
  t.equal(code, 0, `exit status 0; output:\n${output.slice(-3000)}`)

  const written = readdirSync(out).filter((n) => n.endsWith('.json'))
  t.equal(written.length, 1, `one JSON written to --out: ${written.join(', ')}`)
  t.match(written[0] ?? '', /^\d{4}-\d{2}-\d{2}-.+-quick\.json$/, 'named by the day, the machine and the mode')
  if (written[0] === undefined) return
  const file = path.join(out, written[0])
  const r = JSON.parse(readFileSync(file, 'utf8')) as {
    version: number
    mode: string
    machine: { nproc: number, cpuModel: string, node: string }
    scenarios: Scenario[]
    ratios: unknown[]
    bars: Array<{ id: string, met: boolean | null }>
    skipped: unknown[]
  }
  t.equal(r.version, 1)
  t.equal(r.mode, 'quick')
  t.ok(r.machine.nproc >= 1 && r.machine.cpuModel !== '' && r.machine.node === process.version, 'machine described')
  t.same(r.scenarios.map((s) => s.id), ['a', 'b', 'e'], 'quick runs scenarios a, b and e')

  for (const id of ['a', 'b']) {
    const s = r.scenarios.find((x) => x.id === id)!
    t.equal(s.kind, 'throughput')
    const targets = s.rows.filter((row) => row.tool === 'autocannon').map((row) => row.target)
    t.ok(targets.includes('direct') && targets.includes('lyncproxy') && targets.includes('http-proxy'), `scenario ${id}: the Node targets were measured`)
    // The floor stands beside lyncproxy over HTTP and over TLS on both legs; every row's requests
    // must be answered (below), which over TLS holds only if its verified upstream leg works.
    t.ok(targets.includes('undici-floor'), `scenario ${id}: the minimal undici forwarder was measured`)
    for (const row of s.rows) {
      t.equal(row.rounds.length, 1, `${id}/${row.target}/${row.tool}: one round`)
      t.ok(typeof row.median.rps === 'number' && row.median.rps > 0, `${id}/${row.target}/${row.tool}: requests were answered`)
      for (const k of ['p50', 'p99', 'p999', 'cpuSeconds', 'peakRssMB', 'errors', 'non2xx']) t.type(row.median[k], 'number', `${id}/${row.target}: ${k}`)
    }
  }
  const e = r.scenarios.find((x) => x.id === 'e') as Scenario & { count: number, rows: Array<Row & { allHeld: boolean }> }
  t.equal(e.kind, 'longpoll')
  t.equal(e.count, 200, 'the smoke holds 200 long polls')
  t.ok(e.rows.some((row) => row.target === 'lyncproxy'), 'lyncproxy took the long polls')
  for (const row of e.rows) t.type(row.allHeld, 'boolean')
  // The floor beside lyncproxy: a byte pipe that terminates TLS and opens TLS to the backend. Its
  // polls reach the backend only if both of its TLS legs work.
  const floor = e.rows.find((row) => row.target === 'tls-pipe')
  t.equal(floor?.median['heldAtBackend'], 200, 'the Node TLS pipe (the floor) carried every poll to the backend')

  t.ok(Array.isArray(r.ratios), 'ratios listed')
  t.same(r.bars.map((b) => b.id), ['get-rps', 'get-p99-2000', 'https-rps', 'conn-1000', 'longpoll-5000', 'soak', 'workers'], 'every bar of issue 6 is reported')
  const md = readFileSync(file.replace(/\.json$/, '.md'), 'utf8')
  t.match(md, /## The bar \(issue 6\)/)
  t.match(md, /## a: HTTP GET/)
})

// --before with this very checkout as the build before: proves the target starts from another
// directory's dist/, is measured in the same round as lyncproxy, and that its ratios are written.
// Scenario c only: lyncproxy and the build before are then the only targets started.
t.test('npm run bench -- --quick --before DIR measures the build before beside lyncproxy and writes lyncproxy / build before', async (t) => {
  t.ok(existsSync(path.join(root, 'dist/cli/main.js')), 'dist/ is built (the run above builds it when missing)')
  const out = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-bench-smoke-before-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const { code, output } = await runBench(t, ['--quick', '--scenarios', 'c', '--targets', 'lyncproxy', '--before', root, '--no-wrk', '--no-build', '--out', out])
  t.equal(code, 0, `exit status 0; output:\n${output.slice(-3000)}`)
  const written = readdirSync(out).filter((n) => n.endsWith('.json'))
  if (written[0] === undefined) { t.fail('no JSON written'); return }
  const file = path.join(out, written[0])
  const r = JSON.parse(readFileSync(file, 'utf8')) as {
    settings: { before?: { dir: string, commit: string | null } }
    scenarios: Array<{ id: string, rows: Array<Row & { label: string }> }>
    ratios: Array<{ scenario: string, tool: string, metric: string, name: string, value: number }>
  }
  t.equal(r.settings.before?.dir, root, 'the run names the build before')
  const c = r.scenarios.find((s) => s.id === 'c')!
  t.same(c.rows.map((row) => row.target), ['lyncproxy', 'lyncproxy-before'], 'measured in the same round, right after lyncproxy')
  const before = c.rows.find((row) => row.target === 'lyncproxy-before')!
  t.equal(before.label, `lyncproxy, build before (${r.settings.before?.commit ?? ''})`, 'labelled with its commit')
  t.ok(typeof before.median.rps === 'number' && before.median.rps > 0, 'the build before answered requests')
  for (const metric of ['rps', 'cpuUsPerRequest']) {
    const ratio = r.ratios.find((x) => x.scenario === 'c' && x.tool === 'autocannon' && x.name === 'lyncproxy / build before' && x.metric === metric)
    t.ok(ratio !== undefined && Number.isFinite(ratio.value) && ratio.value > 0, `lyncproxy / build before (${metric}) in the JSON`)
  }
  t.match(output, /req\/s ratios: lyncproxy \/ build before \d/, 'printed: the req/s ratio')
  t.match(output, /CPU µs\/req ratios: lyncproxy \/ build before \d/, 'printed: the CPU ratio')
  t.match(readFileSync(file.replace(/\.json$/, '.md'), 'utf8'), /CPU µs\/req ratios: lyncproxy \/ build before \d/, 'and in the .md')
})
