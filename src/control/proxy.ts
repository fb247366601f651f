// Assembles a running proxy from a loaded config: certificates, the compiled table, the listeners,
// the access log. Reload builds a new table (and certificate set) and swaps one reference; a config
// that fails leaves the running one in place.
import { randomBytes } from 'node:crypto'
import type { LoadedConfig } from '../config/load.js'
import type { ResolvedConfig } from '../config/defaults.js'
import { LyncProxyError } from '../errors.js'
import { bind, createServer, type BoundListener } from '../edge/listeners.js'
import type { ListenerState, TableHolder } from '../edge/listener-state.js'
import { attachAccessLog } from '../observe/access-log.js'
import { ExchangeBus } from '../observe/exchange.js'
import type { Logger } from '../observe/logger.js'
import { compileTable } from '../routing/compile.js'
import type { RoutingTable } from '../routing/table.js'
import { ensureLabCertificates, type LabCertificates } from '../tls/lab-certs.js'
import { loadCertificate } from '../tls/load.js'
import { createSniSelector, type SniSelector } from '../tls/sni.js'
import { labCertificateRequest, needsLabCertificates } from './lab-cert-request.js'

export interface ProxyOptions {
  logger: Logger
  // Certificates already ensured by the caller (the lab does this for its stand-ins too).
  labCerts?: LabCertificates
  env?: NodeJS.ProcessEnv
}

export interface ListenerAddress {
  name: string
  protocol: 'http' | 'https'
  address: string
  port: number
}

export interface RunningProxy {
  readonly listeners: readonly ListenerAddress[]
  readonly bus: ExchangeBus
  readonly labCerts: LabCertificates | undefined
  table (): RoutingTable
  config (): ResolvedConfig
  reload (loaded: LoadedConfig): Promise<void>
  close (graceMs?: number): Promise<void>
}

export const DEFAULT_HEADER_COUNT_LIMIT = 200
export const DEFAULT_TARGET_LENGTH_LIMIT = 8192

export async function startProxy (loaded: LoadedConfig, options: ProxyOptions): Promise<RunningProxy> {
  const { logger } = options
  let config = loaded.config
  let labCerts = options.labCerts
  if (labCerts === undefined && needsLabCertificates(config)) labCerts = await ensureLabCertificates(labCertificateRequest(config))
  let sniByListener = await loadListenerCertificates(config, loaded.baseDir, labCerts, options.env)
  let generation = 1
  const holder: TableHolder = { current: compileTable(config, { baseDir: loaded.baseDir, labCaPem: labCerts?.caPem, generation }) }
  const bus = new ExchangeBus()
  // A pseudonym of this process for Via, so a request that comes back through us is recognised.
  const via = 'lyncproxy-' + randomBytes(3).toString('hex')

  const bound: BoundListener[] = []
  const sniHolders = new Map<string, { current: SniSelector }>()
  try {
    for (const listener of config.listeners) {
      const sni = sniByListener.get(listener.name)
      const sniHolder = sni === undefined ? undefined : { current: sni }
      if (sniHolder !== undefined) sniHolders.set(listener.name, sniHolder)
      const state: ListenerState = {
        name: listener.name,
        protocol: listener.protocol,
        tables: holder,
        coverage: sni,
        via,
        bus,
        limits: { maxHeaderCount: DEFAULT_HEADER_COUNT_LIMIT, maxTargetLength: DEFAULT_TARGET_LENGTH_LIMIT },
      }
      const server = createServer(listener, config, state, sniHolder)
      const port = await bind(server, listener, listener.port)
      bound.push({ name: listener.name, protocol: listener.protocol, address: listener.address, port, server, state })
    }
  } catch (err) {
    await Promise.all(bound.map((b) => closeServer(b, 0)))
    for (const pool of holder.current.pools.values()) pool.destroy()
    throw err
  }

  const boundPorts = new Map(bound.map((b) => [b.name, b.port]))
  if (config.listeners.some((l) => l.port !== boundPorts.get(l.name))) {
    // Port 0 (tests): redirects must name the port actually bound.
    const first = holder.current
    holder.current = compileTable(config, { baseDir: loaded.baseDir, labCaPem: labCerts?.caPem, generation, boundPorts })
    for (const pool of first.pools.values()) pool.destroy()
  }
  const detachLog = attachAccessLog(bus, logger)
  for (const w of loaded.warnings) logger.warn(w)

  const listeners: ListenerAddress[] = bound.map(({ name, protocol, address, port }) => ({ name, protocol, address, port }))

  return {
    listeners,
    bus,
    labCerts,
    table: () => holder.current,
    config: () => config,
    async reload (next: LoadedConfig): Promise<void> {
      const nextConfig = next.config
      const sameListeners = JSON.stringify(nextConfig.listeners.map(listenerIdentity)) === JSON.stringify(config.listeners.map(listenerIdentity))
      if (!sameListeners) {
        throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', 'the reloaded config changes listeners (names, protocols, addresses or ports)', {
          location: { file: next.file, path: '/listeners' },
          fix: 'restart the proxy to change listeners; a reload changes pools, rules and certificates',
        })
      }
      let nextLab = labCerts
      if (needsLabCertificates(nextConfig)) nextLab = await ensureLabCertificates(labCertificateRequest(nextConfig))
      const nextSni = await loadListenerCertificates(nextConfig, next.baseDir, nextLab, options.env)
      const table = compileTable(nextConfig, { baseDir: next.baseDir, labCaPem: nextLab?.caPem, generation: generation + 1, boundPorts })
      // Everything new is built; from here on nothing can fail, so the swap is all or nothing.
      generation++
      const previous = holder.current
      holder.current = table
      config = nextConfig
      labCerts = nextLab
      sniByListener = nextSni
      for (const b of bound) {
        const sni = nextSni.get(b.name)
        const sniHolder = sniHolders.get(b.name)
        if (sni !== undefined && sniHolder !== undefined) {
          sniHolder.current = sni
          b.state.coverage = sni
          ;(b.server as unknown as { setSecureContext: (o: object) => void }).setSecureContext(sni.defaultCertificate.secureContextOptions)
        }
      }
      // Requests in flight keep their pool; its idle sockets go now, busy ones when they finish.
      for (const pool of previous.pools.values()) pool.drain()
      for (const w of next.warnings) logger.warn(w)
      logger.info({ generation }, 'configuration reloaded')
    },
    async close (graceMs = 5000): Promise<void> {
      await Promise.all(bound.map((b) => closeServer(b, graceMs)))
      for (const pool of holder.current.pools.values()) pool.destroy()
      detachLog()
    },
  }
}

function listenerIdentity (l: ResolvedConfig['listeners'][number]): string {
  return `${l.name}|${l.protocol}|${l.address}|${l.port}`
}

async function loadListenerCertificates (config: ResolvedConfig, baseDir: string, lab: LabCertificates | undefined, env: NodeJS.ProcessEnv | undefined): Promise<Map<string, SniSelector>> {
  const out = new Map<string, SniSelector>()
  for (const listener of config.listeners) {
    if (listener.protocol !== 'https' || listener.certificates === undefined) continue
    const certs = []
    for (const c of listener.certificates) certs.push(await loadCertificate(c, { baseDir, lab, env: env ?? process.env }))
    out.set(listener.name, createSniSelector(certs))
  }
  return out
}

function closeServer (b: { server: import('node:http').Server }, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const server = b.server
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
    server.closeIdleConnections()
    const timer = setTimeout(() => server.closeAllConnections(), graceMs)
    timer.unref()
    server.once('close', () => clearTimeout(timer))
  })
}
