// What a running proxy holds and a reload replaces, in one record: the assembler builds it, the
// reload swaps its parts, close and the admin plane's questions read it.
import type { ResolvedConfig } from '../config/defaults.js'
import type { TableHolder } from '../edge/listener-state.js'
import type { Logger } from '../observe/logger.js'
import type { ProxyCounters } from '../upstream/proxy-counters.js'
import type { LabCertificates } from '../tls/lab-certs.js'
import type { SniSelector } from '../tls/sni.js'
import type { Listening } from './listening.js'
import type { PoolSupervisor } from './pool-supervisor.js'

export interface LiveProxy {
  config: ResolvedConfig
  labCerts: LabCertificates | undefined
  sniByListener: ReadonlyMap<string, SniSelector>
  supervisor: PoolSupervisor
  // The routing table requests read; its generation counts the reloads that took.
  readonly tables: TableHolder
  readonly listening: Listening
  readonly boundPorts: ReadonlyMap<string, number>
  // Handed to every table the proxy compiles, so the counts outlive a reload.
  readonly counters: ProxyCounters
  readonly logger: Logger
  readonly env: NodeJS.ProcessEnv | undefined
}
