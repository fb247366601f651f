// The firewall tables of the configured topology, in the columns of Microsoft's port summaries.
// Rows are derived from the compiled table: one external row per listener, one internal row per
// (scheme, bridged port, kind of server) that some forward rule uses, and the Director's table when
// the topology has a Director pool. Traffic this proxy does not carry (layer 4: 444, SIP 5061, the
// CLS ports, and internal clients going to the Director's VIP) is listed with the reason, unless a
// layer-4 frontend of the config serves it.
import type { ResolvedConfig } from '../config/defaults.js'
import type { HostEntry, ListenerRoutes, Route, RoutingTable } from '../routing/table.js'
import { upstreamTargets } from './upstream-targets.js'
import { SEED_ROWS, SEED_TABLES, seedRow, type PortTableId, type SeedRow } from './seed-tables.js'

export interface PortRow {
  // The seed row this row is, or null for traffic Microsoft's summary does not have.
  seed: string | null
  protocol: string
  source: string
  destination: string
  description: string
  served: boolean
  // What carries this traffic here: listener, rules and pools, or why nothing does.
  lyncproxy: string
  // The listeners (external rows) or listener/rule pairs (internal rows) whose traffic crosses it.
  via: string[]
}

export interface PortTable {
  id: PortTableId
  title: string
  columns: readonly string[]
  rows: PortRow[]
}

export interface PortsContext {
  config: ResolvedConfig
  table: RoutingTable
  // Ports actually bound, when they differ from the config (a running proxy on port 0).
  boundPorts?: ReadonlyMap<string, number>
}

type ServerKind = 'lync' | 'owas' | 'other'

interface TcpFrontend { name: string, address?: string, port: number, pool: string, targetPort?: number }

export function portTables (ctx: PortsContext): PortTable[] {
  const tables: PortTable[] = [
    { ...tableHead('external'), rows: externalRows(ctx) },
    { ...tableHead('internal'), rows: internalRows(ctx) },
  ]
  if (Object.values(ctx.config.pools).some((p) => p.role === 'director')) tables.push({ ...tableHead('director'), rows: directorRows(ctx) })
  return tables
}

// The rows one request crosses: its listener's external row and, when forwarded, the internal rows
// of its rule.
export function rowsCrossed (tables: readonly PortTable[], listener: string, rule: string | undefined): Array<{ table: PortTable, row: PortRow }> {
  const out: Array<{ table: PortTable, row: PortRow }> = []
  for (const table of tables) {
    for (const row of table.rows) {
      if (row.via.includes(listener) || (rule !== undefined && row.via.includes(`${listener}/${rule}`))) out.push({ table, row })
    }
  }
  return out
}

function tableHead (id: PortTableId): Omit<PortTable, 'rows'> {
  const seed = SEED_TABLES.find((t) => t.id === id)!
  return { id, title: seed.title, columns: [...seed.columns, 'lyncproxy'] }
}

function fromSeed (seed: SeedRow, port: number, served: boolean, lyncproxy: string, via: string[]): PortRow {
  return { seed: seed.id, protocol: `${seed.protocol}/${port}`, source: seed.source, destination: seed.destination, description: seed.description, served, lyncproxy, via }
}

function externalRows (ctx: PortsContext): PortRow[] {
  const rows = ctx.config.listeners.map((l) => {
    const seed = seedRow(l.protocol === 'http' ? 'external-http-80' : 'external-https-443')
    const port = l.publicPort ?? ctx.boundPorts?.get(l.name) ?? l.port
    const moved = port === seed.port ? '' : ` (clients use port ${port}, not the standard ${seed.port})`
    return fromSeed(seed, port, true, `listener ${l.name} on ${l.address}:${ctx.boundPorts?.get(l.name) ?? l.port}${moved}: ${listenerSummary(ctx.table, l.name)}`, [l.name])
  })
  return rows.sort((a, b) => seedOrder(a) - seedOrder(b))
}

// What a listener does with the names it publishes, by rule, in rule order.
function listenerSummary (table: RoutingTable, listener: string): string {
  const routes = table.listeners.get(listener)
  if (routes === undefined) return 'publishes nothing'
  const seen = new Map<Route, string[]>()
  for (const entry of hostEntries(routes)) {
    for (const route of entry.routes) {
      const names = seen.get(route) ?? []
      names.push(entry === routes.anyHost ? '*' : routes.wildcards.get(entry.name) === entry ? `*.${entry.name}` : entry.name)
      seen.set(route, names)
    }
  }
  const parts = [...seen.entries()]
    .sort(([a], [b]) => (a.implicit ? 1e9 : a.ruleIndex) - (b.implicit ? 1e9 : b.ruleIndex))
    .map(([route, names]) => {
      if (route.implicit) return `redirects the other published names to HTTPS`
      if (route.action === 'forward') return `${route.rule} → pool ${route.pool?.name ?? '?'}${[...new Set(upstreamTargets(route).map((t) => ':' + t.port))].join('/')}`
      return `${route.rule} ${route.action === 'deny' ? 'denies' : 'redirects'} ${names.join(', ')}`
    })
  return parts.length === 0 ? 'publishes nothing' : parts.join('; ')
}

// Exact names, wildcards and the any-Host entry of a listener.
export function hostEntries (routes: ListenerRoutes): HostEntry[] {
  const out = [...routes.hosts.values(), ...routes.wildcards.values()]
  if (routes.anyHost !== undefined) out.push(routes.anyHost)
  return out
}

interface Bridge {
  scheme: 'http' | 'https'
  port: number
  kind: ServerKind
  // Pool name → the member addresses and ports it reaches.
  pools: Map<string, string[]>
  via: string[]
}

function serverKind (config: ResolvedConfig, pool: string): ServerKind {
  const role = config.pools[pool]?.role
  return role === 'owas' ? 'owas' : role === 'other' ? 'other' : 'lync'
}

// Every (scheme, port, kind) that forward routes bridge to, with the pools and listener/rule pairs.
function bridges (ctx: PortsContext, only?: (pool: string) => boolean): Bridge[] {
  const byKey = new Map<string, Bridge>()
  for (const [listener, routes] of ctx.table.listeners) {
    for (const entry of hostEntries(routes)) {
      for (const route of entry.routes) {
        if (route.action !== 'forward' || route.pool === undefined) continue
        const pool = route.pool
        if (only !== undefined && !only(pool.name)) continue
        const kind = serverKind(ctx.config, pool.name)
        for (const target of upstreamTargets(route)) {
          const key = `${target.scheme}|${target.port}|${kind}`
          let bridge = byKey.get(key)
          if (bridge === undefined) {
            bridge = { scheme: target.scheme, port: target.port, kind, pools: new Map(), via: [] }
            byKey.set(key, bridge)
          }
          const members = bridge.pools.get(pool.name) ?? []
          const where = `${target.member.address}:${target.port}`
          if (!members.includes(where)) members.push(where)
          bridge.pools.set(pool.name, members)
          const pair = `${listener}/${route.rule}`
          if (!bridge.via.includes(pair)) bridge.via.push(pair)
        }
      }
    }
  }
  return [...byKey.values()]
}

function bridgeText (ctx: PortsContext, bridge: Bridge): string {
  const rules = [...new Set(bridge.via.map((v) => v.split('/')[1]))].join(', ')
  const pools = [...bridge.pools.entries()].map(([name, members]) => `pool ${name} (${ctx.config.pools[name]?.fqdn ?? name} at ${members.join(', ')})`)
  return `${pools.join('; ')}, for rules ${rules}`
}

const INTERNAL_SEEDS: Record<string, string> = {
  'http|8080|lync': 'internal-http-8080',
  'https|4443|lync': 'internal-https-4443',
  'https|443|owas': 'internal-https-443-owas',
}

function internalRows (ctx: PortsContext): PortRow[] {
  const rows = bridges(ctx).map((b) => {
    const seedId = INTERNAL_SEEDS[`${b.scheme}|${b.port}|${b.kind}`]
    if (seedId !== undefined) return fromSeed(seedRow(seedId), b.port, true, bridgeText(ctx, b), b.via)
    const what = b.kind === 'owas' ? 'Office Web Apps' : b.kind === 'other' ? 'Other servers' : 'Front End or Director pools'
    const usual = b.kind === 'owas' ? 443 : b.scheme === 'https' ? 4443 : 8080
    return {
      seed: null,
      protocol: `${b.scheme.toUpperCase()}/TCP/${b.port}`,
      source: 'Internal reverse proxy interface',
      destination: `${what}: ${[...b.pools.keys()].join(', ')}`,
      description: b.kind === 'other'
        ? 'Not in Microsoft\'s port summary: a pool that is not a Lync or Office Web Apps server.'
        : `Not in Microsoft's port summary, which bridges ${b.scheme.toUpperCase()} to ${what} on port ${usual}.`,
      served: true,
      lyncproxy: bridgeText(ctx, b),
      via: b.via,
    }
  })
  return rows.sort((a, b) => seedOrder(a) - seedOrder(b))
}

// Layer-4 rows of the Director table: which config pool role serves as their destination.
const LAYER4: ReadonlyArray<{ seed: string, role: 'frontend' | 'director', reason: string }> = [
  { seed: 'director-https-444', role: 'frontend', reason: 'server-to-server traffic between the Director and the Front End pool; it never crosses the reverse proxy, and lyncproxy has no layer-4 frontend for it' },
  { seed: 'director-http-80', role: 'director', reason: 'internal clients reach the Director\'s own web site through its HLB VIP, not through the reverse proxy' },
  { seed: 'director-https-443', role: 'director', reason: 'internal clients reach the Director\'s own web site through its HLB VIP, not through the reverse proxy' },
  { seed: 'director-sip-5061', role: 'director', reason: 'SIP over MTLS from the Edge Server is layer 4, balanced by DNS or the HLB; lyncproxy has no layer-4 frontend for it' },
  { seed: 'director-cls-50001', role: 'director', reason: 'Centralized Logging Service traffic goes to the servers themselves, not through the reverse proxy' },
  { seed: 'director-cls-50002', role: 'director', reason: 'Centralized Logging Service traffic goes to the servers themselves, not through the reverse proxy' },
  { seed: 'director-cls-50003', role: 'director', reason: 'Centralized Logging Service traffic goes to the servers themselves, not through the reverse proxy' },
]

function directorRows (ctx: PortsContext): PortRow[] {
  const isDirector = (pool: string): boolean => ctx.config.pools[pool]?.role === 'director'
  const rows: PortRow[] = []
  for (const b of bridges(ctx, isDirector)) {
    const seedId = b.scheme === 'http' && b.port === 8080 ? 'director-http-8080' : b.scheme === 'https' && b.port === 4443 ? 'director-https-4443' : undefined
    if (seedId !== undefined) rows.push(fromSeed(seedRow(seedId), b.port, true, bridgeText(ctx, b), b.via))
  }
  const roles = new Set(Object.values(ctx.config.pools).map((p) => p.role))
  const frontends = tcpFrontends(ctx.config)
  for (const l4 of LAYER4) {
    if (!roles.has(l4.role)) continue
    const seed = seedRow(l4.seed)
    const frontend = frontends.find((f) => f.port === seed.port && ctx.config.pools[f.pool]?.role === l4.role)
    rows.push(frontend === undefined
      ? fromSeed(seed, seed.port, false, `not served by this proxy: ${l4.reason}`, [])
      : fromSeed(seed, seed.port, true, `tcp frontend ${frontend.name} on ${frontend.address ?? '127.0.0.1'}:${frontend.port} → pool ${frontend.pool}:${frontend.targetPort ?? frontend.port}`, [`tcp:${frontend.name}`]))
  }
  return rows.sort((a, b) => seedOrder(a) - seedOrder(b))
}

// Layer-4 frontends, once the config has them (`tcp:`); an older config simply has none.
function tcpFrontends (config: ResolvedConfig): readonly TcpFrontend[] {
  return (config as { tcp?: readonly TcpFrontend[] }).tcp ?? []
}

function seedOrder (row: PortRow): number {
  const i = row.seed === null ? -1 : SEED_ROWS.findIndex((s) => s.id === row.seed)
  return i < 0 ? SEED_ROWS.length + Number(row.protocol.split('/').pop()) : i
}
