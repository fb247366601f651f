// Prometheus metrics, fed by the exchange bus and, at scrape time, by what the running proxy knows
// (listeners, certificates, pools). Names follow Prometheus practice and the shape Traefik and Envoy
// use: one prefix, base units, _total for counters, and labels that stay few: listener, rule, pool,
// member, status class. Never the path or the host a client sent: those are unbounded.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { Exchange, ExchangeBus } from './exchange.js'
import { type CounterSeries, type HistogramSeries, SeriesCounter, SeriesHistogram } from './series-metrics.js'

// What the metrics read from the running proxy at scrape time; RunningProxy fits it. Spelled out
// here, as the few fields read, so that observe/ (which every room writes records to) depends on
// none of them.
export interface MetricsSource {
  readonly bus: ExchangeBus
  // The instance's own counts (upstream/proxy-counters.ts): two proxies in one process report apart.
  readonly counters: { readonly pinnedConnections: number, readonly waiting: { readonly count: number } }
  table (): { readonly pools: ReadonlyMap<string, PoolHealthView> }
  listenerStatus (): Promise<ReadonlyArray<{ name: string, connections: number }>>
  certificates (): ReadonlyArray<{ listener: string, names: readonly string[], notAfter: Date }>
}

interface PoolHealthView {
  readonly name: string
  readonly members: ReadonlyArray<{ readonly name: string, readonly address: string, readonly up: boolean, readonly ejectedUntil: number }>
}

export interface Metrics {
  readonly registry: Registry
  // A reload attempt, from SIGHUP or the admin API.
  recordReload (result: 'success' | 'failure'): void
  // Flow-feed records dropped for slow admin clients.
  recordFlowDrops (count: number): void
  close (): void
}

export interface MetricsOptions {
  // Default process metrics (CPU, memory, event loop, GC); tests may leave them out.
  processMetrics?: boolean
  // The admin plane's own counters (reloads, flow-feed drops). A cluster worker leaves them out: the
  // primary runs the admin plane, and a reload counted in every worker would be counted N times.
  adminMetrics?: boolean
}

// Long polls (/ucwa, /mcx) last up to 900 s and make up a real share of Lync traffic, so the
// buckets reach past prom-client's default 10 s to the 960 s a long-poll rule allows.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 960]

const CODE_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const

// Exchange error codes (src/respond/failure.ts and the forwarding engine) → the kind label. Only
// upstream failures are counted; a client that goes away is not the pool's fault.
const UPSTREAM_ERROR_KINDS: ReadonlyMap<string, string> = new Map([
  ['upstream_refused', 'connect_refused'],
  ['upstream_unreachable', 'connect_unreachable'],
  ['upstream_dns', 'dns'],
  ['upstream_connect_timeout', 'connect_timeout'],
  ['upstream_timeout', 'response_timeout'],
  ['upstream_tls_untrusted', 'tls'],
  ['upstream_tls_name', 'tls'],
  ['upstream_tls_expired', 'tls'],
  ['upstream_tls_failed', 'tls'],
  ['upstream_reset', 'reset'],
  ['upstream_aborted', 'reset'],
  ['upstream_truncated', 'reset'],
  ['upstream_bad_response', 'bad_response'],
  ['no_healthy_member', 'no_healthy_member'],
  ['upstream_busy', 'busy'],
])

type Inc = { inc: (value?: number) => void }

interface RequestSeries {
  listener: string
  rule: string
  pool: string
  byClass: Array<CounterSeries | undefined>
}

// Label children cached by label values in nested Maps: a request whose series exists costs two or
// three Map gets and builds no key string. The values are strings the exchange already holds.
type Level<T> = Map<string, T>

function child2<T> (root: Level<Level<T>>, a: string, b: string, make: (a: string, b: string) => T): T {
  let level = root.get(a)
  if (level === undefined) { level = new Map(); root.set(a, level) }
  let child = level.get(b)
  if (child === undefined) { child = make(a, b); level.set(b, child) }
  return child
}

function child3<T> (root: Level<Level<Level<T>>>, a: string, b: string, c: string, make: (a: string, b: string, c: string) => T): T {
  let byB = root.get(a)
  if (byB === undefined) { byB = new Map(); root.set(a, byB) }
  let byC = byB.get(b)
  if (byC === undefined) { byC = new Map(); byB.set(b, byC) }
  let child = byC.get(c)
  if (child === undefined) { child = make(a, b, c); byC.set(c, child) }
  return child
}

interface AdminCounters {
  recordReload (result: 'success' | 'failure'): void
  recordFlowDrops (count: number): void
}

function adminCounters (registry: Registry): AdminCounters {
  const reloads = new Counter({
    name: 'lyncproxy_config_reloads_total',
    help: 'Configuration reloads (SIGHUP or POST /api/reload), by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  // Both results exist from the start, so a rate() over failures works before the first failure.
  reloads.inc({ result: 'success' }, 0)
  reloads.inc({ result: 'failure' }, 0)
  const flowDrops = new Counter({
    name: 'lyncproxy_admin_flow_events_dropped_total',
    help: 'Exchange records not sent to a live-flow client because it read too slowly.',
    registers: [registry],
  })
  return {
    recordReload: (result) => { reloads.inc({ result }) },
    recordFlowDrops: (count) => { if (count > 0) flowDrops.inc(count) },
  }
}

// The admin plane's metrics without a data plane: what a cluster primary adds to its workers' sum.
// Its process metrics are summed with the workers' too, so CPU and memory cover every process.
export function createAdminMetrics (options: Pick<MetricsOptions, 'processMetrics'> = {}): Metrics {
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })
  return { registry, ...adminCounters(registry), close: () => { registry.clear() } }
}

export function createMetrics (source: MetricsSource, options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })
  const admin: AdminCounters = options.adminMetrics === false ? { recordReload: () => {}, recordFlowDrops: () => {} } : adminCounters(registry)

  // Counted on every exchange, so bound to plain series (series-metrics.ts); labels: listener, rule,
  // pool, code_class for requests; listener, rule for the duration.
  const requests = new SeriesCounter('lyncproxy_requests_total', 'Requests answered, by listener, publishing rule, pool and status class.', registry)
  const duration = new SeriesHistogram('lyncproxy_request_duration_seconds', 'Time from the request to the end of the response, by listener and publishing rule.', DURATION_BUCKETS, registry)
  const upstreamErrors = new Counter({
    name: 'lyncproxy_upstream_errors_total',
    help: 'Failed upstream exchanges by pool and kind (connect_refused, connect_timeout, response_timeout, tls, reset, ...).',
    labelNames: ['pool', 'kind'] as const,
    registers: [registry],
  })
  const retries = new Counter({
    name: 'lyncproxy_upstream_retries_total',
    help: 'Requests sent to a second member after the first failed before anything was sent, by pool.',
    labelNames: ['pool'] as const,
    registers: [registry],
  })

  new Gauge({
    name: 'lyncproxy_open_connections',
    help: 'Open client connections, by listener.',
    labelNames: ['listener'] as const,
    registers: [registry],
    async collect () {
      this.reset()
      for (const l of await source.listenerStatus()) this.set({ listener: l.name }, l.connections)
    },
  })
  new Gauge({
    name: 'lyncproxy_ntlm_pinned_connections',
    help: 'Client connections authenticated with NTLM/Negotiate and pinned to their own upstream connection.',
    registers: [registry],
    collect () { this.set(source.counters.pinnedConnections) },
  })
  new Gauge({
    name: 'lyncproxy_upstream_waiting_requests',
    help: 'Requests waiting for an upstream connection: a free one of a member\'s maxSockets, or a new one being opened.',
    registers: [registry],
    collect () { this.set(source.counters.waiting.count) },
  })
  new Gauge({
    name: 'lyncproxy_upstream_up',
    help: 'Whether a pool member is up (1) or down (0): health checks and passive ejection; a VIP pool has one member, its VIP.',
    labelNames: ['pool', 'member', 'address'] as const,
    registers: [registry],
    // Across cluster workers (each checks on its own): up only when every worker sends to it.
    aggregator: 'min',
    collect () {
      this.reset()
      const now = Date.now()
      for (const pool of source.table().pools.values()) {
        for (const m of pool.members) this.set({ pool: pool.name, member: m.name, address: m.address }, m.up && now >= m.ejectedUntil ? 1 : 0)
      }
    },
  })
  new Gauge({
    name: 'lyncproxy_certificate_expiry_seconds',
    help: 'Seconds until a certificate served by an https listener expires (negative once expired).',
    labelNames: ['listener', 'names'] as const,
    registers: [registry],
    // Every cluster worker serves the same files; a sum of seconds would mean nothing.
    aggregator: 'min',
    collect () {
      this.reset()
      const now = Date.now()
      for (const c of source.certificates()) {
        this.set({ listener: c.listener, names: c.names.join(',') }, Math.round((c.notAfter.getTime() - now) / 1000))
      }
    },
  })

  const requestChildren: Level<Level<Level<RequestSeries>>> = new Map()
  const durationChildren: Level<Level<HistogramSeries>> = new Map()
  const errorChildren: Level<Level<Inc>> = new Map()
  // A status class gets its series when it first occurs, as prom-client's children did.
  const makeRequests = (listener: string, rule: string, pool: string): RequestSeries => ({ listener, rule, pool, byClass: CODE_CLASSES.map(() => undefined) })
  const makeDuration = (listener: string, rule: string): HistogramSeries => duration.bind({ listener, rule })
  const makeError = (pool: string, kind: string): Inc => upstreamErrors.labels({ pool, kind })
  const retryChildren = new Map<string, Inc>()

  function observe (ex: Exchange): void {
    const status = ex.status
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0
    const byRoute = child3(requestChildren, ex.listener, ex.rule, ex.pool, makeRequests)
    let counter = byRoute.byClass[cls]
    if (counter === undefined) {
      counter = requests.bind({ listener: byRoute.listener, rule: byRoute.rule, pool: byRoute.pool, code_class: CODE_CLASSES[cls]! })
      byRoute.byClass[cls] = counter
    }
    counter.inc()
    child2(durationChildren, ex.listener, ex.rule, makeDuration).observe(ex.durationMs / 1000)
    if (ex.error !== '') {
      const kind = UPSTREAM_ERROR_KINDS.get(ex.error)
      if (kind !== undefined) child2(errorChildren, ex.pool, kind, makeError).inc()
    }
    if (ex.retried) {
      let child = retryChildren.get(ex.pool)
      if (child === undefined) { child = retries.labels({ pool: ex.pool }); retryChildren.set(ex.pool, child) }
      child.inc()
    }
  }
  const detach = source.bus.subscribe(observe)

  return {
    registry,
    ...admin,
    close: () => { detach(); registry.clear() },
  }
}
