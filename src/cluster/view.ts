// The primary's own picture of the running config, for the admin routes that read a config and a
// table (routes, config, ports, explain). The primary serves no traffic, so its table is compiled
// but never supervised or used to forward: member health comes from the workers (/readyz, metrics).
import type { ResolvedConfig } from '../config/defaults.js'
import type { LoadedConfig } from '../config/load.js'
import type { ListenerAddress, ListenerStatus, RunningProxy, ServedCertificate } from '../control/proxy.js'
import { destroyPools } from '../control/shutdown.js'
import { ExchangeBus } from '../observe/exchange.js'
import { ProxyCounters } from '../upstream/proxy-counters.js'
import { compileTable } from '../routing/compile.js'
import type { RoutingTable } from '../routing/table.js'
import type { LabCertificates } from '../tls/lab-certs.js'

export interface ClusterView extends RunningProxy {
  // A reload that every worker took, at the generation the workers report.
  apply (loaded: LoadedConfig, generation: number): void
  // The addresses the workers bound (the ports, when the config says 0).
  setBound (listeners: readonly ListenerAddress[], tcpFrontends: ReadonlyArray<{ name: string, address: string, port: number }>): void
}

export function createClusterView (loaded: LoadedConfig, labCerts: LabCertificates | undefined, listenerStatus: () => Promise<ListenerStatus[]>): ClusterView {
  let current = loaded
  let generation = 1
  let listeners: readonly ListenerAddress[] = []
  let tcpFrontends: ReadonlyArray<{ name: string, address: string, port: number }> = []
  const compile = (): RoutingTable => compileTable(current.config, {
    baseDir: current.baseDir,
    labCaPem: labCerts?.caPem,
    generation,
    boundPorts: new Map(listeners.map((l) => [l.name, l.port])),
  })
  // Compiled once here so that what a worker would refuse (an unreadable CA file) stops the start
  // before anything is forked.
  let table = compile()
  const replace = (): void => {
    const previous = table
    table = compile()
    destroyPools(previous)
  }
  return {
    get listeners () { return listeners },
    get tcpFrontends () { return tcpFrontends },
    // Exchanges happen in the workers; nothing is published here.
    bus: new ExchangeBus(),
    // Each worker has its own; the primary forwards nothing.
    via: '',
    // Nothing waits or is pinned here either: the workers' metrics carry those gauges.
    counters: new ProxyCounters(),
    labCerts,
    table: () => table,
    config: (): ResolvedConfig => current.config,
    async reload (next: LoadedConfig): Promise<void> {
      current = next
      replace()
    },
    apply (next, nextGeneration) {
      current = next
      generation = nextGeneration
      replace()
    },
    setBound (l, tcp) {
      listeners = [...l]
      tcpFrontends = [...tcp]
      replace()
    },
    listenerStatus,
    // Certificates are loaded and served by the workers; their expiry is in the workers' metrics.
    certificates: (): ServedCertificate[] => [],
    async close () { destroyPools(table) },
  }
}
