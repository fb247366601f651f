// Defaults, in one place, and the type of a config once they are applied. The rest of the code reads a
// ResolvedConfig and never has to decide what a missing field means.
import path from 'node:path'
import type { Config, ListenerConfig, PoolConfig, RuleConfig, TimeoutsConfig } from './schema.js'

export const DEFAULTS = {
  listenerAddress: '127.0.0.1',
  // Lync's external web services listen on 8080/4443 (Topology Builder's defaults); TMG and ARR
  // bridge 80 → 8080 and 443 → 4443 unless a pool says otherwise.
  poolHttpPort: 8080,
  poolHttpsPort: 4443,
  poolMaxSockets: 256,
  // 'lab' stands for the lab CA's PEM (certs/lab-ca.pem); see PoolTlsSchema.
  poolCa: ['lab'],
  paths: ['/'],
  redirectStatus: 301,
  connectTimeout: 5,
  // Below UCWA's 900 s long polls on purpose: rules that carry them raise it (lab.yaml uses 960).
  responseTimeout: 120,
  clientIdleTimeout: 120,
  headersTimeout: 30,
  certsDir: 'certs',
  logLevel: 'info',
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
type ListenerShape = Defaulted<ListenerConfig, 'address' | 'redirectToHttps'>
type PoolShape = Simplify<Defaulted<Omit<PoolConfig, 'tls'>, 'address' | 'httpPort' | 'httpsPort' | 'maxSockets'> & {
  tls: Defaulted<PoolTlsConfig, 'ca' | 'verify' | 'servername'>
}>
type RuleBaseShape = Defaulted<Omit<RuleConfig, 'timeouts' | 'action' | 'pool'>, 'paths' | 'listeners' | 'redirectStatus'> & {
  // The rule's own timeouts merged over defaults.timeouts.
  timeouts: TimeoutsShape
}
// A forward rule always names its pool (validation guarantees it); other actions never do.
type RuleShape =
  | Simplify<RuleBaseShape & { action: Extract<RuleConfig['action'], 'forward'>, pool: string }>
  | Simplify<RuleBaseShape & { action: Exclude<RuleConfig['action'], 'forward'>, pool?: undefined }>
type ConfigShape = Simplify<Omit<Config, 'listeners' | 'pools' | 'rules' | 'defaults' | 'certs' | 'log'> & {
  listeners: ListenerShape[]
  pools: Record<string, PoolShape>
  rules: RuleShape[]
  defaults: Simplify<Defaulted<Omit<DefaultsConfig, 'timeouts'>, 'clientIdleTimeout' | 'headersTimeout'> & { timeouts: TimeoutsShape }>
  // dir is an absolute path once resolved.
  certs: Defaulted<NonNullable<Config['certs']>, 'dir'>
  log: Defaulted<NonNullable<Config['log']>, 'level'>
}>

export type ResolvedConfig = DeepReadonly<ConfigShape>
export type ResolvedListener = ResolvedConfig['listeners'][number]
export type ResolvedPool = ResolvedConfig['pools'][string]
export type ResolvedRule = ResolvedConfig['rules'][number]
export type ResolvedTimeouts = ResolvedConfig['defaults']['timeouts']

// Where the certificates directory is. The repository (and the npm package) keeps configs in
// config/ and certificates in certs/ beside it, so `certs` in config/lab.yaml must mean <repo>/certs,
// not config/certs. A config kept anywhere else (/etc/lyncproxy/lyncproxy.yaml) has its certs
// directory beside it. An explicit relative `certs.dir` follows the same rule, so writing the default
// out changes nothing.
export function resolveCertsDir (dir: string, baseDir: string): string {
  if (path.isAbsolute(dir)) return path.normalize(dir)
  const root = path.basename(baseDir) === 'config' ? path.dirname(baseDir) : baseDir
  return path.resolve(root, dir)
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
    // Only an http listener can redirect to HTTPS; on https listeners the flag is always false.
    redirectToHttps: l.protocol === 'http' ? (l.redirectToHttps ?? true) : false,
  }))

  const pools = Object.fromEntries(Object.entries(config.pools).map(([name, p]): [string, PoolShape] => [name, {
    ...p,
    // An HLB VIP is normally reached by its FQDN; address is for labs and hosts-file setups.
    address: p.address ?? p.fqdn,
    httpPort: p.httpPort ?? DEFAULTS.poolHttpPort,
    httpsPort: p.httpsPort ?? DEFAULTS.poolHttpsPort,
    maxSockets: p.maxSockets ?? DEFAULTS.poolMaxSockets,
    tls: {
      ...p.tls,
      ca: p.tls?.ca ?? [...DEFAULTS.poolCa],
      verify: p.tls?.verify ?? true,
      // The pool's certificate names its FQDN even when `address` is an IP.
      servername: p.tls?.servername ?? p.fqdn,
    },
  }]))

  const rules = config.rules.map((r): RuleShape => {
    const { timeouts, pool, action, ...rest } = r
    const base = {
      ...rest,
      paths: r.paths ?? [...DEFAULTS.paths],
      listeners: r.listeners ?? [...listenerNames],
      redirectStatus: r.redirectStatus ?? DEFAULTS.redirectStatus,
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
    listeners,
    pools,
    rules,
    defaults: {
      ...d,
      timeouts: defaultTimeouts,
      clientIdleTimeout: d?.clientIdleTimeout ?? DEFAULTS.clientIdleTimeout,
      headersTimeout: d?.headersTimeout ?? DEFAULTS.headersTimeout,
    },
    certs: { ...config.certs, dir: resolveCertsDir(config.certs?.dir ?? DEFAULTS.certsDir, baseDir) },
    log: { ...config.log, level: config.log?.level ?? DEFAULTS.logLevel },
  }
  return deepFreeze(resolved)
}

export function deepFreeze<T> (value: T): DeepReadonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value as DeepReadonly<T>
}
