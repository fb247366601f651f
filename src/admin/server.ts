// The admin plane: metrics, health, the routing table, explain, the live flow feed, reload and the
// teaching page, on a listener of its own (127.0.0.1:9090 by default). It is a separate server, so
// no published name can reach it: the external listeners never route to it.
import { readFileSync } from 'node:fs'
import Fastify, { LogController } from 'fastify'
import { AggregatorRegistry } from 'prom-client'
import type { ResolvedConfig } from '../config/defaults.js'
import type { LoadedConfig } from '../config/load.js'
import type { RunningProxy } from '../control/proxy.js'
import { listenError, LyncProxyError } from '../errors.js'
import { ExplainError, explainRequest } from '../explain/explain.js'
import { portTables } from '../ports/ports.js'
import type { Logger } from '../observe/logger.js'
import { createAdminMetrics, createMetrics, type Metrics } from '../observe/metrics.js'
import { harLog } from './har.js'
import { tallyTraffic } from '../observe/traffic.js'
import { requireToken, resolveAdminToken } from './auth.js'
import type { AdminCluster } from './cluster.js'
import { createFlowFeed } from './flows.js'
import { AdminHosts, checkBody, checkCrossSite, checkHost, refuse } from './guard.js'
import { redactConfig } from './redact.js'
import { readinessOf } from './readiness.js'
import { createReloader, type ReloadResult } from '../control/reload.js'
import { routesView } from './routes-view.js'
import * as schemas from './schemas.js'
import { loadStaticFiles } from './static-files.js'

export interface AdminOptions {
  proxy: RunningProxy
  logger: Logger
  // The file the proxy was loaded from, for reloads, and its directory, for admin.tokenFile.
  file?: string
  baseDir?: string
  env?: NodeJS.ProcessEnv
  // Overrides of config.admin.address / port (tests bind port 0).
  address?: string
  port?: number
  // Names the admin listener is reached by besides its address and, on loopback, localhost: a DNS
  // name of the host (with the listener's port), or `address:port` where a port forward or a
  // container runtime publishes it.
  hosts?: readonly string[]
  // Default process metrics; tests that start many admin planes leave them out.
  processMetrics?: boolean
  // Overrides admin.flowHistory.
  flowHistory?: number
  flowQueue?: number
  // Set in a cluster primary (workers > 1): `proxy` is then the primary's view of the config, and
  // what depends on traffic or pool state is asked of the workers.
  cluster?: AdminCluster
  // Given to the reloader (control/reload.ts): what the process did to the file's config at start.
  prepare?: (config: ResolvedConfig) => ResolvedConfig
}

export interface RunningAdmin {
  readonly url: string
  readonly address: string
  readonly port: number
  readonly metrics: Metrics
  // The reload that SIGHUP should use too.
  reload (): Promise<ReloadResult>
  close (): Promise<void>
}

const OPEN_ROUTES = new Set(['/healthz'])

// The creator of a HAR export names the version that wrote it.
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

// Each worker sees only the exchanges it served, and the feed is a stream from one process.
const FLOWS_NEED_ONE_WORKER = 'the live flow feed shows the exchanges of one process; with several workers each sees only its own. Set workers: 1 in the configuration to use /api/flows'

export function adminOptionsFrom (loaded: LoadedConfig, proxy: RunningProxy, logger: Logger, cluster?: AdminCluster, prepare?: AdminOptions['prepare']): AdminOptions {
  return { proxy, logger, file: loaded.file, baseDir: loaded.baseDir, ...(cluster === undefined ? {} : { cluster }), ...(prepare === undefined ? {} : { prepare }) }
}

export async function startAdmin (o: AdminOptions): Promise<RunningAdmin> {
  const { proxy } = o
  const env = o.env ?? process.env
  const settings = proxy.config().admin
  const token = resolveAdminToken(settings, env, o.baseDir ?? process.cwd())
  const address = o.address ?? settings.address
  const logger = o.logger.child({ plane: 'admin' })

  const cluster = o.cluster
  const processMetrics = o.processMetrics ?? true
  const metrics = cluster === undefined ? createMetrics(proxy, { processMetrics }) : createAdminMetrics({ processMetrics })
  cluster?.registerMetrics(metrics.registry)
  const traffic = tallyTraffic(proxy.bus)
  const listenerPort = (name: string): number => proxy.listeners.find((l) => l.name === name)?.port ?? 0
  const flows = createFlowFeed(proxy.bus, { history: o.flowHistory ?? settings.flowHistory, perClient: o.flowQueue ?? 256, onDrop: (n) => metrics.recordFlowDrops(n), context: { listenerPort, via: proxy.via } })
  const recordReload = (r: ReloadResult): ReloadResult => { metrics.recordReload(r.ok ? 'success' : 'failure'); return r }
  const reload = cluster === undefined
    ? createReloader({ file: o.file, proxy, logger, env, onResult: recordReload, ...(o.prepare === undefined ? {} : { prepare: o.prepare }) })
    : async () => recordReload(await cluster.reload())
  const files = loadStaticFiles()
  const started = Date.now()

  // Scrapes and page polls every few seconds would drown the proxy's own log; errors still show.
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true })
  // Known once the listener is bound (port 0 in tests); nothing is answered before.
  let hosts: AdminHosts | undefined
  // In this order: a foreign Host (421) or a cross-site state change (403) is refused before the
  // token is looked at, and a POST's body type (415) once the caller is known.
  app.addHook('onRequest', async (request, reply) => {
    if (hosts === undefined) return refuse(reply, { status: 503, error: 'starting', message: 'the admin plane is starting' })
    const refusal = checkHost(hosts, request.headers.host) ?? checkCrossSite(hosts, request)
    return refusal === undefined ? undefined : refuse(reply, refusal)
  })
  if (token !== undefined) app.addHook('onRequest', requireToken(token, OPEN_ROUTES))
  app.addHook('onRequest', async (request, reply) => {
    const refusal = checkBody(request)
    return refusal === undefined ? undefined : refuse(reply, refusal)
  })
  // A client that says application/json and sends nothing (fetch with a header and no body) asks
  // for the same as an empty POST; fastify's own parser would answer 400.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString()
    if (text === '') { done(null, undefined); return }
    parseJson(request, text, done)
  })
  app.addHook('onSend', async (_request, reply) => {
    // The page and the API are for this admin listener only: no framing, no sniffing, no caching.
    reply.header('X-Content-Type-Options', 'nosniff').header('X-Frame-Options', 'DENY').header('Cache-Control', 'no-store')
  })
  // SSE responses never end by themselves; end them before fastify waits for connections to close.
  app.addHook('preClose', async () => { flows.close() })
  app.setErrorHandler(async (err, request, reply) => {
    if (err instanceof ExplainError) return reply.code(400).send({ error: 'bad_url', message: err.message })
    const status = (err as { statusCode?: number }).statusCode ?? 500
    if (status >= 500) request.log.error({ err }, 'admin request failed')
    return reply.code(status).send({ error: (err as { code?: string }).code ?? 'error', message: err instanceof Error ? err.message : String(err) })
  })

  const boundPorts = (): Map<string, number> => new Map(proxy.listeners.map((l) => [l.name, l.port]))

  app.get('/healthz', { schema: schemas.healthzSchema }, async () => ({ status: 'ok', uptimeSeconds: (Date.now() - started) / 1000 }))

  app.get('/readyz', { schema: schemas.readyzSchema }, async (_request, reply) => {
    const body = cluster === undefined ? await readinessOf(proxy) : await cluster.readiness()
    return reply.code(body.ready ? 200 : 503).send(body)
  })

  app.get('/metrics', { schema: schemas.metricsSchema }, async (_request, reply) => {
    if (cluster === undefined) return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
    // Workers' registries summed by prom-client's cluster aggregation (each metric's `aggregator`:
    // sum by default, min/max/average where a metric says so), with the primary's own beside them.
    // The primary collects the registries itself instead of calling clusterMetrics(): that asks every
    // forked worker, and one still loading (a restart) would hold each scrape for its 5 s timeout and
    // then fail it; here only ready workers are asked, and one that does not answer is left out.
    const registry = AggregatorRegistry.aggregate([...await cluster.workerMetrics(), await metrics.registry.getMetricsAsJSON()])
    return reply.type(metrics.registry.contentType).send(await registry.metrics())
  })

  app.get('/api/routes', { schema: schemas.routesSchema }, async () => routesView(proxy.table(), proxy.config(), proxy.listeners))

  app.get('/api/config', { schema: schemas.configSchema }, async () => redactConfig(proxy.config()))

  app.get('/api/ports', { schema: schemas.portsSchema }, async () => ({ tables: portTables({ config: proxy.config(), table: proxy.table(), boundPorts: boundPorts() }) }))

  app.get('/api/traffic', { schema: schemas.trafficSchema }, async () => cluster === undefined ? traffic.snapshot() : await cluster.traffic())

  app.get<{ Querystring: schemas.ExplainQuery }>('/api/explain', { schema: schemas.explainSchema }, async (request) => {
    const q = request.query
    const headers = (q.header ?? []).map((h): [string, string] => {
      const colon = h.indexOf(':')
      if (colon <= 0) throw new ExplainError(`header '${h}' is not 'Name: value'`)
      return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()]
    })
    return explainRequest({
      url: q.url,
      ...(q.listener === undefined ? {} : { listener: q.listener }),
      ...(q.client === undefined ? {} : { client: q.client }),
      ...(q.method === undefined ? {} : { method: q.method }),
      headers,
    }, { config: proxy.config(), table: proxy.table(), boundPorts: boundPorts() })
  })

  app.get('/api/flows', { schema: schemas.flowsSchema }, async (request, reply) => {
    if (cluster !== undefined) return reply.code(501).send({ error: 'not_with_workers', message: FLOWS_NEED_ONE_WORKER })
    reply.hijack()
    flows.attach(request.raw, reply.raw)
  })

  app.get('/api/flows.har', { schema: schemas.flowsHarSchema }, async (_request, reply) => {
    if (cluster !== undefined) return reply.code(501).send({ error: 'not_with_workers', message: FLOWS_NEED_ONE_WORKER })
    const listeners = proxy.config().listeners
    const scheme = (name: string): 'http' | 'https' => listeners.find((l) => l.name === name)?.protocol ?? 'http'
    const har = harLog(flows.recent(), { name: 'lyncproxy', version: PACKAGE_VERSION }, { scheme, port: listenerPort, via: proxy.via })
    return reply.header('content-disposition', 'attachment; filename="lyncproxy-flows.har"')
      .type('application/json; charset=utf-8').send(JSON.stringify(har))
  })

  app.post('/api/reload', { schema: schemas.reloadSchema }, async (_request, reply) => {
    const result = await reload()
    return reply.code(result.ok ? 200 : o.file === undefined ? 409 : 422).send(result)
  })

  app.post<{ Params: schemas.DrainParams }>('/api/pools/:pool/members/:member/:action', { schema: schemas.drainSchema }, async (request, reply) => {
    const { pool: poolName, member: memberName, action } = request.params
    if (cluster !== undefined) {
      // Every worker balances on its own: each must take the member out.
      const drained = await cluster.setDraining(poolName, memberName, action === 'drain')
      if (drained === undefined) return reply.code(404).send({ error: `no member ${memberName} in pool ${poolName}` })
      return drained
    }
    const pool = proxy.table().pools.get(poolName)
    const member = pool?.setDraining(memberName, action === 'drain')
    if (pool === undefined || member === undefined) return reply.code(404).send({ error: `no member ${memberName} in pool ${poolName}` })
    return { pool: poolName, member: member.name, draining: member.draining, active: member.active }
  })

  const page = files.get('index.html')!
  app.get<{ Querystring: schemas.PageQuery }>('/', { schema: schemas.pageSchema }, async (request, reply) => {
    const given = request.query.token
    // A browser opened with ?token= must send it for the script and style sheet too.
    const body = given === undefined ? page.body : page.body.toString().replace(/"\/static\/([a-z.]+)"/g, `"/static/$1?token=${encodeURIComponent(given)}"`)
    return reply.type(page.type).send(body)
  })
  app.get<{ Params: schemas.AssetParams, Querystring: schemas.PageQuery }>('/static/:file', { schema: schemas.assetSchema }, async (request, reply) => {
    const file = files.get(request.params.file)!
    const given = request.query.token
    // A module's imports are fetched without its own URL's query, so the modules carry the token
    // on to the modules they import, as the page does to its script.
    const body = given === undefined || !request.params.file.endsWith('.js') ? file.body : withTokenOnImports(file.body, given)
    return reply.type(file.type).send(body)
  })
  // A vendored module imports nothing, so it needs no token rewriting.
  app.get<{ Params: schemas.VendorAssetParams, Querystring: schemas.PageQuery }>('/static/vendor/:file', { schema: schemas.vendorAssetSchema }, async (request, reply) => {
    const file = files.get(`vendor/${request.params.file}`)!
    return reply.type(file.type).send(file.body)
  })

  const closeAll = (): void => { flows.close(); traffic.close(); metrics.close() }
  let port: number
  try {
    await app.listen({ host: address, port: o.port ?? settings.port })
    const bound = app.server.address()
    port = typeof bound === 'object' && bound !== null ? bound.port : (o.port ?? settings.port)
    // The address as configured (a name, perhaps) and as bound (what that name resolved to).
    hosts = new AdminHosts(typeof bound === 'object' && bound !== null ? [address, bound.address] : [address], port, o.hosts)
  } catch (err) {
    closeAll()
    await app.close().catch(() => {})
    throw listenError(err, {
      what: 'the admin plane',
      address,
      port: o.port ?? settings.port,
      location: { path: '/admin' },
      portSetting: 'set admin.port to a free one, or admin.enabled: false',
      addressSetting: 'set admin.address',
    })
  }
  const host = address.includes(':') ? `[${address}]` : address
  return {
    url: `http://${host}:${port}/`,
    address,
    port,
    metrics,
    reload,
    async close () {
      await app.close()
      closeAll()
    },
  }
}

// `from './x.js'` or `from './vendor/x.js'` → the same with `?token=…`. The token goes into a
// JavaScript string: every character that could end or escape it is percent-encoded
// (encodeURIComponent leaves ' ( ) ! *).
function withTokenOnImports (body: Buffer, token: string): string {
  const query = encodeURIComponent(token).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return body.toString().replace(/ from '\.\/((?:vendor\/)?[a-z-]+\.js)'/g, ` from './$1?token=${query}'`)
}

// What `start` and `lab` run next to the proxy: the admin plane when the config enables it, with
// the config file for reloads. It is on by default, so a second proxy on the same host (or anything
// else on 9090) would take its port: the data plane matters more, so the proxy then runs without
// it and says so. A bad token setting still stops the start: that is a config error.
export async function startAdminIfEnabled (loaded: LoadedConfig, proxy: RunningProxy, logger: Logger, cluster?: AdminCluster, prepare?: AdminOptions['prepare']): Promise<RunningAdmin | undefined> {
  if (!proxy.config().admin.enabled) return undefined
  try {
    return await startAdmin(adminOptionsFrom(loaded, proxy, logger, cluster, prepare))
  } catch (err) {
    if (!(err instanceof LyncProxyError) || !err.code.startsWith('LRP_ERR_LISTEN_')) throw err
    logger.warn(`${err.format()}; the proxy runs without its admin plane`)
    return undefined
  }
}
