// What a listening socket knows: its name and protocol, where to find the current routing table,
// its certificates (for the SNI/Host check) and where finished exchanges go.
import type { ExchangeBus } from '../observe/exchange.js'
import type { RoutingTable } from '../routing/table.js'

export interface TableHolder {
  current: RoutingTable
}

export interface CertificateCoverage {
  covers (servername: string | undefined | false, host: string): boolean
}

export interface EdgeLimits {
  maxHeaderCount: number
  maxTargetLength: number
}

export interface ListenerState {
  readonly name: string
  readonly protocol: 'http' | 'https'
  readonly tables: TableHolder
  coverage: CertificateCoverage | undefined
  readonly via: string
  readonly bus: ExchangeBus
  readonly limits: EdgeLimits
  // WebSocket tunnels: they left the HTTP server, so closing the server does not end them.
  readonly tunnels: Set<import('node:net').Socket>
}

export const kListenerState = Symbol('lyncproxy.listenerState')
