// What /readyz answers about one running proxy: listeners bound, a table loaded, and per-pool health.
// A single process answers it directly; each cluster worker answers it to its primary, which combines
// them (src/cluster/control.ts).
import type { RunningProxy } from '../control/proxy.js'
import type { PoolReadiness, Readiness } from './schemas.js'

// The answer's shape is the admin API's schema (schemas.ts); the types are derived from it.
export type { PoolReadiness, Readiness } from './schemas.js'

export async function readinessOf (proxy: RunningProxy): Promise<Readiness> {
  const status = await proxy.listenerStatus()
  const table = proxy.table()
  const listeners = proxy.listeners.map((l) => {
    const s = status.find((x) => x.name === l.name)
    return { ...l, listening: s?.listening ?? false, connections: s?.connections ?? 0 }
  })
  const now = Date.now()
  const pools = [...table.pools.values()].map((p): PoolReadiness => {
    const members = p.members.map((m) => ({ name: m.name, address: m.address, up: m.up && now >= m.ejectedUntil }))
    const checked = p.kind !== 'vip' || proxy.config().pools[p.name]?.health.check !== 'none'
    return { name: p.name, kind: p.kind, health: !checked ? 'unchecked' : members.some((m) => m.up) ? 'up' : 'down', members }
  })
  const ready = listeners.length > 0 && listeners.every((l) => l.listening) && table.generation > 0
  return { ready, table: { loaded: table.generation > 0, generation: table.generation }, listeners, pools }
}
