// `npm run bench`: issue 6's harness. Builds lyncproxy, prepares lab certificates, starts the backend,
// then measures every available target scenario by scenario, prints the tables and the bar, and
// writes the run's JSON and Markdown report (bench/result-files.ts names them). See
// `npm run bench -- --help`.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateConfigObject } from '../src/config/load.js'
import { labCertificateRequest } from '../src/control/lab-cert-request.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { beforeBuildProblem, resolveBefore, type BeforeBuild } from './before.js'
import { fdLimit, machineInfo } from './machine.js'
import { parseOptions, USAGE, type BenchOptions, type ScenarioId } from './options.js'
import { runProfile } from './profile.js'
import { startReadyChild, transpileChildren } from './children.js'
import { barsOf, barsText, machineLine, markdown, ratiosOf, scenarioText } from './report.js'
import { newestFullRun, runFileBase } from './result-files.js'
import type { BenchResults, ProfileResult, ScenarioResult } from './results.js'
import { runLongPolls, runSoak, runThroughput, TargetSet, type Log } from './scenarios.js'
import { findTool, killAllChildren, lyncproxyConfig, targetLabel, type BenchContext, type LabFiles, type TargetId } from './targets.js'

const repo = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const INSTALL_HINT = 'apt-get install nginx-light haproxy wrk'
const t0 = Date.now()
const print = (text: string): void => { process.stdout.write(text + '\n') }
// Progress lines carry the time since the start, so a slow step shows.
const log: Log = (line) => {
  const s = Math.round((Date.now() - t0) / 1000)
  const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
  const lead = /^\n*/.exec(line)![0]
  print(`${lead}${stamp} ${line.slice(lead.length)}`)
}

// Client connections a run holds at once, and what that asks of the per-process file limit: a proxy
// holds two descriptors per forwarded connection.
function fdsNeeded (opts: BenchOptions): number {
  const clients = Math.max(opts.scenarios.includes('d') ? 1000 : 100, opts.scenarios.includes('e') ? opts.longPolls + 50 : 0)
  return 2 * clients + 600
}

function ensureFdLimit (opts: BenchOptions): void {
  const need = fdsNeeded(opts)
  const { soft, hard } = fdLimit()
  if (soft >= need) return
  if (hard >= need && process.env.LYNCPROXY_BENCH_REEXEC === undefined) {
    log(`open-file limit ${soft} is below the ${need} this run needs; re-running with ulimit -n ${hard}`)
    const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${hard} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, LYNCPROXY_BENCH_REEXEC: '1' },
    })
    process.exit(r.status ?? 1)
  }
  const fit = Math.max(100, Math.floor((soft - 700) / 2))
  log(`WARNING: the open-file limit is ${soft} (hard ${hard}); ${opts.longPolls} long polls need about ${need}. ` +
    `Raise it (as root: ulimit -n 20000, or LimitNOFILE= for a service) to measure the bar; this run uses ${fit} long polls.`)
  opts.longPolls = Math.min(opts.longPolls, fit)
}

// tsc emits even when it reports type errors; a tree that others are editing may have some for a
// moment. The run then goes on with what was emitted, and says so.
function build (): 'ok' | 'type errors' {
  log('building dist/ (tsc -p tsconfig.build.json), so that the bench measures the shipped program')
  const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: repo, encoding: 'utf8' })
  if (r.status === 0) return 'ok'
  const errors = `${r.stdout}${r.stderr}`.trim().split('\n')
  log(`WARNING: the build reported ${errors.filter((l) => l.includes('error TS')).length} type error(s); measuring dist/ as emitted:\n  ${errors.slice(0, 10).join('\n  ')}`)
  return 'type errors'
}

function transpileAll (): string {
  return transpileChildren(repo, ['backend', 'http-proxy', 'longpoll-clients', 'tls-pipe', 'forwarder-undici'])
}

async function labFiles (tmp: string): Promise<LabFiles> {
  const certsDir = path.join(tmp, 'certs')
  const lab = { certsDir } as LabFiles
  // The certificates the config asks for, issued the way lyncproxy itself would: it finds and reuses them.
  const config = lyncproxyConfig({ lab, backend: { pid: 0, httpPort: 8080, httpsPort: 4443 } }, { http: 80, https: 443 })
  const loaded = validateConfigObject(config, { file: path.join(tmp, 'lyncproxy.yaml'), baseDir: tmp })
  const certs = await ensureLabCertificates(labCertificateRequest(loaded.config))
  const internal = certs.internal.get('fe')
  if (internal === undefined) throw new Error('no internal certificate for pool fe')
  const combinedFile = path.join(certsDir, 'external-combined.pem')
  writeFileSync(combinedFile, certs.external.cert.trimEnd() + '\n' + certs.external.key.trimEnd() + '\n', { mode: 0o600 })
  return {
    certsDir,
    caFile: certs.caFile,
    certFile: certs.external.certFile,
    keyFile: certs.external.keyFile,
    combinedFile,
    internalCertFile: internal.certFile,
    internalKeyFile: internal.keyFile,
  }
}

async function startBackend (childDir: string, lab: LabFiles): Promise<{ pid: number, httpPort: number, httpsPort: number, stop: () => Promise<void> }> {
  const c = await startReadyChild<{ httpPort: number, httpsPort: number, bodyBytes: number }>(path.join(childDir, 'backend.mjs'), ['--cert', lab.internalCertFile, '--key', lab.internalKeyFile], repo)
  log(`backend: pid ${c.pid}, http :${c.ready.httpPort}, https :${c.ready.httpsPort}, body ${c.ready.bodyBytes} bytes`)
  return { pid: c.pid, httpPort: c.ready.httpPort, httpsPort: c.ready.httpsPort, stop: c.stop }
}

// --merge: the scenarios of this run replace the same scenarios of an earlier full run.
function mergeInto (file: string | undefined, out: string, fresh: BenchResults): BenchResults {
  if (file === undefined) throw new Error(`--merge: ${out} holds no full run of ${fresh.machine.shortName}; run the full bench first`)
  const old = JSON.parse(readFileSync(file, 'utf8')) as BenchResults
  const ids = new Set(fresh.scenarios.map((s) => s.id))
  const order = ['a', 'b', 'c', 'd', 'e', 'f', 'soak']
  const scenarios = [...old.scenarios.filter((s) => !ids.has(s.id)), ...fresh.scenarios].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id))
  const skipped = [...old.skipped, ...fresh.skipped.filter((s) => !old.skipped.some((o) => o.target === s.target))]
  return {
    ...old,
    scenarios,
    skipped,
    ratios: ratiosOf(scenarios),
    profile: fresh.profile ?? old.profile,
    reruns: [...(old.reruns ?? []), { scenarios: [...ids], startedAt: fresh.startedAt, finishedAt: fresh.finishedAt, loadAverage: fresh.machine.loadAverage }],
  }
}

async function main (): Promise<number> {
  const opts = parseOptions(process.argv.slice(2))
  if (opts.help) { process.stdout.write(USAGE); return 0 }
  // Checked before anything is built or started: a missing build before is a mistake in the command.
  const beforeProblem = opts.before === undefined ? undefined : beforeBuildProblem(opts.before)
  if (beforeProblem !== undefined) { process.stderr.write(beforeProblem + '\n'); return 1 }
  const before: BeforeBuild | undefined = opts.before === undefined ? undefined : resolveBefore(opts.before)
  const startedAt = new Date()
  ensureFdLimit(opts)
  const buildStatus = opts.build ? build() : 'skipped (--no-build)'
  if (!existsSync(path.join(repo, 'dist/cli/main.js'))) {
    process.stderr.write('dist/cli/main.js is missing: run npm run build (or drop --no-build)\n')
    return 1
  }
  const childDir = transpileAll()
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-bench-'))
  // Interrupted (Ctrl-C, a test runner's timeout): no target, backend or nginx may outlive the run.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every target`)
      killAllChildren()
      rmSync(tmp, { recursive: true, force: true })
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
  const tools = { nginx: findTool('nginx'), haproxy: findTool('haproxy'), wrk: opts.wrk ? findTool('wrk') : undefined }
  const autocannonVersion = (JSON.parse(readFileSync(path.join(repo, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string }).version
  const machine = machineInfo({ ...tools, wrk: findTool('wrk') }, autocannonVersion)
  const skipped: BenchResults['skipped'] = []
  const missing = [tools.nginx === undefined ? 'nginx' : '', tools.haproxy === undefined ? 'haproxy' : '', findTool('wrk') === undefined ? 'wrk' : ''].filter((s) => s !== '')
  log(`lyncproxy bench (${opts.profileOnly ? 'profile' : opts.quick ? 'quick' : 'full'}): ${machineLine({ machine } as BenchResults)}`)
  const busy = machine.loadAverage.start > machine.nproc / 2
  if (busy) log(`WARNING: the 1-minute load average is ${machine.loadAverage.start} on ${machine.nproc} CPUs: something else is running, and every figure of this run will be skewed`)
  if (before !== undefined) log(`build before: ${before.main}${before.commit === undefined ? ' (not a git checkout)' : ` at ${before.commit}`}, measured as lyncproxy-before`)
  if (missing.length > 0) log(`not installed: ${missing.join(', ')}; those targets/loads are skipped (${INSTALL_HINT})`)
  for (const id of opts.targets) {
    if (id === 'nginx' && tools.nginx === undefined) skipped.push({ target: 'nginx', reason: `not installed (${INSTALL_HINT})` })
    if (id === 'haproxy' && tools.haproxy === undefined) skipped.push({ target: 'HAProxy', reason: `not installed (${INSTALL_HINT})` })
  }
  if (opts.wrk && tools.wrk === undefined) skipped.push({ target: 'wrk (load)', reason: `not installed (${INSTALL_HINT})` })

  let backend: Awaited<ReturnType<typeof startBackend>> | undefined
  const scenarios: ScenarioResult[] = []
  let profile: ProfileResult | null = null
  let failures = 0
  try {
    const lab = await labFiles(tmp)
    backend = await startBackend(childDir, lab)
    let ctx: BenchContext = {
      repo,
      tmp,
      lab,
      backend,
      childDir,
      tools,
      logFile: opts.logFile,
      maxConnections: Math.max(1100, opts.longPolls + 100),
      fdLimit: fdLimit().soft,
      ...(before === undefined ? {} : { before }),
    }
    let set = new TargetSet(ctx, log)
    for (const id of opts.scenarios) {
      try {
        if (id === 'e') {
          // Beside lyncproxy, the floor: what any Node process holds for the same polls. The report
          // shows it beside the memory bar of issue 6.
          const ids = opts.targets.flatMap((t): TargetId[] => t === 'lyncproxy' ? ['lyncproxy', 'tls-pipe'] : [t])
          scenarios.push(await runLongPolls(ids, set, ctx, opts, log))
        } else if (id === 'soak') {
          const soak = await runSoak(set, opts, log)
          if (soak !== undefined) scenarios.push(soak)
        } else {
          // Scenario a also measures lyncproxy with two workers: the 1 → 2 scaling of issue 6. In the
          // GET bars (a, b and f) the smallest undici forwarder stands beside lyncproxy as the floor.
          const beside: Partial<Record<ScenarioId, TargetId[]>> = { a: ['lyncproxy-2w', 'undici-floor'], b: ['undici-floor'], f: ['undici-floor'] }
          // The build before is measured right after lyncproxy, ahead of the targets beside it: the
          // runs its ratios pair are then the closest in time a round has.
          const paired: TargetId[] = opts.targets.includes('lyncproxy-before') ? ['lyncproxy', 'lyncproxy-before'] : ['lyncproxy']
          const ids = opts.targets.filter((t) => t !== 'lyncproxy-before' || !opts.targets.includes('lyncproxy'))
            .flatMap((t): TargetId[] => t === 'lyncproxy' ? [...paired, ...(beside[id] ?? [])] : [t])
          scenarios.push(await runThroughput(id, ids, set, ctx, opts, log))
        }
        print(scenarioText(scenarios[scenarios.length - 1]!, ratiosOf(scenarios)))
      } catch (err) {
        failures++
        log(`[${id}] failed: ${(err as Error).stack ?? String(err)}`)
      }
      for (const [tid, reason] of set.failed) {
        const label = targetLabel(tid, ctx)
        if (!skipped.some((s) => s.target === label)) skipped.push({ target: label, reason })
      }
      if (!opts.quick) {
        await set.stopAll()
        // The backend is renewed with the targets. After scenario e it kept 600-700 MB and spent the
        // next scenario's first rounds shrinking it: in scenario f the direct backend's p99.9 was
        // 36 and 29 ms in rounds 1 and 2 and 4 ms in round 3, and every target behind it paid for
        // those pauses in whichever round they fell.
        const old = backend
        backend = undefined
        await old.stop()
        const fresh = await startBackend(childDir, lab)
        backend = fresh
        ctx = { ...ctx, backend: fresh }
        set = new TargetSet(ctx, log)
      }
    }
    await set.stopAll()
    if (opts.profile) {
      try {
        const out = opts.out ?? path.join(repo, 'bench/results')
        profile = await runProfile(ctx, path.join(out, 'profile'), opts.profileOnly ? opts.durationS : Math.min(opts.durationS, 10), opts.warmupS, log) ?? null
      } catch (err) {
        failures++
        log(`[profile] failed: ${(err as Error).stack ?? String(err)}`)
      }
    }
  } finally {
    await backend?.stop()
    rmSync(tmp, { recursive: true, force: true })
  }

  machine.loadAverage.end = Math.round(os.loadavg()[0]! * 100) / 100
  const ratios = ratiosOf(scenarios)
  const results: BenchResults = {
    version: 1,
    mode: opts.profileOnly ? 'profile' : opts.quick ? 'quick' : 'full',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    settings: { rounds: opts.rounds, durationS: opts.durationS, warmupS: opts.warmupS, longPolls: opts.longPolls, logFile: opts.logFile, wrk: tools.wrk !== undefined, quietWaitS: opts.quietWaitS, build: buildStatus, ...(before === undefined ? {} : { before: { dir: before.dir, commit: before.commit ?? null } }) },
    skipped,
    scenarios,
    ratios,
    bars: [],
    profile,
  }
  const out = opts.out ?? path.join(repo, 'bench/results')
  const final = opts.merge ? mergeInto(newestFullRun(out, machine.shortName), out, results) : results
  final.bars = barsOf(final, final.mode !== 'quick')

  if (!opts.profileOnly) {
    print('\n══ summary ══')
    print(machineLine(final))
    for (const s of final.scenarios) print(scenarioText(s, final.ratios))
    print('\nThe bar of issue 6:')
    print(barsText(final.bars))
  }
  mkdirSync(out, { recursive: true })
  const base = runFileBase(final)
  writeFileSync(path.join(out, `${base}.json`), JSON.stringify(final, null, 2) + '\n')
  writeFileSync(path.join(out, `${base}.md`), markdown(final))
  log(`\nwrote ${path.relative(process.cwd(), path.join(out, `${base}.json`))} and ${base}.md (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s)`)
  return failures === 0 ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
