// The compiled routing table as JSON for /api/routes and the teaching page's diagram: listeners →
// published names → rules in order → action, pool, bridged ports and timeouts; then the pools and
// their members. Built from the running table on each call, so a reload shows at once.
import type { ResolvedConfig } from '../config/defaults.js'
import type { ListenerAddress } from '../control/proxy.js'
import { hostEntries, type Route, type RoutingTable } from '../routing/table.js'
import { upstreamTargets } from '../routing/upstream-targets.js'
import type { RouteView, RoutesView } from './schemas.js'

// The view's shape is the admin API's schema (schemas.ts); the types are derived from it.
export type { RouteView, RoutesView } from './schemas.js'

export function routesView (table: RoutingTable, config: ResolvedConfig, listeners: readonly ListenerAddress[]): RoutesView {
  const now = Date.now()
  return {
    generation: table.generation,
    listeners: listeners.map((l) => {
      const routes = table.listeners.get(l.name)
      const names = routes === undefined
        ? []
        : hostEntries(routes).map((entry) => ({
          name: entry === routes.anyHost ? '*' : routes.wildcards.get(entry.name) === entry ? `*.${entry.name}` : entry.name,
          kind: entry === routes.anyHost ? 'any' as const : routes.wildcards.get(entry.name) === entry ? 'wildcard' as const : 'exact' as const,
          rules: entry.routes.map(routeView),
        }))
      const iface = config.listeners.find((c) => c.name === l.name)?.interface ?? 'external'
      return { name: l.name, protocol: l.protocol, interface: iface, address: l.address, port: l.port, names }
    }),
    pools: [...table.pools.values()].map((p) => ({
      name: p.name,
      role: config.pools[p.name]?.role ?? null,
      description: config.pools[p.name]?.description ?? null,
      fqdn: p.fqdn,
      kind: p.kind,
      members: p.members.map((m) => ({ name: m.name, address: m.address, httpPort: m.httpPort, httpsPort: m.httpsPort, up: m.up && now >= m.ejectedUntil })),
    })),
    tcp: config.tcp.map((f) => ({ name: f.name, address: f.address, port: f.port, pool: f.pool, targetPort: f.targetPort })),
  }
}

function routeView (route: Route): RouteView {
  const forward = route.action === 'forward' && route.pool !== undefined
  return {
    rule: route.rule,
    index: route.ruleIndex,
    implicit: route.implicit,
    action: route.action,
    paths: [...route.prefixes],
    pool: forward ? route.pool!.name : null,
    scheme: forward ? (route.upstreamTls ? 'https' : 'http') : null,
    ports: [...new Set(upstreamTargets(route).map((t) => t.port))],
    timeouts: { connectSeconds: route.timeouts.connectMs / 1000, responseSeconds: route.timeouts.responseMs / 1000 },
    longPoll: route.longPoll,
    redirect: route.action === 'redirect' ? { status: route.redirectStatus, port: route.redirectPortSuffix.slice(1) || '443' } : null,
  }
}
