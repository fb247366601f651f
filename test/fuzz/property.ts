// The fuzz as a fast-check property over the harness: generation, seed and path replay, and
// shrinking are fast-check's. A case fails when it has a violation that no known-open defect
// explains (known.ts); the report prints the shrunk case as a regression entry, ready to paste into
// regressions.ts, with its bytes as JS string literals and the seed and path that found it.
import fc from 'fast-check'
import { caseArb } from './arbitraries.js'
import type { CaseResult, FuzzHarness } from './harness.js'
import { knownDefect } from './known.js'
import { checkFlat, type Flatness } from './leaks.js'
import type { FuzzCase, Regression } from './model.js'
import type { Violation } from './oracle.js'

export interface FuzzOptions {
  runs: number
  seed: number
  path?: string
  // Known-open defects fail too.
  strict?: boolean
  // Violation codes to pass over in this run.
  ignore?: string[]
  shrink?: boolean
  // Stops generating (and shrinking) after this long; what ran still counts. Past it, a case that
  // fast-check still asks for is not run and counts as a pass, so that a slow machine runs fewer
  // cases instead of overrunning its caller's timeout (fast-check's own interruption takes effect
  // only between runs).
  timeLimitMs?: number
  log?: (line: string) => void
}

export interface KnownSeen {
  reason: string
  count: number
  example: string
}

export interface FuzzReport {
  failed: boolean
  seed: number
  path: string
  numRuns: number
  numShrinks: number
  interrupted: boolean
  counterexample: FuzzCase | undefined
  violations: Violation[]
  concrete: string[]
  known: Map<string, KnownSeen>
  flatness: Flatness[]
  // Cases this fuzz run ran (shrinking included), and of them the ones fast-check asked for past the
  // time limit, which did not run.
  ran: number
  skipped: number
  cases: number
  restarts: number
  ms: number
}

// The violations of a case that fail it: those of no known-open defect. A known crash takes the
// rest with it (every connection reset, no answer to the health check).
export function openViolations (r: CaseResult, strict: boolean, known: Map<string, KnownSeen>, ignore: readonly string[] = []): Violation[] {
  const open: Violation[] = []
  let knownCrash = false
  for (const v of r.violations) {
    const k = knownDefect(v, strict, ignore)
    if (k === undefined) { open.push(v); continue }
    if (v.code === 'crash') knownCrash = true
    const seen = known.get(k.reason) ?? { reason: k.reason, count: 0, example: '' }
    seen.count++
    if (seen.example === '') seen.example = `${v.detail.split('\n')[0]}\n${r.concrete.map((b) => '      ' + jsString(b)).join('\n')}`
    known.set(k.reason, seen)
  }
  return knownCrash ? [] : open
}

// A regression replayed: its open violations, and 'fd-leak' when the proxy holds more fds after it
// than before (each settled: upstream connections dropped, a full GC). A regression repeats its
// rounds, so a leak shows as several fds; 2 allows a socket whose close is still under way.
export async function replayRegression (h: FuzzHarness, r: Regression, strict: boolean, known: Map<string, KnownSeen>, ignore: readonly string[] = []): Promise<Violation[]> {
  const before = await h.settledSample()
  const res = await h.runCase(r.case)
  if (before !== undefined && res.sample !== undefined && res.sample.fds > before.fds + 2) {
    res.violations.push({ code: 'fd-leak', detail: `${r.name}: the proxy held ${before.fds} fds before the case and ${res.sample.fds} after it` })
  }
  return openViolations(res, strict, known, ignore)
}

export async function fuzz (h: FuzzHarness, o: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now()
  const known = new Map<string, KnownSeen>()
  const strict = o.strict === true
  let last: { c: FuzzCase, r: CaseResult, open: Violation[] } | undefined
  let n = 0
  let skipped = 0
  const stopAt = o.timeLimitMs === undefined ? Infinity : started + o.timeLimitMs
  // fast-check's time limit returns from fc.check without waiting for the case in flight; the
  // harness must not be closed under it (that case would read as a crash of the proxy).
  let inFlight: Promise<unknown> = Promise.resolve()
  const property: fc.IAsyncProperty<[FuzzCase]> = fc.asyncProperty(caseArb, async (c: FuzzCase) => {
    if (performance.now() > stopAt) { skipped++; return }
    const running = h.runCase(c)
    inFlight = running.catch(() => {})
    const r = await running
    n++
    const open = openViolations(r, strict, known, o.ignore)
    const verbose = process.env.FUZZ_VERBOSE !== undefined
    if (verbose) {
      const slow = [...r.runs].sort((a, b) => b.waitedMs - a.waitedMs)[0]
      if (slow !== undefined && slow.waitedMs > 500) o.log?.(`  slowest: waited ${Math.round(slow.waitedMs)} ms, ${slow.written}/${slow.length} bytes, ${slow.how}, ${JSON.stringify(slow.plan)} ${JSON.stringify(slow.text.slice(0, 150))}`)
    }
    if (o.log !== undefined && (n % 25 === 0 || open.length > 0 || verbose)) {
      o.log(`case ${n}: ${Math.round(r.ms)} ms, ${r.sample?.fds ?? '?'} fds${verbose ? ' ' + outline(c) : ''}${open.length > 0 ? `, ${open.length} violation(s): ${open[0]!.code}` : ''}`)
    }
    if (open.length > 0) {
      last = { c, r, open }
      throw new Error(open.map((v) => `[${v.code}] ${v.detail}`).join('\n'))
    }
  })
  const plugins = o.timeLimitMs === undefined ? [] : [fc.interruptAfterTimeLimit(o.timeLimitMs)]
  const details = await fc.check(property, {
    numRuns: o.runs,
    seed: o.seed,
    ...(o.path === undefined ? {} : { path: o.path }),
    endOnFailure: o.shrink === false,
    plugins,
  }) as fc.RunDetails<[FuzzCase]>
  await inFlight
  const counterexample = details.failed && details.counterexample !== null ? details.counterexample[0] : undefined
  // The last case that failed is the counterexample fast-check settled on (shrinking keeps the last
  // failure); its violations and bytes are the report's.
  const sameAsLast = last !== undefined && counterexample !== undefined && JSON.stringify(last.c) === JSON.stringify(counterexample)
  return {
    failed: details.failed,
    seed: details.seed,
    path: details.counterexamplePath ?? '',
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    interrupted: details.interrupted || skipped > 0,
    counterexample,
    violations: sameAsLast ? last!.open : (last?.open ?? []),
    concrete: sameAsLast ? last!.r.concrete : [],
    known,
    flatness: h.series.map(checkFlat),
    ran: n,
    skipped,
    cases: h.cases,
    restarts: h.restarts,
    ms: performance.now() - started,
  }
}

// One line per case for FUZZ_VERBOSE: each connection's segments (class:kind), then its plan.
function outline (c: FuzzCase): string {
  return c.connections.map((x) => `${x.segments.map((s) => `${s.expect}:${s.kind}`).join(',')} ${x.plan.then}/${x.plan.read}/${String(x.plan.stallMs)}`).join(' | ') + ` x${c.repeat}`
}

// A JS string literal for latin1 text: printable ASCII as is, everything else escaped.
export function jsString (s: string): string {
  let out = "'"
  for (const ch of s) {
    const c = ch.charCodeAt(0)
    if (ch === '\\') out += '\\\\'
    else if (ch === "'") out += "\\'"
    else if (ch === '\r') out += '\\r'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20 || c > 0x7e) out += '\\x' + c.toString(16).padStart(2, '0')
    else out += ch
  }
  return out + "'"
}

// A TypeScript literal of plain data, with strings as jsString and long runs of one character
// folded into .repeat() so that a 300 kB body stays readable.
export function literal (v: unknown, indent = ''): string {
  const next = indent + '  '
  if (typeof v === 'string') return foldedString(v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v)
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]'
    if (v.every((x) => typeof x === 'number')) return `[${v.join(', ')}]`
    return `[\n${v.map((x) => next + literal(x, next)).join(',\n')},\n${indent}]`
  }
  if (typeof v === 'object' && v !== undefined) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined)
    if (entries.length === 0) return '{}'
    return `{\n${entries.map(([k, x]) => `${next}${/^[A-Za-z_$][\w$]*$/.test(k) ? k : jsString(k)}: ${literal(x, next)}`).join(',\n')},\n${indent}}`
  }
  return 'undefined'
}

function foldedString (s: string): string {
  const parts: string[] = []
  const re = /(.)\1{63,}/gs
  let at = 0
  for (const m of s.matchAll(re)) {
    if (m.index > at) parts.push(jsString(s.slice(at, m.index)))
    parts.push(`${jsString(m[1]!)}.repeat(${m[0].length})`)
    at = m.index + m[0].length
  }
  if (at < s.length || parts.length === 0) parts.push(jsString(s.slice(at)))
  return parts.join(' + ')
}

export function formatReport (r: FuzzReport, replay: string): string {
  const lines: string[] = []
  const status = r.failed ? `FAILED after ${r.numRuns} run(s), shrunk ${r.numShrinks} time(s)` : `passed ${r.numRuns - r.skipped} run(s)${r.interrupted ? ' (stopped at the time limit)' : ''}`
  lines.push(`fuzz: seed ${r.seed}: ${status}; ${r.ran} cases in ${(r.ms / 1000).toFixed(1)} s, ${r.restarts} proxy restart(s)`)
  // One series per proxy process; those a crash cut short are too short to judge.
  const judged = r.flatness.filter((f) => f.judged)
  for (const f of judged) lines.push(`  leaks: ${f.summary}${f.violations.length > 0 ? '  <-- ' + f.violations.map((v) => v.code).join(', ') : ''}`)
  if (judged.length < r.flatness.length) lines.push(`  leaks: ${r.flatness.length - judged.length} proxy process(es) served too few cases to judge`)
  for (const k of r.known.values()) lines.push(`  known-open defect seen ${k.count} time(s): ${k.reason}\n    e.g. ${k.example}`)
  if (!r.failed || r.counterexample === undefined) return lines.join('\n')
  lines.push(`  replay: ${replay} --seed ${r.seed} --path ${r.path}`)
  lines.push('violations:')
  for (const v of r.violations) lines.push(`  [${v.code}] ${v.detail.replace(/\n/g, '\n    ')}`)
  lines.push('minimal case, the bytes each connection sent (first round):')
  r.counterexample.connections.forEach((c, i) => {
    lines.push(`  connection ${i + 1} (${c.segments.map((s) => s.expect).join(', ')}; plan ${JSON.stringify(c.plan)}):`)
    lines.push('    ' + (r.concrete[i] !== undefined ? jsString(r.concrete[i]!) : c.segments.map((s) => jsString(s.bytes)).join(' + ')))
  })
  lines.push('regression entry for test/fuzz/regressions.ts:')
  const entry = { name: `${r.violations[0]?.code ?? 'failure'}: describe it`, found: { seed: r.seed, path: r.path }, case: r.counterexample }
  lines.push(literal(entry).replace(/^/gm, '  ') + ',')
  return lines.join('\n')
}
