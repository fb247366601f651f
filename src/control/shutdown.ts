// Stopping what the proxy runs: listeners stop accepting and let requests in flight finish within a
// grace period; tcp frontends end their tunnels at once; a table's pools close their connections.
import type http from 'node:http'
import type net from 'node:net'
import type { ListenerState } from '../edge/listener-state.js'
import { tcpSockets } from '../l4/tcp-frontend.js'
import type { RoutingTable } from '../routing/table.js'

interface ClosableListening {
  readonly bound: ReadonlyArray<{ server: http.Server, state: ListenerState }>
  readonly tcpBound: ReadonlyArray<{ server: net.Server }>
}

export async function closeListening (listening: ClosableListening, graceMs: number): Promise<void> {
  await Promise.all([...listening.bound.map((b) => closeServer(b, graceMs)), ...listening.tcpBound.map((b) => closeTcp(b.server))])
}

export function destroyPools (table: RoutingTable): void {
  for (const pool of table.pools.values()) pool.destroy()
  for (const pool of table.tcpPools.values()) pool.destroy()
}

// Spliced tunnels have no request boundary to wait for: closing ends them.
function closeTcp (server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
    for (const socket of tcpSockets(server)) socket.destroy()
  })
}

function closeServer (b: { server: http.Server, state: ListenerState }, graceMs: number): Promise<void> {
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

function closeAfterResponse (_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.shouldKeepAlive = false
}
