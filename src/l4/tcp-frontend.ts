// Layer-4 frontends: what an HLB does for the Director's SIP/MTLS 5061, 444 and the CLS ports
// 50001–50003. Bytes are spliced both ways with backpressure and TLS passes through untouched;
// a member that fails mid-stream resets the client, as a real VIP would.
import net from 'node:net'
import type { ResolvedTcpFrontend } from '../config/defaults.js'
import type { TableHolder } from '../edge/listener-state.js'
import type { Member } from '../upstream/member.js'

const CONNECT_TIMEOUT_MS = 5000

interface FrontendState {
  frontend: ResolvedTcpFrontend
  tables: TableHolder
  // Open client sockets, so that closing the frontend can end its tunnels.
  sockets: Set<net.Socket>
}

const kState = Symbol('lyncproxy.tcpFrontend')

export function createTcpFrontend (frontend: ResolvedTcpFrontend, tables: TableHolder): net.Server {
  // Half-open on both sides: a peer that has finished sending (FIN) may still be receiving, and a
  // VIP passes the FIN on instead of closing the other direction under it.
  const server = net.createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, onConnection)
  ;(server as net.Server & { [kState]: FrontendState })[kState] = { frontend, tables, sockets: new Set() }
  return server
}

export function tcpSockets (server: net.Server): Iterable<net.Socket> {
  return (server as net.Server & { [kState]: FrontendState })[kState].sockets
}

function onConnection (this: net.Server, client: net.Socket): void {
  const { frontend, tables, sockets } = (this as net.Server & { [kState]: FrontendState })[kState]
  sockets.add(client)
  client.on('close', () => sockets.delete(client))
  client.on('error', () => client.destroy())
  const pool = tables.current.tcpPools.get(frontend.name)
  const source = client.remoteAddress ?? ''
  const member = pool?.pick(source, '')
  if (pool === undefined || member === undefined) {
    client.resetAndDestroy()
    return
  }
  connectMember(client, frontend, member, (failed) => {
    // Nothing has been sent yet: one more member may take the connection.
    const next = pool.pick(source, '', failed)
    if (next === undefined) { client.resetAndDestroy(); return }
    connectMember(client, frontend, next, () => client.resetAndDestroy())
  })
}

// Teardown, from either side. The member fails (error): the client is reset. The member ends
// cleanly: its FIN reaches the client through the pipe, and its close ends the client's side once
// what is buffered for it has gone. The client resets: the member is reset too; a FIN would tell a
// half-open member only that the client has finished sending. The client closes cleanly (both
// directions done): the member connection goes. Idle on either side: both go. The member's active
// count is taken at connect and given back at its close, which comes once.
function connectMember (client: net.Socket, frontend: ResolvedTcpFrontend, member: Member, onConnectFailure: (m: Member) => void): void {
  if (client.destroyed) return
  const port = member.portMap.get(frontend.targetPort) ?? frontend.targetPort
  const upstream = net.connect({ host: member.address, port, noDelay: true, allowHalfOpen: true })
  let connected = false
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })))
  upstream.once('connect', () => {
    connected = true
    member.active++
    const idle = frontend.idleTimeout * 1000
    upstream.setTimeout(idle, () => { upstream.destroy(); client.destroy() })
    client.setTimeout(idle)
    client.on('timeout', () => { upstream.destroy(); client.destroy() })
    upstream.pipe(client)
    client.pipe(upstream)
    client.resume()
  })
  upstream.on('error', () => {
    if (!connected) { onConnectFailure(member); return }
    // The member went away mid-stream: a reset tells the client, a FIN would look like a clean end.
    if (!client.destroyed) client.resetAndDestroy()
  })
  upstream.on('close', () => {
    if (connected) member.active--
    if (connected && !client.destroyed) client.end()
  })
  client.on('close', (hadError) => {
    // A connection still being made is not completed just to be reset.
    if (hadError && !upstream.connecting && !upstream.destroyed) upstream.resetAndDestroy()
    else upstream.destroy()
  })
}
