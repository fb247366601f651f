// Defaults, in one place, and the type of a config once they are applied. The rest of the code reads a
// ResolvedConfig and never has to decide what a missing field means.
import os from 'node:os'
import path from 'node:path'
import { MAX_WORKERS, type Config, type ListenerConfig, type MemberConfig, type PoolConfig, type RuleConfig, type TcpFrontendConfig, type TimeoutsConfig } from './schema.js'

export const DEFAULTS = {
  listenerAddress: '127.0.0.1',
  // Lync's external web services listen on 8080/4443 (Topology Builder's defaults); TMG and ARR
  // bridge 80 → 8080 and 443 → 4443 unless a pool says otherwise.
  poolHttpPort: 8080,
  poolHttpsPort: 4443,
  // Connections to one upstream server for ordinary requests; more wait in the proxy's queue. Without a
  // cap, every busy client is a request in flight upstream: the event-loop turns grow so long that the
  // listening socket is drained too slowly and clients time out before being accepted; with the cap
  // the turns stay short (bench scenario d; bench/results/2026-11-22-design-measurements.md).
  // Long polls would starve behind such a cap, which is why rules marked longPoll get uncapped
  // connections of their own.
  poolMaxSockets: 128,
  // 'lab' stands for the lab CA's PEM (certs/lab-ca.pem); see PoolTlsSchema.
  poolCa: ['lab'],
  paths: ['/'],
  redirectStatus: 301,
  connectTimeout: 5,
  // Below UCWA's 900 s long polls on purpose: rules that carry them raise it (lab.yaml uses 960).
  responseTimeout: 120,
  clientIdleTimeout: 120,
  headersTimeout: 30,
  requestTimeout: 300,
  handshakeTimeout: 10,
  maxConnections: 20_000,
  // Node's own default, and IIS's usual limit.
  maxHeaderBytes: 16_384,
  underscoreHeaders: 'refuse',
  // Large enough for meeting content uploads, small enough that one client cannot stream forever.
  maxBodyBytes: 256 * 1024 * 1024,
  // Larger than the bodies Lync clients send (UCWA JSON, web ticket SOAP, autodiscover), so those
  // reach a server whole; a client that trickles its body holds no upstream connection meanwhile.
  // A large upload streams once this much has arrived.
  requestBufferBytes: 64 * 1024,
  certsDir: 'certs',
  poolKind: 'vip',
  balance: 'round-robin',
  affinity: 'none',
  // Microsoft's own HLB probe of the web services (the DNS-summary's GeoDNS health check).
  healthPath: '/autodiscover/autodiscoverservice.svc/root',
  healthInterval: 5,
  healthTimeout: 2,
  healthRise: 2,
  healthFall: 3,
  passiveFailures: 3,
  passiveBackoff: 10,
  memberWeight: 1,
  // The HLB requirements' TCP idle timeout for the Director and Front End VIPs.
  tcpIdleTimeout: 1800,
  logLevel: 'info',
  // The admin plane listens on loopback only unless told otherwise: it shows headers and can reload.
  adminEnabled: true,
  adminAddress: '127.0.0.1',
  adminPort: 9090,
  // Enough for a page to start with the last few sign-ins; a lab for teaching keeps more.
  adminFlowHistory: 50,
  workers: 1,
} as const

// Type helpers. The resolved types are derived from the schema's types, so a field added to the
// schema appears here without being written twice.
type Simplify<T> = { [K in keyof T]: T[K] } & {}
// T with the keys K always present: the fields a default fills in.
type Defaulted<T, K extends keyof T> = Simplify<Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> }>
// The resolved config is frozen at run time; the type says so too, so mutation is a compile error.
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

type PoolTlsConfig = NonNullable<PoolConfig['tls']>
type DefaultsConfig = NonNullable<Config['defaults']>

type TimeoutsShape = Required<TimeoutsConfig>
type ListenerShape = Defaulted<ListenerConfig, 'address' | 'redirectToHttps' | 'interface'>
// portMap is the lab's own, never the file's: where a member's port is reached on one address
// (lab/single-address.ts), keyed by the port a rule bridges to or a frontend targets.
type MemberShape = Defaulted<MemberConfig, 'httpPort' | 'httpsPort' | 'weight'> & { portMap?: Record<string, number> }
type PoolShape = Simplify<Defaulted<Omit<PoolConfig, 'tls' | 'members' | 'health' | 'passive'>, 'address' | 'httpPort' | 'httpsPort' | 'maxSockets' | 'kind' | 'balance' | 'affinity'> & {
  tls: Defaulted<PoolTlsConfig, 'ca' | 'verify' | 'servername'>
  // Every pool has members: a vip pool has one, its address; a dns pool's come from DNS at run time.
  members: MemberShape[]
  health: Required<NonNullable<PoolConfig['health']>>
  passive: Required<NonNullable<PoolConfig['passive']>>
}>
type TcpShape = Defaulted<TcpFrontendConfig, 'address' | 'targetPort' | 'idleTimeout'>
type RuleBaseShape = Defaulted<Omit<RuleConfig, 'timeouts' | 'action' | 'pool'>, 'paths' | 'listeners' | 'redirectStatus' | 'maxBodyBytes' | 'requestBufferBytes' | 'longPoll'> & {
  // The rule's own timeouts merged over defaults.timeouts.
  timeouts: TimeoutsShape
}
// A forward rule always names its pool (validation guarantees it); other actions never do.
type RuleShape =
  | Simplify<RuleBaseShape & { action: Extract<RuleConfig['action'], 'forward'>, pool: string }>
  | Simplify<RuleBaseShape & { action: Exclude<RuleConfig['action'], 'forward'>, pool?: undefined }>
type ConfigShape = Simplify<Omit<Config, 'listeners' | 'pools' | 'rules' | 'defaults' | 'certs' | 'log' | 'tcp' | 'admin' | 'workers'> & {
  // A count once resolved: 'auto' is decided here, once, so every process of a cluster agrees.
  workers: number
  listeners: ListenerShape[]
  tcp: TcpShape[]
  pools: Record<string, PoolShape>
  rules: RuleShape[]
  defaults: Simplify<Defaulted<Omit<DefaultsConfig, 'timeouts'>, 'clientIdleTimeout' | 'headersTimeout' | 'requestTimeout' | 'handshakeTimeout' | 'maxConnections' | 'maxHeaderBytes' | 'underscoreHeaders' | 'trustedProxies' | 'maxBodyBytes' | 'requestBufferBytes'> & { timeouts: TimeoutsShape }>
  // dir is an absolute path once resolved.
  certs: Defaulted<NonNullable<Config['certs']>, 'dir'>
  // file is an absolute path once resolved.
  log: Defaulted<NonNullable<Config['log']>, 'level'>
  admin: Defaulted<NonNullable<Config['admin']>, 'enabled' | 'address' | 'port' | 'flowHistory'>
}>

export type ResolvedConfig = DeepReadonly<ConfigShape>
export type ResolvedListener = ResolvedConfig['listeners'][number]
export type ResolvedPool = ResolvedConfig['pools'][string]
export type ResolvedRule = ResolvedConfig['rules'][number]
export type ResolvedTimeouts = ResolvedConfig['defaults']['timeouts']
export type ResolvedMember = ResolvedPool['members'][number]
export type ResolvedTcpFrontend = ResolvedConfig['tcp'][number]

// Where the certificates directory is. The repository (and the npm package) keeps configs in
// config/ and certificates in certs/ beside it, so `certs` in config/lab.yaml must mean <repo>/certs,
// not config/certs. A config kept anywhere else (/etc/lyncproxy/lyncproxy.yaml) has its certs
// directory beside it. An explicit relative `certs.dir` follows the same rule, so writing the default
// out changes nothing. One exception: a config inside an installed package (a path through
// node_modules) keeps its relative certs directory in the user's cache instead, because a lab CA key
// written into node_modules would be shared by every project that installs it, and lost or
// replaced on the next install.
export function resolveCertsDir (dir: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path.isAbsolute(dir)) return path.normalize(dir)
  const root = path.basename(baseDir) === 'config' ? path.dirname(baseDir) : baseDir
  if (root.split(path.sep).includes('node_modules')) return path.resolve(userCacheDir(env), 'lyncproxy', dir)
  return path.resolve(root, dir)
}

// XDG_CACHE_HOME (Linux), LOCALAPPDATA (Windows), else ~/.cache, as each platform's tools expect.
function userCacheDir (env: NodeJS.ProcessEnv): string {
  if (env.XDG_CACHE_HOME !== undefined && path.isAbsolute(env.XDG_CACHE_HOME)) return env.XDG_CACHE_HOME
  if (process.platform === 'win32' && env.LOCALAPPDATA !== undefined) return env.LOCALAPPDATA
  return path.join(os.homedir(), '.cache')
}

// Applies the defaults to a config that passed validation (schema, references, conflicts). The input
// is not modified; the result is a new, deep-frozen plain object.
export function applyDefaults (input: Config, baseDir: string): ResolvedConfig {
  const config = structuredClone(input)
  const d = config.defaults
  const defaultTimeouts: TimeoutsShape = {
    connect: d?.timeouts?.connect ?? DEFAULTS.connectTimeout,
    response: d?.timeouts?.response ?? DEFAULTS.responseTimeout,
  }
  const listenerNames = config.listeners.map((l) => l.name)

  const listeners = config.listeners.map((l): ListenerShape => ({
    ...l,
    address: l.address ?? DEFAULTS.listenerAddress,
    interface: l.interface ?? 'external',
    // Only an http listener can redirect to HTTPS; on https listeners the flag is always false.
    redirectToHttps: l.protocol === 'http' ? (l.redirectToHttps ?? true) : false,
  }))

  const pools = Object.fromEntries(Object.entries(config.pools).map(([name, p]): [string, PoolShape] => [name, resolvePool(p)]))
  const tcp = (config.tcp ?? []).map((f): TcpShape => ({
    ...f,
    address: f.address ?? DEFAULTS.listenerAddress,
    targetPort: f.targetPort ?? f.port,
    idleTimeout: f.idleTimeout ?? DEFAULTS.tcpIdleTimeout,
  }))

  function resolvePool (p: PoolConfig): PoolShape {
    // An HLB VIP is normally reached by its FQDN; address is for labs and hosts-file setups.
    const address = p.address ?? p.fqdn
    const httpPort = p.httpPort ?? DEFAULTS.poolHttpPort
    const httpsPort = p.httpsPort ?? DEFAULTS.poolHttpsPort
    const kind = p.kind ?? DEFAULTS.poolKind
    const members: MemberShape[] = kind === 'members'
      ? (p.members ?? []).map((m) => ({ ...m, httpPort: m.httpPort ?? httpPort, httpsPort: m.httpsPort ?? httpsPort, weight: m.weight ?? DEFAULTS.memberWeight }))
      : kind === 'vip' ? [{ name: 'vip', address, httpPort, httpsPort, weight: 1 }] : []
    return {
    ...p,
    kind,
    members,
    balance: p.balance ?? DEFAULTS.balance,
    affinity: p.affinity ?? DEFAULTS.affinity,
    health: {
      // A vip pool is the HLB's business; members are probed as an HLB would probe them.
      check: p.health?.check ?? (kind === 'members' ? 'http' : 'none'),
      path: p.health?.path ?? DEFAULTS.healthPath,
      interval: p.health?.interval ?? DEFAULTS.healthInterval,
      timeout: p.health?.timeout ?? DEFAULTS.healthTimeout,
      rise: p.health?.rise ?? DEFAULTS.healthRise,
      fall: p.health?.fall ?? DEFAULTS.healthFall,
    },
    passive: {
      failures: p.passive?.failures ?? DEFAULTS.passiveFailures,
      backoff: p.passive?.backoff ?? DEFAULTS.passiveBackoff,
    },
    address,
    httpPort,
    httpsPort,
    maxSockets: p.maxSockets ?? DEFAULTS.poolMaxSockets,
    tls: {
      ...p.tls,
      ca: p.tls?.ca ?? [...DEFAULTS.poolCa],
      verify: p.tls?.verify ?? true,
      // The pool's certificate names its FQDN even when `address` is an IP.
      servername: p.tls?.servername ?? p.fqdn,
    },
    }
  }

  const rules = config.rules.map((r): RuleShape => {
    const { timeouts, pool, action, ...rest } = r
    const base = {
      ...rest,
      paths: r.paths ?? [...DEFAULTS.paths],
      listeners: r.listeners ?? [...listenerNames],
      redirectStatus: r.redirectStatus ?? DEFAULTS.redirectStatus,
      maxBodyBytes: r.maxBodyBytes ?? d?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      requestBufferBytes: r.requestBufferBytes ?? d?.requestBufferBytes ?? DEFAULTS.requestBufferBytes,
      longPoll: r.longPoll ?? false,
      timeouts: {
        connect: timeouts?.connect ?? defaultTimeouts.connect,
        response: timeouts?.response ?? defaultTimeouts.response,
      },
    }
    if (action === 'forward') {
      if (pool === undefined) throw new Error(`internal: forward rule '${r.name}' without pool passed validation`)
      return { ...base, action, pool }
    }
    return { ...base, action }
  })

  const resolved: ConfigShape = {
    ...config,
    workers: resolveWorkers(config.workers),
    listeners,
    pools,
    rules,
    tcp,
    defaults: {
      ...d,
      timeouts: defaultTimeouts,
      clientIdleTimeout: d?.clientIdleTimeout ?? DEFAULTS.clientIdleTimeout,
      headersTimeout: d?.headersTimeout ?? DEFAULTS.headersTimeout,
      requestTimeout: d?.requestTimeout ?? DEFAULTS.requestTimeout,
      handshakeTimeout: d?.handshakeTimeout ?? DEFAULTS.handshakeTimeout,
      maxConnections: d?.maxConnections ?? DEFAULTS.maxConnections,
      maxHeaderBytes: d?.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
      underscoreHeaders: d?.underscoreHeaders ?? (DEFAULTS.underscoreHeaders as 'refuse'),
      trustedProxies: d?.trustedProxies ?? [],
      maxBodyBytes: d?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      requestBufferBytes: d?.requestBufferBytes ?? DEFAULTS.requestBufferBytes,
    },
    certs: { ...config.certs, dir: resolveCertsDir(config.certs?.dir ?? DEFAULTS.certsDir, baseDir) },
    // log.file is relative to the config file, like every other path in it.
    log: { ...config.log, level: config.log?.level ?? DEFAULTS.logLevel, ...(config.log?.file === undefined ? {} : { file: path.resolve(baseDir, config.log.file) }) },
    admin: {
      ...config.admin,
      enabled: config.admin?.enabled ?? DEFAULTS.adminEnabled,
      address: config.admin?.address ?? DEFAULTS.adminAddress,
      port: config.admin?.port ?? DEFAULTS.adminPort,
      flowHistory: config.admin?.flowHistory ?? DEFAULTS.adminFlowHistory,
    },
  }
  return deepFreeze(resolved)
}

// 'auto' follows the CPUs this process may run on (a container's CPU limit included), capped like an
// explicit count.
export function resolveWorkers (workers: Config['workers']): number {
  if (workers === 'auto') return Math.min(MAX_WORKERS, Math.max(1, os.availableParallelism()))
  return workers ?? DEFAULTS.workers
}

export function deepFreeze<T> (value: T): DeepReadonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value as DeepReadonly<T>
}
