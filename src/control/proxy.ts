// Assembles a running proxy from a loaded config: certificates, the compiled table, the listeners,
// the access log. Reload builds a new table (and certificate set) and swaps one reference; a config
// that fails leaves the running one in place.
import { randomBytes } from 'node:crypto'
import type net from 'node:net'
import type { LoadedConfig } from '../config/load.js'
import type { ResolvedConfig, ResolvedListener, ResolvedTcpFrontend } from '../config/defaults.js'
import { listenError, LyncProxyError } from '../errors.js'
import { bind, createServer, type BoundListener } from '../edge/listeners.js'
import type { ListenerState, TableHolder } from '../edge/listener-state.js'
import { attachAccessLog } from '../observe/access-log.js'
import { ExchangeBus } from '../observe/exchange.js'
import type { Logger } from '../observe/logger.js'
import { compileTable } from '../routing/compile.js'
import type { RoutingTable } from '../routing/table.js'
import { ensureLabCertificates, type LabCertificates } from '../tls/lab-certs.js'
import { loadCertificate, type LoadedCertificate } from '../tls/load.js'
import { serverTlsContextOptions } from '../tls/profile.js'
import { createSniSelector, type SniSelector } from '../tls/sni.js'
import { createTcpFrontend, tcpSockets } from '../l4/tcp-frontend.js'
import { labCertificateRequest, needsLabCertificates } from './lab-cert-request.js'
import { supervisePools } from './pool-supervisor.js'

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

// What the admin plane reads about a listener: bound or not, and its open client connections.
export interface ListenerStatus {
  name: string
  listening: boolean
  connections: number
}

// A certificate an https listener serves, for expiry metrics and the teaching page.
export interface ServedCertificate {
  listener: string
  names: readonly string[]
  notAfter: Date
  source: string
}

export interface TcpAddress {
  name: string
  address: string
  port: number
  server: net.Server
}

export interface RunningProxy {
  readonly listeners: readonly ListenerAddress[]
  readonly tcpFrontends: ReadonlyArray<Omit<TcpAddress, 'server'>>
  readonly bus: ExchangeBus
  readonly labCerts: LabCertificates | undefined
  table (): RoutingTable
  config (): ResolvedConfig
  reload (loaded: LoadedConfig): Promise<void>
  close (graceMs?: number): Promise<void>
  listenerStatus (): Promise<ListenerStatus[]>
  certificates (): ServedCertificate[]
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
  const tcpBound: TcpAddress[] = []
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
        // Per listener, so the same process can be both reverse proxy and HLB VIP without seeing
        // its own Via as a loop.
        via: via + '.' + listener.name,
        bus,
        limits: { maxHeaderCount: DEFAULT_HEADER_COUNT_LIMIT, maxTargetLength: DEFAULT_TARGET_LENGTH_LIMIT },
        tunnels: new Set(),
      }
      const server = createServer(listener, config, state, sniHolder)
      const port = await bind(server, listener, listener.port).catch((err: unknown) => { throw listenerListenError(err, listener, loaded) })
      bound.push({ name: listener.name, protocol: listener.protocol, address: listener.address, port, server, state })
    }
    for (const frontend of config.tcp) {
      const server = createTcpFrontend(frontend, holder)
      const port = await bindTcp(server, frontend, loaded)
      tcpBound.push({ name: frontend.name, address: frontend.address, port, server })
    }
  } catch (err) {
    await Promise.all(bound.map((b) => closeServer(b, 0)))
    await Promise.all(tcpBound.map((b) => closeTcp(b.server)))
    destroyPools(holder.current)
    throw err
  }

  const boundPorts = new Map(bound.map((b) => [b.name, b.port]))
  if (config.listeners.some((l) => l.port !== boundPorts.get(l.name))) {
    // Port 0 (tests): redirects must name the port actually bound.
    const first = holder.current
    holder.current = compileTable(config, { baseDir: loaded.baseDir, labCaPem: labCerts?.caPem, generation, boundPorts })
    destroyPools(first)
  }
  let supervisor = await supervisePools(holder.current, config, logger)
  const detachLog = attachAccessLog(bus, logger)
  for (const w of loaded.warnings) logger.warn(w)

  const listeners: ListenerAddress[] = bound.map(({ name, protocol, address, port }) => ({ name, protocol, address, port }))

  return {
    listeners,
    tcpFrontends: tcpBound.map(({ name, address, port }) => ({ name, address, port })),
    bus,
    labCerts,
    table: () => holder.current,
    config: () => config,
    async reload (next: LoadedConfig): Promise<void> {
      const nextConfig = next.config
      const sameListeners = JSON.stringify(nextConfig.listeners.map(listenerIdentity)) === JSON.stringify(config.listeners.map(listenerIdentity)) &&
        JSON.stringify(nextConfig.tcp.map(tcpIdentity)) === JSON.stringify(config.tcp.map(tcpIdentity))
      if (!sameListeners) {
        throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', 'the reloaded config changes listeners (names, protocols, addresses or ports)', {
          location: { file: next.file, path: '/listeners' },
          fix: 'restart the proxy to change listeners; a reload changes pools, rules and certificates',
        })
      }
      // A process cannot turn into a cluster (or change its worker count) in place; the listeners
      // would have to move between processes.
      if (nextConfig.workers !== config.workers) {
        throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `the reloaded config changes workers from ${config.workers} to ${nextConfig.workers}`, {
          location: { file: next.file, path: '/workers' },
          fix: 'restart the proxy to change workers; a reload changes pools, rules and certificates',
        })
      }
      let nextLab = labCerts
      if (needsLabCertificates(nextConfig)) nextLab = await ensureLabCertificates(labCertificateRequest(nextConfig))
      const nextSni = await loadListenerCertificates(nextConfig, next.baseDir, nextLab, options.env)
      const table = compileTable(nextConfig, { baseDir: next.baseDir, labCaPem: nextLab?.caPem, generation: generation + 1, boundPorts })
      let nextSupervisor
      try {
        nextSupervisor = await supervisePools(table, nextConfig, logger)
      } catch (err) {
        destroyPools(table)
        throw err
      }
      // An operator's drain outlives a reload: the same member of the same pool stays out of rotation.
      for (const [name, pool] of holder.current.pools) {
        const next = table.pools.get(name)
        for (const m of pool.members) if (m.draining) next?.setDraining(m.name, true)
      }
      // Everything new is built; from here on nothing can fail, so the swap is all or nothing.
      generation++
      const previous = holder.current
      holder.current = table
      supervisor.stop()
      supervisor = nextSupervisor
      config = nextConfig
      labCerts = nextLab
      sniByListener = nextSni
      for (const b of bound) {
        const sni = nextSni.get(b.name)
        const sniHolder = sniHolders.get(b.name)
        if (sni !== undefined && sniHolder !== undefined) {
          sniHolder.current = sni
          b.state.coverage = sni
          ;(b.server as unknown as { setSecureContext: (o: object) => void }).setSecureContext({ ...serverTlsContextOptions(), ...sni.defaultCertificate.secureContextOptions })
        }
      }
      // Requests in flight keep their pool; its idle sockets go now, busy ones when they finish.
      for (const pool of previous.pools.values()) pool.drain()
      for (const pool of previous.tcpPools.values()) pool.destroy()
      for (const w of next.warnings) logger.warn(w)
      logger.info({ generation }, 'configuration reloaded')
    },
    listenerStatus: () => Promise.all(bound.map(listenerStatusOf)),
    certificates: () => servedCertificates(sniByListener),
    async close (graceMs = 5000): Promise<void> {
      supervisor.stop()
      await Promise.all([...bound.map((b) => closeServer(b, graceMs)), ...tcpBound.map((b) => closeTcp(b.server))])
      destroyPools(holder.current)
      detachLog()
    },
  }
}

function tcpIdentity (f: ResolvedConfig['tcp'][number]): string {
  return `${f.name}|${f.address}|${f.port}`
}

function destroyPools (table: RoutingTable): void {
  for (const pool of table.pools.values()) pool.destroy()
  for (const pool of table.tcpPools.values()) pool.destroy()
}

// A listener's failed bind, through the one mapping in errors.ts, with the settings that move it.
function listenerListenError (err: unknown, listener: ResolvedListener, loaded: LoadedConfig): LyncProxyError {
  // By name, as the edge does: the lab hands the proxy a config with some listeners left out, so an
  // index would not be the file's.
  const at = `/listeners/${listener.name}`
  // LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT replace only the external listeners' ports.
  const variables = listener.interface === 'external' ? 'set LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT (they replace the ports of the external http / https listeners), or ' : ''
  return listenError(err, {
    what: `listener ${listener.name}`,
    address: listener.address,
    port: listener.port,
    location: { file: loaded.file, path: at },
    portSetting: `${variables}change the port: of listener ${listener.name} in ${loaded.file}`,
    addressSetting: `change the address: of listener ${listener.name} in ${loaded.file}`,
  })
}

function bindTcp (server: net.Server, frontend: ResolvedTcpFrontend, loaded: LoadedConfig): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const at = `/tcp/${frontend.name}`
      reject(listenError(err, {
        what: `tcp frontend ${frontend.name}`,
        address: frontend.address,
        port: frontend.port,
        location: { file: loaded.file, path: at },
        portSetting: `change the port: of tcp frontend ${frontend.name} in ${loaded.file}`,
        addressSetting: `change the address: of tcp frontend ${frontend.name} in ${loaded.file}`,
      }))
    })
    server.listen({ host: frontend.address, port: frontend.port }, () => {
      const a = server.address()
      resolve(typeof a === 'object' && a !== null ? a.port : frontend.port)
    })
  })
}

// Spliced tunnels have no request boundary to wait for: closing ends them.
function closeTcp (server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
    for (const socket of tcpSockets(server)) socket.destroy()
  })
}

function listenerIdentity (l: ResolvedConfig['listeners'][number]): string {
  return `${l.name}|${l.protocol}|${l.address}|${l.port}`
}

// The loaded certificates behind each selector, kept beside it rather than in it: only the admin
// plane asks, and the SNI selector stays what the handshake needs.
const certificatesOf = new WeakMap<SniSelector, LoadedCertificate[]>()

function servedCertificates (sniByListener: ReadonlyMap<string, SniSelector>): ServedCertificate[] {
  const out: ServedCertificate[] = []
  for (const [listener, sni] of sniByListener) {
    for (const c of certificatesOf.get(sni) ?? []) out.push({ listener, names: c.names, notAfter: c.notAfter, source: c.source })
  }
  return out
}

function listenerStatusOf (b: BoundListener): Promise<ListenerStatus> {
  return new Promise((resolve) => {
    b.server.getConnections((err, count) => resolve({ name: b.name, listening: b.server.listening, connections: err === null ? count : 0 }))
  })
}

async function loadListenerCertificates (config: ResolvedConfig, baseDir: string, lab: LabCertificates | undefined, env: NodeJS.ProcessEnv | undefined): Promise<Map<string, SniSelector>> {
  const out = new Map<string, SniSelector>()
  for (const listener of config.listeners) {
    if (listener.protocol !== 'https' || listener.certificates === undefined) continue
    const certs = []
    for (const c of listener.certificates) certs.push(await loadCertificate(c, { baseDir, lab, env: env ?? process.env }))
    const selector = createSniSelector(certs)
    certificatesOf.set(selector, certs)
    out.set(listener.name, selector)
  }
  return out
}

function closeServer (b: { server: import('node:http').Server, state: ListenerState }, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const server = b.server
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
    server.closeIdleConnections()
    // Node looks for idle connections once, at close(). A keep-alive connection whose request was
    // in flight turns idle when its response ends and would then hold the exit until the deadline:
    // requests still arriving are answered with Connection: close, and idle connections are swept.
    server.prependListener('request', closeAfterResponse)
    const sweep = setInterval(() => server.closeIdleConnections(), 100)
    sweep.unref()
    const timer = setTimeout(() => {
      server.closeAllConnections()
      for (const tunnel of b.state.tunnels) tunnel.destroy()
    }, graceMs)
    timer.unref()
    server.once('close', () => { clearTimeout(timer); clearInterval(sweep) })
  })
}

function closeAfterResponse (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  res.shouldKeepAlive = false
}
