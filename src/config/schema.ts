// The one schema of lyncproxy's YAML configuration. The TypeScript types below are derived from it
// (Static<>), so the validator and the code can never disagree about the shape of a config.
// Vocabulary follows what Lync admins know from TMG and ARR: listeners, pools (server farms),
// web publishing rules with public names and bridging.
//
// Two annotations, kept apart because they answer different readers:
// - `description` says what a field means, for the admin reading docs/configuration.md, which
//   scripts/gen-docs.ts renders from it.
// - `expected` names the form of a value in a validation message ("expected a DNS name such as …"),
//   for the admin whose file was refused; src/config/validate.ts reads it and ajv is told it is an
//   annotation. A schema without one is described by its type and bounds.
import { Type, type Static } from '@sinclair/typebox'

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', expected: 'an identifier: letters, digits, . _ -' })
const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const Seconds = Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })
// A DNS name as a Lync topology uses it; `*.` is allowed for wildcard public names.
const Fqdn = Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\\.?$', maxLength: 253, expected: 'a DNS name such as webext.contoso.com' })
const Address = Type.String({ minLength: 1, maxLength: 255, expected: 'an IPv4/IPv6 address or a host name' })
const PathPrefix = Type.String({ pattern: '^/[^?#\\s]*$', expected: 'a path prefix starting with /' })
const FilePath = Type.String({ minLength: 1 })
// More worker processes than this only add memory and scheduling: the accept loop of the cluster
// primary and the upstream servers saturate long before.
export const MAX_WORKERS = 64

export const TimeoutsSchema = Type.Object({
  connect: Type.Optional(Seconds),
  response: Type.Optional(Seconds),
}, { additionalProperties: false })

export const CertificateSchema = Type.Union([
  Type.Object({
    lab: Type.Literal(true, { description: 'issue this certificate from the lab CA, covering every public name' }),
  }, { additionalProperties: false }),
  Type.Object({
    // The lab's internal certificate of this pool: what an HLB VIP of the pool presents.
    labInternal: Name,
  }, { additionalProperties: false }),
  Type.Object({
    cert: FilePath,
    key: FilePath,
    chain: Type.Optional(FilePath),
    passphraseEnv: Type.Optional(Type.String({ minLength: 1 })),
    passphraseFile: Type.Optional(FilePath),
  }, { additionalProperties: false }),
  Type.Object({
    pfx: FilePath,
    passphraseEnv: Type.Optional(Type.String({ minLength: 1 })),
    passphraseFile: Type.Optional(FilePath),
  }, { additionalProperties: false }),
])

export const ListenerSchema = Type.Object({
  name: Name,
  protocol: Type.Union([Type.Literal('http'), Type.Literal('https')]),
  // Which side of the port summary the listener is on: external (the reverse proxy's public side,
  // the default) or internal (an HLB VIP that internal clients and the reverse proxy reach).
  interface: Type.Optional(Type.Union([Type.Literal('external'), Type.Literal('internal')])),
  address: Type.Optional(Type.String({ minLength: 1 })),
  port: Port,
  // The port clients see when it differs from `port` (NAT in front of the proxy); used in redirects.
  publicPort: Type.Optional(Port),
  certificates: Type.Optional(Type.Array(CertificateSchema, { minItems: 1 })),
  // On an http listener: published names that no http rule forwards are redirected to HTTPS.
  redirectToHttps: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })

export const PoolTlsSchema = Type.Object({
  // PEM files of the CAs that issued the pool's internal certificates; `lab` means certs/lab-ca.pem.
  ca: Type.Optional(Type.Array(FilePath, { minItems: 1 })),
  verify: Type.Optional(Type.Boolean()),
  servername: Type.Optional(Fqdn),
}, { additionalProperties: false })

export const MemberSchema = Type.Object({
  name: Name,
  address: Address,
  // Per-member ports, when a member listens elsewhere than the pool's ports.
  httpPort: Type.Optional(Port),
  httpsPort: Type.Optional(Port),
  weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}, { additionalProperties: false })

export const HealthSchema = Type.Object({
  // http: GET `path` on the member's HTTPS port (Microsoft's probe: the autodiscover root, no Accept
  // header, 200 expected); tcp: a connect; none: members are taken as up.
  check: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('tcp'), Type.Literal('none')])),
  path: Type.Optional(PathPrefix),
  interval: Type.Optional(Seconds),
  timeout: Type.Optional(Seconds),
  // Consecutive successes to come back up, failures to go down.
  rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
}, { additionalProperties: false })

export const PassiveSchema = Type.Object({
  // Consecutive connect failures or 5xx answers that eject a member, and for how long at first.
  failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  backoff: Type.Optional(Seconds),
}, { additionalProperties: false })

export const PoolDnsSchema = Type.Object({
  // The name whose A/AAAA records are the members; the pool FQDN by default.
  name: Type.Optional(Fqdn),
  // Re-resolve at this interval (seconds); by default on the records' TTL.
  interval: Type.Optional(Seconds),
  // A DNS server to ask (ip or ip:port) instead of the system resolver.
  server: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false })

export const PoolSchema = Type.Object({
  description: Type.Optional(Type.String()),
  // vip: one address, an HLB balances behind it; members: lyncproxy balances; dns: the A/AAAA records
  // of a name are the members (labs only: Lync web traffic needs an HLB).
  kind: Type.Optional(Type.Union([Type.Literal('vip'), Type.Literal('members'), Type.Literal('dns')])),
  members: Type.Optional(Type.Array(MemberSchema, { minItems: 1 })),
  balance: Type.Optional(Type.Union([Type.Literal('round-robin'), Type.Literal('least-connections')])),
  // none for external web services (Microsoft's HLB table), source for internal ones; cookie inserts
  // MS-WSMAN as Microsoft specifies it.
  affinity: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('source'), Type.Literal('cookie')])),
  health: Type.Optional(HealthSchema),
  passive: Type.Optional(PassiveSchema),
  dns: Type.Optional(PoolDnsSchema),
  // What the pool is in the Lync topology; lints, the lab and the port tables read it.
  role: Type.Optional(Type.Union([Type.Literal('frontend'), Type.Literal('director'), Type.Literal('owas'), Type.Literal('other')])),
  fqdn: Fqdn,
  // Topology Builder's "external web services FQDN" of this pool (webext.contoso.com), when it has one.
  externalWebFqdn: Type.Optional(Fqdn),
  address: Type.Optional(Address),
  httpPort: Type.Optional(Port),
  httpsPort: Type.Optional(Port),
  tls: Type.Optional(PoolTlsSchema),
  // Connections to one member for the requests of ordinary rules; more requests wait in the proxy's
  // queue for one to free up (HAProxy's server maxconn). Long-poll rules are not counted.
  maxSockets: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_536 })),
}, { additionalProperties: false })

export const RuleSchema = Type.Object({
  name: Name,
  description: Type.Optional(Type.String()),
  // `*` alone matches any Host: what a load balancer VIP listener publishes.
  publicNames: Type.Array(Type.Union([Fqdn, Type.Literal('*')]), { minItems: 1 }),
  paths: Type.Optional(Type.Array(PathPrefix, { minItems: 1 })),
  listeners: Type.Optional(Type.Array(Name, { minItems: 1 })),
  action: Type.Union([Type.Literal('forward'), Type.Literal('redirect'), Type.Literal('deny')]),
  pool: Type.Optional(Name),
  // Bridging override; by default 443 → pool.httpsPort and 80 → pool.httpPort, as TMG bridging does.
  bridge: Type.Optional(Type.Object({
    http: Type.Optional(Port),
    https: Type.Optional(Port),
  }, { additionalProperties: false })),
  redirectStatus: Type.Optional(Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(307), Type.Literal(308)])),
  timeouts: Type.Optional(TimeoutsSchema),
  // Largest request body this rule forwards, in bytes; larger ones get 413.
  maxBodyBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  // Bytes of a request body the proxy receives before it takes an upstream connection (nginx's
  // proxy_request_buffering, HAProxy's http-buffer-request); the rest streams. 0 streams at once.
  requestBufferBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024 })),
  // Strict-Transport-Security on this rule's HTTPS responses (seconds); off unless set.
  hstsMaxAge: Type.Optional(Type.Integer({ minimum: 0, maximum: 315_360_000 })),
  // The rule carries long polls (UCWA event channels, Mcx): each request may hold an upstream
  // connection for minutes, so these requests get connections of their own, outside the pool's
  // maxSockets.
  longPoll: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })

// A layer-4 frontend: what an HLB does for SIP/MTLS (5061), 444 and the CLS ports. Bytes are spliced
// both ways; TLS passes through untouched.
export const TcpFrontendSchema = Type.Object({
  name: Name,
  address: Type.Optional(Type.String({ minLength: 1 })),
  port: Port,
  pool: Name,
  // The members' port; the frontend's own port by default.
  targetPort: Type.Optional(Port),
  idleTimeout: Type.Optional(Seconds),
}, { additionalProperties: false })

export const LabUserSchema = Type.Object({
  sipUri: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', expected: 'a SIP URI such as user1@contoso.com' }),
  password: Type.String({ minLength: 1 }),
  displayName: Type.Optional(Type.String()),
}, { additionalProperties: false })

export const LabServerSchema = Type.Object({
  name: Name,
  pool: Name,
  fqdn: Type.Optional(Fqdn),
}, { additionalProperties: false })

export const LabSchema = Type.Object({
  sipDomain: Fqdn,
  users: Type.Optional(Type.Array(LabUserSchema)),
  // The stand-in servers `lyncproxy lab` starts, each behind the pool it names.
  servers: Type.Optional(Type.Array(LabServerSchema)),
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  // Processes that serve the listeners: 'auto' is one per CPU (os.availableParallelism()); 1, the
  // default, runs the proxy in one process without node:cluster.
  workers: Type.Optional(Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: MAX_WORKERS })])),
  listeners: Type.Array(ListenerSchema, { minItems: 1 }),
  pools: Type.Record(Name, PoolSchema),
  rules: Type.Array(RuleSchema, { minItems: 1 }),
  tcp: Type.Optional(Type.Array(TcpFrontendSchema)),
  defaults: Type.Optional(Type.Object({
    timeouts: Type.Optional(TimeoutsSchema),
    // Client side: how long an idle keep-alive connection is kept between requests.
    clientIdleTimeout: Type.Optional(Seconds),
    // Client side: time allowed to send the request headers (slowloris guard).
    headersTimeout: Type.Optional(Seconds),
    // Client side: time allowed to send a whole request, body included.
    requestTimeout: Type.Optional(Seconds),
    // Client side: time allowed for a TLS handshake.
    handshakeTimeout: Type.Optional(Seconds),
    // Client connections per listener; more are refused until some close.
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    // Default request body limit for rules that set none, in bytes.
    maxBodyBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    // Default request buffer for rules that set none, in bytes (see the rule's requestBufferBytes).
    requestBufferBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024 })),
  }, { additionalProperties: false })),
  certs: Type.Optional(Type.Object({
    dir: Type.Optional(FilePath),
  }, { additionalProperties: false })),
  log: Type.Optional(Type.Object({
    level: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
    // Append JSON lines to this file instead of stdout.
    file: Type.Optional(FilePath),
  }, { additionalProperties: false })),
  // The admin plane (metrics, health, routes, the teaching page): its own listener, internal only.
  admin: Type.Optional(Type.Object({
    enabled: Type.Optional(Type.Boolean()),
    address: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Port),
    // A bearer token that protects the admin API, read from an environment variable or a file.
    tokenEnv: Type.Optional(Type.String({ minLength: 1 })),
    tokenFile: Type.Optional(FilePath),
  }, { additionalProperties: false })),
  lab: Type.Optional(LabSchema),
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type ListenerConfig = Static<typeof ListenerSchema>
export type PoolConfig = Static<typeof PoolSchema>
export type RuleConfig = Static<typeof RuleSchema>
export type CertificateConfig = Static<typeof CertificateSchema>
export type TimeoutsConfig = Static<typeof TimeoutsSchema>
export type LabConfig = Static<typeof LabSchema>
export type LabServerConfig = Static<typeof LabServerSchema>
export type TcpFrontendConfig = Static<typeof TcpFrontendSchema>
export type MemberConfig = Static<typeof MemberSchema>
