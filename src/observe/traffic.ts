// Live counts for the teaching page's diagram: per listener, rule and pool, how many exchanges and
// the last status. Prometheus counters answer "how many since start" for machines; the diagram wants
// the same numbers plus "what happened last", cheaply, as JSON. Entries are created once per series
// and then updated in place.
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum } from '../schema-types.js'
import { refusalOf, stopOf, type Exchange, type ExchangeBus } from './exchange.js'

// A schema, because /api/traffic answers with it (src/admin/schemas.ts); the type is derived.
export const TrafficEntrySchema = Type.Object({
  listener: Type.String(),
  rule: Type.String(),
  pool: Type.String(),
  requests: Type.Integer(),
  lastStatus: Type.Integer(),
  lastError: Type.String(),
  lastUpstream: Type.String(),
  lastTime: Type.Number(),
  // The proxy's own refusal (its failure code: not_published, denied, misdirected…), counted apart
  // from the rule's other exchanges so that the picture can draw it where it stopped; '' otherwise.
  refusal: Type.String(),
  reason: Type.String(),
  stop: StringEnum(['listener', 'rule', 'pool']),
})
export type TrafficEntry = Static<typeof TrafficEntrySchema>

export interface TrafficTally {
  snapshot (): TrafficEntry[]
  close (): void
}

export function tallyTraffic (bus: ExchangeBus): TrafficTally {
  // listener → rule → pool, then where the exchange stopped and its refusal ('' for every exchange
  // the proxy did not refuse itself): a rule's exchanges that reached a member apart from those that
  // stopped at the rule, so that only the former light the internal firewall's rows.
  const byListener = new Map<string, Map<string, Map<string, Map<string, TrafficEntry>>>>()

  function entryFor (ex: Exchange): TrafficEntry {
    let byRule = byListener.get(ex.listener)
    if (byRule === undefined) { byRule = new Map(); byListener.set(ex.listener, byRule) }
    let byPool = byRule.get(ex.rule)
    if (byPool === undefined) { byPool = new Map(); byRule.set(ex.rule, byPool) }
    let byRefusal = byPool.get(ex.pool)
    if (byRefusal === undefined) { byRefusal = new Map(); byPool.set(ex.pool, byRefusal) }
    const refusal = refusalOf(ex)
    const stop = stopOf(ex)
    const key = stop + '\0' + refusal
    let entry = byRefusal.get(key)
    if (entry === undefined) {
      entry = { listener: ex.listener, rule: ex.rule, pool: ex.pool, requests: 0, lastStatus: 0, lastError: '', lastUpstream: '', lastTime: 0, refusal, reason: '', stop }
      byRefusal.set(key, entry)
    }
    return entry
  }

  const detach = bus.subscribe((ex) => {
    const entry = entryFor(ex)
    entry.requests++
    entry.lastStatus = ex.status
    entry.lastError = ex.error
    entry.lastUpstream = ex.upstream
    entry.lastTime = ex.time
    if (entry.refusal !== '') entry.reason = ex.reason
  })

  return {
    snapshot () {
      const out: TrafficEntry[] = []
      for (const byRule of byListener.values()) for (const byPool of byRule.values()) for (const byRefusal of byPool.values()) for (const e of byRefusal.values()) out.push({ ...e })
      return out
    },
    close: detach,
  }
}
