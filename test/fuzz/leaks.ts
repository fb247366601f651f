// Whether the proxy's file descriptors and RSS stayed flat over a run, from one sample per case
// (taken after the upstream dropped its connections and a full GC, so nothing of the case should be
// left).
//
// The tolerance comes from the run itself. The first W samples are warm-up (JIT, the heap growing to
// its working size) and are left out; the next W give the baseline (their maximum) and the noise
// (their maximum minus their minimum). The end of the run is the minimum of the last W samples: a leak
// raises even the quietest sample, a momentary spike does not. Allowed: fds up to the baseline plus
// twice the noise, and at least 1 (a handle opened lazily; the end is a minimum, so a socket still
// closing at one sample does not count, and the sampled fds are otherwise exact: 21, case after case,
// in every run so far, so two leaked sockets in 600 cases must fail); RSS up
// to the baseline plus three times the noise, and never less than a quarter of the baseline (V8 keeps
// freed pages for a while). W is an eighth of the samples, 3 to 20, so at least 4W samples are needed.
import type { Sample } from './child.js'
import type { Violation } from './oracle.js'

export interface Flatness {
  violations: Violation[]
  summary: string
  judged: boolean
}

export function checkFlat (series: Sample[]): Flatness {
  const n = series.length
  const W = Math.max(3, Math.min(20, Math.floor(n / 8)))
  if (n < 4 * W) return { violations: [], summary: `${n} samples: too few to judge (need ${4 * W})`, judged: false }
  const base = series.slice(W, 2 * W)
  const end = series.slice(-W)
  const judge = (name: string, unit: string, get: (s: Sample) => number, tolerance: (max: number, noise: number) => number): { ok: boolean, line: string } => {
    const values = base.map(get)
    const max = Math.max(...values)
    const noise = max - Math.min(...values)
    const limit = max + tolerance(max, noise)
    const last = Math.min(...end.map(get))
    return { ok: last <= limit, line: `${name} ${get(series[0]!)} → baseline ${max} (noise ${noise}) → end ${last}${unit}, limit ${limit}${unit}` }
  }
  const fds = judge('fds', '', (s) => s.fds, (_max, noise) => Math.max(1, 2 * noise))
  const rss = judge('RSS', ' kB', (s) => s.rssKB, (max, noise) => Math.max(Math.round(max / 4), 3 * noise))
  const violations: Violation[] = []
  if (!fds.ok) violations.push({ code: 'fd-leak', detail: fds.line })
  if (!rss.ok) violations.push({ code: 'rss-growth', detail: rss.line })
  return { violations, summary: `${n} samples, W=${W}: ${fds.line}; ${rss.line}`, judged: true }
}
