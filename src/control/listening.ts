// The proxy's listening sockets: one server per configured listener and per tcp frontend, bound in
// config order. A bind that fails closes what was already bound and throws the coded start-up error
// naming the setting that moves it.
import type net from 'node:net'
import type { LoadedConfig } from '../config/load.js'
import type { ResolvedConfig, ResolvedListener, ResolvedTcpFrontend } from '../config/defaults.js'
import { listenError, type LyncProxyError } from '../errors.js'
import { bind, createServer, type BoundListener } from '../edge/listeners.js'
import type { ListenerState, TableHolder } from '../edge/listener-state.js'
import { createTcpFrontend } from '../l4/tcp-frontend.js'
import type { ExchangeBus } from '../observe/exchange.js'
import type { SniSelector } from '../tls/sni.js'
import { closeListening } from './shutdown.js'

export const DEFAULT_HEADER_COUNT_LIMIT = 200
export const DEFAULT_TARGET_LENGTH_LIMIT = 8192

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

export interface TcpAddress {
  name: string
  address: string
  port: number
  server: net.Server
}

export interface Listening {
  readonly bound: readonly BoundListener[]
  readonly tcpBound: readonly TcpAddress[]
  // The certificates an https listener serves, read through this holder so a reload can swap them.
  readonly sniHolders: ReadonlyMap<string, { current: SniSelector }>
}

export interface ListenOptions {
  loaded: LoadedConfig
  tables: TableHolder
  sniByListener: ReadonlyMap<string, SniSelector>
  // This process's pseudonym for Via.
  via: string
  bus: ExchangeBus
}

export async function listen ({ loaded, tables, sniByListener, via, bus }: ListenOptions): Promise<Listening> {
  const config = loaded.config
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
        tables,
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
      const server = createTcpFrontend(frontend, tables)
      const port = await bindTcp(server, frontend, loaded)
      tcpBound.push({ name: frontend.name, address: frontend.address, port, server })
    }
  } catch (err) {
    await closeListening({ bound, tcpBound }, 0)
    throw err
  }
  return { bound, tcpBound, sniHolders }
}

// The ports actually bound, by listener name: they differ from the config's for port 0 (tests).
export function boundPorts (listening: Listening): Map<string, number> {
  return new Map(listening.bound.map((b) => [b.name, b.port]))
}

export function portsMoved (config: ResolvedConfig, ports: ReadonlyMap<string, number>): boolean {
  return config.listeners.some((l) => l.port !== ports.get(l.name))
}

export function listenerAddresses (listening: Listening): ListenerAddress[] {
  return listening.bound.map(({ name, protocol, address, port }) => ({ name, protocol, address, port }))
}

export function tcpAddresses (listening: Listening): Array<Omit<TcpAddress, 'server'>> {
  return listening.tcpBound.map(({ name, address, port }) => ({ name, address, port }))
}

export function listenerStatus (listening: Listening): Promise<ListenerStatus[]> {
  return Promise.all(listening.bound.map(listenerStatusOf))
}

function listenerStatusOf (b: BoundListener): Promise<ListenerStatus> {
  return new Promise((resolve) => {
    b.server.getConnections((err, count) => resolve({ name: b.name, listening: b.server.listening, connections: err === null ? count : 0 }))
  })
}

// A listener's failed bind, through the one mapping in errors.ts, with the settings that move it.
function listenerListenError (err: unknown, listener: ResolvedListener, loaded: LoadedConfig): LyncProxyError {
  // By name, as the edge does: the lab hands the proxy a config it adjusted (ports moved for want of
  // privilege, or made ephemeral), so the running config's order need not be the file's.
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
