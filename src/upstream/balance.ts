// Choosing a member for one request. Every request is balanced on its own (Lync mobility needs
// per-request balancing inside one TCP session); affinity, when configured, overrides the choice.
import type { Member } from './member.js'

export type BalancePolicy = 'round-robin' | 'least-connections'

// Smooth weighted round robin: over any window each member is chosen in proportion to its weight,
// and the choices interleave instead of coming in bursts.
export function pickRoundRobin (members: readonly Member[], now: number, exclude: Member | undefined): Member | undefined {
  let best: Member | undefined
  let total = 0
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    if (m === exclude || !m.available(now)) continue
    m.currentWeight += m.weight
    total += m.weight
    if (best === undefined || m.currentWeight > best.currentWeight) best = m
  }
  if (best !== undefined) best.currentWeight -= total
  return best
}

// Fewest requests in flight relative to weight; ties go to the earlier member.
export function pickLeastConnections (members: readonly Member[], now: number, exclude: Member | undefined): Member | undefined {
  let best: Member | undefined
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    if (m === exclude || !m.available(now)) continue
    if (best === undefined || m.active * best.weight < best.active * m.weight) best = m
  }
  return best
}

// Source-address affinity: the same client address lands on the same member while the set of
// available members does not change.
export function pickBySource (members: readonly Member[], now: number, exclude: Member | undefined, client: string): Member | undefined {
  let count = 0
  for (let i = 0; i < members.length; i++) if (members[i] !== exclude && members[i]!.available(now)) count++
  if (count === 0) return undefined
  let n = fnv1a(client) % count
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    if (m === exclude || !m.available(now)) continue
    if (n-- === 0) return m
  }
  return undefined
}

function fnv1a (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const AFFINITY_COOKIE = 'MS-WSMAN'

// The MS-WSMAN value from the request's Cookie fields, or '' (scans raw headers; no object is built).
export function affinityCookie (raw: readonly string[]): string {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 6 || name.toLowerCase() !== 'cookie') continue
    const value = raw[i + 1]!
    let at = value.indexOf(AFFINITY_COOKIE + '=')
    while (at > 0 && value.charCodeAt(at - 1) !== 32 && value.charCodeAt(at - 1) !== 59) at = value.indexOf(AFFINITY_COOKIE + '=', at + 1)
    if (at < 0) continue
    const start = at + AFFINITY_COOKIE.length + 1
    const end = value.indexOf(';', start)
    return value.slice(start, end < 0 ? value.length : end).trim()
  }
  return ''
}
