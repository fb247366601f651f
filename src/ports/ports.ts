// The firewall tables of the configured topology, in the columns of Microsoft's port summaries.
// Rows are derived from the compiled table: one external row per external listener, one internal row
// per (scheme, bridged port, kind of server) that the external listeners' forward rules use, and the
// Director's table when the topology has a Director pool. That table's rows are served when
// lyncproxy is also the Director's HLB (internal listeners on the VIP, layer-4 frontends); the rows
// it does not carry are listed as "not served by this proxy", with the reason.
import { Type, type Static } from '@sinclair/typebox'
import type { ResolvedConfig } from '../config/defaults.js'
import { hostEntries, type Route, type RoutingTable } from '../routing/table.js'
import { upstreamTargets } from '../routing/upstream-targets.js'
import { SEED_ROWS, SEED_TABLES, seedRow, type PortTableId, type SeedRow } from './seed-tables.js'

// Schemas, so the admin API serializes the tables through the same shape the code uses (Static<>).
export const PortRowSchema = Type.Object({
  // The seed row this row is, or null for traffic Microsoft's summary does not have.
  seed: Type.Union([Type.String(), Type.Null()]),
  protocol: Type.String(),
  source: Type.String(),
  destination: Type.String(),
  description: Type.String(),
  served: Type.Boolean(),
  // What carries this traffic here: listener, rules and pools, or why nothing does.
  lyncproxy: Type.String(),
  // The listeners (external rows) or listener/rule pairs (internal rows) whose traffic crosses it.
  via: Type.Array(Type.String()),
})
export type PortRow = Static<typeof PortRowSchema>

export const PortTableSchema = Type.Object({
  // The ids are seed-tables.ts's; the schema only says it is a string.
  id: Type.Unsafe<PortTableId>(Type.String()),
  title: Type.String(),
  columns: Type.Readonly(Type.Array(Type.String())),
  rows: Type.Array(PortRowSchema),
})
export type PortTable = Static<typeof PortTableSchema>

export interface PortsContext {
  config: ResolvedConfig
  table: RoutingTable
  // Ports actually bound, when they differ from the config (a running proxy on port 0).
  boundPorts?: ReadonlyMap<string, number>
}

type ServerKind = 'lync' | 'owas' | 'other'

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
  const rows = ctx.config.listeners.filter((l) => l.interface === 'external').map((l) => {
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

// Every (scheme, port, kind) that the forward routes of one side's listeners bridge to, with the
// pools and listener/rule pairs.
function bridges (ctx: PortsContext, side: 'external' | 'internal', only?: (pool: string) => boolean): Bridge[] {
  const byKey = new Map<string, Bridge>()
  const names = new Set(ctx.config.listeners.filter((l) => l.interface === side).map((l) => l.name))
  for (const [listener, routes] of ctx.table.listeners) {
    if (!names.has(listener)) continue
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
          // A VIP pool's one member is the VIP itself; named members are the servers behind an HLB.
          const where = `${pool.kind === 'vip' ? '' : target.member.name + ' '}${target.member.address}:${target.port}`
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
  const rows = bridges(ctx, 'external').map((b) => {
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

// The CLS controller reaches every server's agent by the server's own address, so an HLB that
// balanced these ports would hand each command to a server at random.
const CLS_DIFFERS = 'the seed sends CLS to each Director server, on its own address (where the members above listen too); a real HLB leaves these ports out, and this frontend is there to show a layer-4 VIP passing TLS through'

// The Director table's rows that the reverse proxy itself does not send: internal clients on the
// VIP's 80/443 and the layer-4 ports. lyncproxy serves them only as the Director's HLB. `differs`
// says, for a row a layer-4 frontend serves, where that is not what the seed describes.
const HLB_ROWS: ReadonlyArray<{ seed: string, reason: string, differs?: string }> = [
  {
    seed: 'director-https-444',
    reason: 'server-to-server traffic between the Director and the Front End pool, balanced by the Director\'s HLB; no layer-4 frontend of this config listens on 444',
    differs: 'the seed\'s 444 is the Director connecting to the Front End servers; this frontend sends 444 to the Director servers instead, a layer-4 path to test, and nothing here plays the Director\'s own calls',
  },
  { seed: 'director-http-80', reason: 'internal clients reach the Director\'s own web site through its HLB VIP, not through the reverse proxy; no internal listener of this config is that VIP' },
  { seed: 'director-https-443', reason: 'internal clients reach the Director\'s own web site through its HLB VIP, not through the reverse proxy; no internal listener of this config is that VIP' },
  { seed: 'director-sip-5061', reason: 'SIP over MTLS from the Edge Server is layer 4, balanced by DNS or the HLB; no layer-4 frontend of this config listens on 5061' },
  { seed: 'director-cls-50001', reason: 'Centralized Logging Service traffic goes to the Director servers; no layer-4 frontend of this config listens on 50001', differs: CLS_DIFFERS },
  { seed: 'director-cls-50002', reason: 'Centralized Logging Service traffic goes to the Director servers; no layer-4 frontend of this config listens on 50002', differs: CLS_DIFFERS },
  { seed: 'director-cls-50003', reason: 'Centralized Logging Service traffic goes to the Director servers; no layer-4 frontend of this config listens on 50003', differs: CLS_DIFFERS },
]

interface VipService { text: string[], via: string[] }

// As the HLB: what the VIP's internal listeners take, by scheme and port.
function vipServices (ctx: PortsContext, isDirector: (pool: string) => boolean): Map<string, VipService> {
  const vip = new Map<string, VipService>()
  for (const b of bridges(ctx, 'internal', isDirector)) {
    for (const pair of b.via) {
      const listener = ctx.config.listeners.find((l) => l.name === pair.split('/')[0])
      if (listener === undefined) continue
      const port = ctx.boundPorts?.get(listener.name) ?? listener.port
      const key = `${listener.protocol}|${port}`
      const entry = vip.get(key) ?? { text: [], via: [] }
      const text = `HLB VIP listener ${listener.name} on ${listener.address}:${port} → ${bridgeText(ctx, b)}`
      if (!entry.text.includes(text)) entry.text.push(text)
      if (!entry.via.includes(listener.name)) entry.via.push(listener.name)
      vip.set(key, entry)
    }
  }
  return vip
}

function directorRows (ctx: PortsContext): PortRow[] {
  const isDirector = (pool: string): boolean => ctx.config.pools[pool]?.role === 'director'
  const vip = vipServices(ctx, isDirector)
  const rows: PortRow[] = []

  // The reverse proxy's internal side to the Director's VIP (8080/4443), and the VIP itself.
  for (const [scheme, port, seedId] of [['http', 8080, 'director-http-8080'], ['https', 4443, 'director-https-4443']] as const) {
    const sent = bridges(ctx, 'external', isDirector).filter((b) => b.scheme === scheme && b.port === port)
    const served = vip.get(`${scheme}|${port}`)
    if (sent.length === 0 && served === undefined) continue
    const parts = [...sent.map((b) => `reverse proxy: ${bridgeText(ctx, b)}`), ...(served?.text ?? [])]
    rows.push(fromSeed(seedRow(seedId), port, true, parts.join('; '), [...sent.flatMap((b) => b.via), ...(served?.via ?? [])]))
  }

  for (const l4 of HLB_ROWS) {
    const seed = seedRow(l4.seed)
    const scheme = seed.protocol.startsWith('HTTPS/') ? 'https' : seed.protocol.startsWith('HTTP/') ? 'http' : undefined
    const web = scheme === undefined ? undefined : vip.get(`${scheme}|${seed.port}`)
    const frontend = ctx.config.tcp.find((f) => f.port === seed.port)
    if (web !== undefined) {
      rows.push(fromSeed(seed, seed.port, true, web.text.join('; '), web.via))
    } else if (frontend !== undefined) {
      const pool = ctx.table.tcpPools.get(frontend.name)
      const members = pool === undefined ? '' : ` (${pool.members.map((m) => `${m.name} ${m.address}:${frontend.targetPort}`).join(', ')})`
      const differs = l4.differs === undefined ? '' : `; ${l4.differs}`
      rows.push(fromSeed(seed, seed.port, true, `HLB VIP layer-4 frontend ${frontend.name} on ${frontend.address}:${frontend.port} → pool ${frontend.pool}${members}, TLS passed through${differs}`, [`tcp:${frontend.name}`]))
    } else {
      rows.push(fromSeed(seed, seed.port, false, `not served by this proxy: ${l4.reason}`, []))
    }
  }
  return rows.sort((a, b) => seedOrder(a) - seedOrder(b))
}

function seedOrder (row: PortRow): number {
  const i = row.seed === null ? -1 : SEED_ROWS.findIndex((s) => s.id === row.seed)
  return i < 0 ? SEED_ROWS.length + Number(row.protocol.split('/').pop()) : i
}
