// The admin API's schemas, in TypeBox: fastify validates the inputs with them and serializes the
// answers through them, they document the API in one place, and the types of the answers are
// derived from them (Static<>), so the code that builds an answer and the schema that writes it
// cannot drift apart. Shapes that the data layers produce for others too (the explain result, the
// port tables, a reload's result, the traffic tally) are defined beside their code and used here.
import { Type, type Static } from '@sinclair/typebox'
import { ReloadResultSchema } from '../control/reload.js'
import { ExplainResultSchema } from '../explain/explain-schema.js'
import { PortTableSchema } from '../ports/ports.js'
import { TrafficEntrySchema } from '../observe/traffic.js'
import { Nullable, StringEnum } from '../schema-types.js'
import { ASSET_NAMES, VENDOR_NAMES } from './static-files.js'

const str = Type.String()
const num = Type.Number()
const int = Type.Integer()
const bool = Type.Boolean()
const anyObject = Type.Object({}, { additionalProperties: true })
const errorBody = Type.Object({ error: str, message: str })

// Every GET route accepts ?token= (browsers cannot send the bearer header on page loads or
// EventSource). POST routes take it from the Authorization header only (src/admin/auth.ts).
const tokenQuery = Type.Object({ token: Type.Optional(str) }, { additionalProperties: false })

export const healthzSchema = {
  description: 'Liveness: the process answers. Never needs the token.',
  response: { 200: Type.Object({ status: str, uptimeSeconds: num }) },
}

export const PoolReadinessSchema = Type.Object({
  name: str,
  kind: str,
  // unchecked: a VIP pool, whose health is its load balancer's business.
  health: StringEnum(['up', 'down', 'unchecked']),
  members: Type.Array(Type.Object({ name: str, address: str, up: bool })),
})
export type PoolReadiness = Static<typeof PoolReadinessSchema>

const readinessProperties = {
  ready: bool,
  table: Type.Object({ loaded: bool, generation: int }),
  listeners: Type.Array(Type.Object({ name: str, protocol: str, address: str, port: int, listening: bool, connections: int })),
  pools: Type.Array(PoolReadinessSchema),
}

// What one process answers (src/admin/readiness.ts), and each cluster worker to its primary.
export const ReadinessSchema = Type.Object(readinessProperties)
export type Readiness = Static<typeof ReadinessSchema>

export const WorkerStateSchema = Type.Object({ worker: int, pid: Nullable(int), ready: bool, generation: Nullable(int) })
export type WorkerState = Static<typeof WorkerStateSchema>

// What a cluster primary answers: its workers' answers combined, and each worker slot.
export const ClusterReadinessSchema = Type.Object({ ...readinessProperties, workers: Type.Array(WorkerStateSchema) })
export type ClusterReadiness = Static<typeof ClusterReadinessSchema>

// /readyz answers either; workers only with workers > 1.
const readyBody = Type.Object({
  ...readinessProperties,
  // Only with workers > 1: each worker slot, its process and whether it is ready.
  workers: Type.Optional(Type.Array(WorkerStateSchema)),
})

export const readyzSchema = {
  description: 'Readiness: the listeners are bound and a routing table is loaded; per-pool health. With workers > 1, ready while at least one worker serves and the node is not stopping.',
  querystring: tokenQuery,
  response: { 200: readyBody, 503: readyBody },
}

export const metricsSchema = {
  description: 'Prometheus metrics in the text exposition format.',
  querystring: tokenQuery,
  response: { 200: str },
}

const Scheme = StringEnum(['http', 'https'])

export const RouteViewSchema = Type.Object({
  rule: str,
  index: int,
  implicit: bool,
  action: StringEnum(['forward', 'redirect', 'deny']),
  paths: Type.Array(str),
  pool: Nullable(str),
  scheme: Nullable(Scheme),
  // The ports the pool's members are reached on for this listener (bridging).
  ports: Type.Array(int),
  timeouts: Type.Object({ connectSeconds: num, responseSeconds: num }),
  // The rule carries long polls: its upstream connections are outside the pool's maxSockets.
  longPoll: bool,
  redirect: Nullable(Type.Object({ status: int, port: str })),
})
export type RouteView = Static<typeof RouteViewSchema>

export const RoutesViewSchema = Type.Object({
  generation: int,
  listeners: Type.Array(Type.Object({
    name: str,
    protocol: Scheme,
    // external: the reverse proxy's public side; internal: an HLB VIP.
    interface: StringEnum(['external', 'internal']),
    address: str,
    port: int,
    names: Type.Array(Type.Object({ name: str, kind: StringEnum(['exact', 'wildcard', 'any']), rules: Type.Array(RouteViewSchema) })),
  })),
  pools: Type.Array(Type.Object({
    name: str,
    role: Nullable(str),
    description: Nullable(str),
    fqdn: str,
    kind: str,
    members: Type.Array(Type.Object({ name: str, address: str, httpPort: int, httpsPort: int, up: bool })),
  })),
  // Layer-4 frontends (an HLB's SIP, 444 and CLS ports).
  tcp: Type.Array(Type.Object({ name: str, address: str, port: int, pool: str, targetPort: int })),
})
export type RoutesView = Static<typeof RoutesViewSchema>

export const routesSchema = {
  description: 'The compiled routing table: listeners → published names → rules in order → action, pool, bridged ports, timeouts.',
  querystring: tokenQuery,
  response: { 200: RoutesViewSchema },
}

export const configSchema = {
  description: 'The running configuration with defaults applied; secret locations and lab passwords are redacted.',
  querystring: tokenQuery,
  response: { 200: anyObject },
}

export const explainSchema = {
  description: 'What the proxy would do with a request for `url`: rules tried, action, upstream URL, header changes, timeouts, port summary rows.',
  querystring: Type.Object({
    url: Type.String({ minLength: 1, maxLength: 8192 }),
    listener: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    client: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    method: Type.Optional(Type.String({ pattern: '^[A-Za-z]{1,16}$' })),
    // Extra request header fields, each 'Name: value'.
    header: Type.Optional(Type.Array(Type.String({ maxLength: 8192 }), { maxItems: 50 })),
    token: Type.Optional(str),
  }, { additionalProperties: false }),
  response: { 200: ExplainResultSchema, 400: errorBody },
}
export type ExplainQuery = Static<typeof explainSchema.querystring>

export const flowsSchema = {
  description: 'Server-Sent Events: one `exchange` event per finished exchange (JSON record); `dropped` when a slow client lost records. Not with workers > 1 (501).',
  querystring: tokenQuery,
  response: { 501: errorBody },
}

export const flowsHarSchema = {
  description: 'The recent exchanges (the flow feed\'s history) as a HAR 1.2 log, as a download: request and response headers with secrets masked, the rule, pool and member in custom fields. Not with workers > 1 (501).',
  querystring: tokenQuery,
  response: { 501: errorBody },
}

export const trafficSchema = {
  description: 'Per listener, rule and pool: requests since start and the last status (the diagram\'s edge labels).',
  querystring: tokenQuery,
  response: { 200: Type.Array(TrafficEntrySchema) },
}

export const portsSchema = {
  description: 'The firewall tables of the running topology in the columns of Microsoft\'s port summaries.',
  querystring: tokenQuery,
  response: { 200: Type.Object({ tables: Type.Array(PortTableSchema) }) },
}

export const reloadSchema = {
  description: 'Re-read the configuration file, as SIGHUP does. A bad file leaves the running table in place. Body: none, or JSON (ignored).',
  response: { 200: ReloadResultSchema, 409: ReloadResultSchema, 422: ReloadResultSchema },
}

export const DrainReplySchema = Type.Object({
  pool: str,
  member: str,
  draining: bool,
  // Requests in flight to the member (summed over the workers, with workers > 1).
  active: int,
})
export type DrainReply = Static<typeof DrainReplySchema>

export const drainSchema = {
  description: 'Take a pool member out of rotation (drain) or put it back (undrain); its requests in flight finish. Body: none, or JSON (ignored).',
  params: Type.Object({ pool: str, member: str, action: StringEnum(['drain', 'undrain']) }),
  response: {
    200: DrainReplySchema,
    404: Type.Object({ error: str }),
  },
}
export type DrainParams = Static<typeof drainSchema.params>

export const pageSchema = {
  description: 'The teaching page.',
  querystring: tokenQuery,
}
export type PageQuery = Static<typeof pageSchema.querystring>

export const assetSchema = {
  description: 'The teaching page\'s scripts and style sheet.',
  params: Type.Object({ file: StringEnum(ASSET_NAMES) }),
  querystring: tokenQuery,
}
export type AssetParams = Static<typeof assetSchema.params>

export const vendorAssetSchema = {
  description: 'The third-party browser modules the page imports (the layout library), served from their installed packages.',
  params: Type.Object({ file: StringEnum(VENDOR_NAMES) }),
  querystring: tokenQuery,
}
export type VendorAssetParams = Static<typeof vendorAssetSchema.params>
