// The command line of `npm run bench`.
import { parseArgs } from 'node:util'
import type { TargetId } from './targets.js'

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'soak'
export const ALL_SCENARIOS: ScenarioId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'soak']
export const ALL_TARGETS: TargetId[] = ['direct', 'lyncproxy', 'http-proxy', 'nginx', 'haproxy']
// Named in --targets only together with --before, which adds it by itself.
const NAMEABLE_TARGETS: TargetId[] = [...ALL_TARGETS, 'lyncproxy-before']

export const USAGE = `Usage: npm run bench -- [options]

Measures lyncproxy against the backend alone, bare http-proxy, nginx and HAProxy (issue 6).

Options:
  --quick             a seconds-long smoke: one round, 1.5 s per run, no warm-up, scenarios a,
                      b and a small e (200 long polls); proves the harness works, asserts no speed
  --cpu-prof          only profile lyncproxy (node --cpu-prof) under scenario a and print the
                      top self-time functions
  --no-cpu-prof       skip the profile step that a full run ends with
  --rounds N          rounds per target (default 3; --quick 1)
  --duration S        seconds per measured run (default 10; --quick 1.5)
  --warmup S          seconds of load before a target's first round (default 2; --quick 0)
  --scenarios LIST    comma-separated, from a,b,c,d,e,f,soak (default: all; --quick: a,b,e)
  --targets LIST      comma-separated, from direct,lyncproxy,http-proxy,nginx,haproxy (and
                      lyncproxy-before, which --before adds by itself)
  --before DIR        also measure DIR/dist/cli/main.js, another checkout of lyncproxy that has
                      been built (the build before a change), as the target lyncproxy-before: the
                      same config, node flags and log settings as lyncproxy, in the same rounds;
                      the report adds the ratios lyncproxy / build before (req/s and CPU µs/req)
  --longpolls N       idle long polls in scenario e (default 5000; --quick 200)
  --no-wrk            autocannon only, even when wrk is installed
  --quiet-wait S      before each measured run, wait up to S seconds while other processes keep
                      more than a quarter of a CPU busy (default 20; --quick 0)
  --no-build          use dist/ as it is instead of running npm run build first
  --log-file FILE     where lyncproxy writes its info-level log lines (default /dev/null)
  --out DIR           where the run's DATE-MACHINE.json and .md go (default bench/results; a
                      quick or profile-only run adds -quick or -profile to the name)
  --merge             re-measure only the given --scenarios and put them into this machine's
                      newest full run in DIR (and its .md) in place of the old ones; the run is
                      noted there
  -h, --help          this text

Scenarios: a HTTP GET ~1 KB JSON, 50 connections (lyncproxy also with workers: 2); b the same over
HTTPS 443 → upstream TLS;
c POST 64 KB; d 1,000 keep-alive connections; e idle long polls held open beside a small load;
f p99 at a fixed 2,000 req/s; soak 5 rounds of 30 s (lyncproxy), RSS and fds after each.
`

export interface BenchOptions {
  quick: boolean
  profileOnly: boolean
  profile: boolean
  rounds: number
  durationS: number
  warmupS: number
  scenarios: ScenarioId[]
  targets: TargetId[]
  longPolls: number
  wrk: boolean
  quietWaitS: number
  build: boolean
  logFile: string
  out: string | undefined
  merge: boolean
  // --before DIR as given (bench/before.ts checks and resolves it).
  before: string | undefined
  help: boolean
}

function list<T extends string> (raw: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (raw === undefined) return undefined
  if (raw === 'none') return []
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`unknown ${what} '${item}': use ${allowed.join(', ')}`)
  }
  return items as T[]
}

function positive (raw: string | undefined, fallback: number, what: string, allowZero = false): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) throw new Error(`${what} must be a positive number, got '${raw}'`)
  return n
}

// The build before is measured right after lyncproxy in each round (bench/run.ts keeps it there
// ahead of the targets measured beside lyncproxy), so that the two runs a ratio pairs are as close
// in time as the round allows.
function withBefore (targets: TargetId[], before: string | undefined): TargetId[] {
  if (before === undefined) {
    if (targets.includes('lyncproxy-before')) throw new Error('--targets lyncproxy-before needs --before DIR (a built checkout of lyncproxy)')
    return targets
  }
  if (targets.includes('lyncproxy-before')) return targets
  const at = targets.indexOf('lyncproxy')
  return at < 0 ? [...targets, 'lyncproxy-before'] : [...targets.slice(0, at + 1), 'lyncproxy-before', ...targets.slice(at + 1)]
}

export function parseOptions (argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'no-cpu-prof': { type: 'boolean' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      longpolls: { type: 'string' },
      'no-wrk': { type: 'boolean' },
      'quiet-wait': { type: 'string' },
      'no-build': { type: 'boolean' },
      'log-file': { type: 'string' },
      out: { type: 'string' },
      merge: { type: 'boolean' },
      before: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  const quick = values.quick === true
  const profileOnly = values['cpu-prof'] === true
  const before = values.before
  if (before === '') throw new Error('--before needs a directory: a built checkout of lyncproxy')
  const targets = withBefore(list(values.targets, NAMEABLE_TARGETS, 'target') ?? ALL_TARGETS, before)
  return {
    quick,
    profileOnly,
    profile: profileOnly || (!quick && values.merge !== true && values['no-cpu-prof'] !== true),
    rounds: Math.round(positive(values.rounds, quick ? 1 : 3, '--rounds')),
    durationS: positive(values.duration, quick ? 1.5 : 10, '--duration'),
    warmupS: positive(values.warmup, quick ? 0 : 2, '--warmup', true),
    scenarios: profileOnly ? [] : (list(values.scenarios, ALL_SCENARIOS, 'scenario') ?? (quick ? ['a', 'b', 'e'] : ALL_SCENARIOS)),
    targets,
    longPolls: Math.round(positive(values.longpolls, quick ? 200 : 5000, '--longpolls')),
    wrk: values['no-wrk'] !== true,
    quietWaitS: positive(values['quiet-wait'], quick ? 0 : 20, '--quiet-wait', true),
    build: values['no-build'] !== true,
    logFile: values['log-file'] ?? '/dev/null',
    out: values.out,
    merge: values.merge === true,
    before,
    help: values.help === true,
  }
}
