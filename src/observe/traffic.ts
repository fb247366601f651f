// Live counts for the teaching page's diagram: per listener, rule and pool, how many exchanges and
// the last status. Prometheus counters answer "how many since start" for machines; the diagram wants
// the same numbers plus "what happened last", cheaply, as JSON. Entries are created once per series
// and then updated in place.
import { Type, type Static } from '@sinclair/typebox'
import type { Exchange, ExchangeBus } from './exchange.js'

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
})
export type TrafficEntry = Static<typeof TrafficEntrySchema>

export interface TrafficTally {
  snapshot (): TrafficEntry[]
  close (): void
}

export function tallyTraffic (bus: ExchangeBus): TrafficTally {
  const byListener = new Map<string, Map<string, Map<string, TrafficEntry>>>()

  function entryFor (ex: Exchange): TrafficEntry {
    let byRule = byListener.get(ex.listener)
    if (byRule === undefined) { byRule = new Map(); byListener.set(ex.listener, byRule) }
    let byPool = byRule.get(ex.rule)
    if (byPool === undefined) { byPool = new Map(); byRule.set(ex.rule, byPool) }
    let entry = byPool.get(ex.pool)
    if (entry === undefined) {
      entry = { listener: ex.listener, rule: ex.rule, pool: ex.pool, requests: 0, lastStatus: 0, lastError: '', lastUpstream: '', lastTime: 0 }
      byPool.set(ex.pool, entry)
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
  })

  return {
    snapshot () {
      const out: TrafficEntry[] = []
      for (const byRule of byListener.values()) for (const byPool of byRule.values()) for (const e of byPool.values()) out.push({ ...e })
      return out
    },
    close: detach,
  }
}
