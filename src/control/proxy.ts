// Assembles a running proxy from a loaded config: certificates, the compiled table, the listeners,
// pool supervision, the access log. Each step is a module of this directory; reload (reload.ts)
// builds a new table and certificate set and swaps one reference, and a config that fails leaves the
// running one in place.
import { randomBytes } from 'node:crypto'
import type { LoadedConfig } from '../config/load.js'
import type { ResolvedConfig } from '../config/defaults.js'
import type { TableHolder } from '../edge/listener-state.js'
import { attachAccessLog } from '../observe/access-log.js'
import { ExchangeBus } from '../observe/exchange.js'
import type { Logger } from '../observe/logger.js'
import { ProxyCounters } from '../upstream/proxy-counters.js'
import { compileTable, withBoundPorts } from '../routing/compile.js'
import type { RoutingTable } from '../routing/table.js'
import type { LabCertificates } from '../tls/lab-certs.js'
import { labCertificatesFor, loadListenerCertificates, servedCertificates, type ServedCertificate } from './certificates.js'
import type { LiveProxy } from './live.js'
import { boundPorts, listen, listenerAddresses, listenerStatus, portsMoved, tcpAddresses, type ListenerAddress, type ListenerStatus, type TcpAddress } from './listening.js'
import { supervisePools } from './pool-supervisor.js'
import { reloadInPlace } from './reload.js'
import { closeListening, destroyPools } from './shutdown.js'

export { DEFAULT_HEADER_COUNT_LIMIT, DEFAULT_TARGET_LENGTH_LIMIT, type ListenerAddress, type ListenerStatus, type TcpAddress } from './listening.js'
export type { ServedCertificate } from './certificates.js'

export interface ProxyOptions {
  logger: Logger
  // Certificates already ensured by the caller (the lab does this for its stand-ins too).
  labCerts?: LabCertificates
  env?: NodeJS.ProcessEnv
}

export interface RunningProxy {
  readonly listeners: readonly ListenerAddress[]
  readonly tcpFrontends: ReadonlyArray<Omit<TcpAddress, 'server'>>
  readonly bus: ExchangeBus
  // This instance's pseudonym in Via (the teaching page tells its own second hop by it).
  readonly via: string
  readonly labCerts: LabCertificates | undefined
  // This instance's own: another proxy in the same process counts apart.
  readonly counters: ProxyCounters
  table (): RoutingTable
  config (): ResolvedConfig
  reload (loaded: LoadedConfig): Promise<void>
  close (graceMs?: number): Promise<void>
  listenerStatus (): Promise<ListenerStatus[]>
  certificates (): ServedCertificate[]
}

export async function startProxy (loaded: LoadedConfig, options: ProxyOptions): Promise<RunningProxy> {
  const { logger } = options
  const config = loaded.config
  const labCerts = options.labCerts ?? await labCertificatesFor(config, undefined)
  const sniByListener = await loadListenerCertificates(config, loaded.baseDir, labCerts, options.env)
  const counters = new ProxyCounters()
  // Compiled before anything is bound, so a config that cannot compile binds nothing.
  const tables: TableHolder = { current: compileTable(config, { baseDir: loaded.baseDir, labCaPem: labCerts?.caPem, generation: 1, counters }) }
  const bus = new ExchangeBus()
  // A pseudonym of this process for Via, so a request that comes back through us is recognised.
  const via = 'lyncproxy-' + randomBytes(3).toString('hex')

  const listening = await listen({ loaded, tables, sniByListener, via, bus }).catch((err: unknown) => {
    destroyPools(tables.current)
    throw err
  })
  const ports = boundPorts(listening)
  // Port 0 (tests): redirects must name the port actually bound.
  if (portsMoved(config, ports)) tables.current = withBoundPorts(tables.current, config, ports)
  const live: LiveProxy = {
    config,
    labCerts,
    sniByListener,
    supervisor: await supervisePools(tables.current, config, logger),
    tables,
    listening,
    boundPorts: ports,
    counters,
    logger,
    env: options.env,
  }
  const detachLog = attachAccessLog(bus, logger)
  for (const w of loaded.warnings) logger.warn(w)

  return {
    listeners: listenerAddresses(listening),
    tcpFrontends: tcpAddresses(listening),
    bus,
    via,
    counters,
    // The set it started with; a reload does not change what this says.
    labCerts,
    table: () => live.tables.current,
    config: () => live.config,
    reload: (next) => reloadInPlace(live, next),
    listenerStatus: () => listenerStatus(listening),
    certificates: () => servedCertificates(live.sniByListener),
    async close (graceMs = 5000): Promise<void> {
      live.supervisor.stop()
      await closeListening(listening, graceMs)
      destroyPools(live.tables.current)
      detachLog()
    },
  }
}
