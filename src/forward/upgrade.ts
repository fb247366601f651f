// WebSocket tunnelling. Only `Upgrade: websocket` on GET is tunnelled; anything else (h2c above all,
// the request-smuggling vector) was refused by the edge. Bytes the client sent with its upgrade request
// wait until the upstream has answered 101, and an idle tunnel is closed after the rule's timeout.
//
// One tunnel goes through phases: waiting (the upgrade request is upstream), declined (a non-101
// answer is being relayed), open (101: bytes spliced both ways), ended (the record is out). Either
// peer may go in any phase, and the other one's events keep arriving after that. The order is fixed:
// the side that goes first names the ending (the first cause wins, so an error that tearing down the
// other side provokes cannot claim the exchange); then the other side is stopped; then the member is
// given back and the record goes out, once. Every handler after that returns at `ended`, and each
// emitter keeps its 'error' listener to the end, so nothing a peer does late can throw.
//
// A tunnel counts against its member and tells the pool about the member's health exactly as a
// forwarded request does (member-attempt.ts): counted from the upgrade request until end(), a
// connect failure or a 502-504 refusal against it, any other answer for it.
//
// The handlers are named top-level functions that find their tunnel on the emitter.
import http, { type ClientRequest, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Exchange } from '../observe/exchange.js'
import { CLIENT_CLOSED_REQUEST } from '../respond/failure.js'
import { refuseRawSocket } from '../respond/local-response.js'
import { upstreamPort, type Route } from '../routing/table.js'
import type { Member } from '../upstream/member.js'
import { beginAttempt, recordAnswer, recordConnectFailure, releaseMember, type MemberAttempt } from './member-attempt.js'
import { filterResponseHeaders } from './request-headers.js'
import { classifyUpstreamError, kTimeoutKind, noHealthyMember, type TimeoutKind, type UpstreamError } from './upstream-failure.js'

const kTunnel = Symbol('lyncproxy.tunnel')

interface Tagged { [kTunnel]?: Tunnel }

type Phase = 'waiting' | 'declined' | 'open' | 'ended'

class Tunnel implements MemberAttempt {
  readonly ex: Exchange
  readonly client: Socket
  readonly head: Buffer
  readonly route: Route
  readonly member: Member
  port = 0
  released = false
  readonly done: () => void
  readonly upReq: ClientRequest
  phase: Phase = 'waiting'
  connected = false
  upRes: IncomingMessage | undefined = undefined
  upSocket: Socket | undefined = undefined

  constructor (ex: Exchange, client: Socket, head: Buffer, route: Route, member: Member, done: () => void, upReq: ClientRequest) {
    this.ex = ex
    this.client = client
    this.head = head
    this.route = route
    this.member = member
    this.done = done
    this.upReq = upReq
  }
}

export function forwardUpgrade (ex: Exchange, client: Socket, head: Buffer, route: Route, headers: string[], done: () => void): void {
  const pool = route.pool!
  ex.pool = pool.name
  const member = pool.pick(ex.client, '')
  if (member === undefined) {
    refuseRawSocket(client, ex, noHealthyMember(route), route, done)
    return
  }
  const port = upstreamPort(route, member)
  const options: https.RequestOptions = {
    // Upgraded sockets leave the agent anyway; a fresh connection keeps the keep-alive pool clean.
    agent: false,
    host: member.address,
    port,
    method: 'GET',
    path: ex.target,
    headers: headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    ...(route.upstreamTls ? pool.tlsOptions : {}),
  }
  const upReq: ClientRequest = route.upstreamTls ? https.request(options) : http.request(options)
  const tunnel = new Tunnel(ex, client, head, route, member, done, upReq)
  // A waiting upgrade and an open tunnel count against the member, as a request does (least
  // connections, draining); given back once, in end(). Counted only once the request exists, so a
  // request Node refuses to build leaves no count behind.
  beginAttempt(tunnel)
  ;(client as Tagged)[kTunnel] = tunnel
  ;(upReq as Tagged)[kTunnel] = tunnel
  client.on('close', onClientClose)
  upReq.setTimeout(route.timeouts.connectMs)
  upReq.on('socket', onUpstreamSocket)
  upReq.on('timeout', onUpstreamTimeout)
  upReq.on('error', onUpstreamError)
  upReq.on('response', onDeclined)
  upReq.on('upgrade', onSwitched)
  upReq.end()
}

// The one ending: the member is given back and the record goes out. Idempotent.
function end (tunnel: Tunnel): void {
  if (tunnel.phase === 'ended') return
  tunnel.phase = 'ended'
  releaseMember(tunnel)
  tunnel.done()
}

// A reset tells a peer that the stream broke; a FIN would look like a clean end. A TLS socket has
// no TCP handle of its own to reset (resetAndDestroy would throw), so it is destroyed.
function resetClient (client: Socket): void {
  if ((client as TLSSocket).encrypted === true || client.destroyed) client.destroy()
  else client.resetAndDestroy()
}

function onUpstreamSocket (this: ClientRequest, socket: Socket): void {
  const tunnel = (this as Tagged)[kTunnel]!
  // The connect timeout covers TCP, and TLS when the upstream speaks it; after that the upstream
  // has the rule's response timeout to answer the upgrade.
  socket.setTimeout(tunnel.route.timeouts.connectMs)
  socket.once(tunnel.route.upstreamTls ? 'secureConnect' : 'connect', () => markConnected(tunnel))
}

function markConnected (tunnel: Tunnel): void {
  if (tunnel.connected || tunnel.phase === 'ended') return
  tunnel.connected = true
  tunnel.upReq.setTimeout(tunnel.route.timeouts.responseMs)
}

function onUpstreamTimeout (this: ClientRequest): void {
  const tunnel = (this as Tagged)[kTunnel]!
  const err = Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT', [kTimeoutKind]: (tunnel.connected ? 'response' : 'connect') satisfies TimeoutKind })
  this.destroy(err)
}

function onUpstreamError (this: ClientRequest, err: UpstreamError): void {
  const tunnel = (this as Tagged)[kTunnel]!
  if (tunnel.phase === 'declined') { declinedBroke(tunnel); return }
  // After 101 the socket is the tunnel's; after the end, whatever happens to the request is moot.
  if (tunnel.phase !== 'waiting') return
  const { ex, route, member, client } = tunnel
  const failure = classifyUpstreamError(err, route, member.address, tunnel.port)
  recordConnectFailure(tunnel, err)
  refuseRawSocket(client, ex, failure, route, () => { end(tunnel) })
}

// The upstream declined the upgrade: its answer is relayed as a plain response, then the connection
// closes. The exchange ends when the client connection does (onClientClose).
function onDeclined (this: ClientRequest, upRes: IncomingMessage): void {
  const tunnel = (this as Tagged)[kTunnel]!
  if (tunnel.phase !== 'waiting' || tunnel.client.destroyed) {
    // The client went while the answer was on its way: its 'close' ends the exchange, as a 499.
    this.destroy()
    return
  }
  tunnel.phase = 'declined'
  tunnel.upRes = upRes
  ;(upRes as Tagged)[kTunnel] = tunnel
  const { ex, client } = tunnel
  const status = upRes.statusCode ?? 502
  ex.status = status
  ex.upstreamStatus = status
  recordAnswer(tunnel, status)
  upRes.on('aborted', onDeclinedAborted)
  upRes.on('error', onDeclinedAborted)
  upRes.on('end', onDeclinedEnd)
  const declined = filterResponseHeaders(upRes.rawHeaders)
  ex.upstreamResponseHeaders = upRes.rawHeaders
  ex.responseHeaders = [...declined, 'Connection', 'close']
  client.write(statusLine(upRes) + headerBlock(declined, ['Connection', 'close']))
  upRes.pipe(client)
}

function onDeclinedAborted (this: IncomingMessage): void {
  declinedBroke((this as Tagged)[kTunnel]!)
}

// The refusal broke off mid-body: the client must not take the part it got for the whole.
function declinedBroke (tunnel: Tunnel): void {
  if (tunnel.phase !== 'declined' || tunnel.upRes?.complete === true) return
  if (tunnel.ex.error === '') tunnel.ex.error = 'upstream_truncated'
  resetClient(tunnel.client)
}

// The whole refusal went out (pipe ends the client): a client that keeps its side open does not
// keep the connection.
function onDeclinedEnd (this: IncomingMessage): void {
  (this as Tagged)[kTunnel]!.client.destroySoon()
}

function onSwitched (this: ClientRequest, upRes: IncomingMessage, upSocket: Socket, upHead: Buffer): void {
  const tunnel = (this as Tagged)[kTunnel]!
  upSocket.on('error', onTunnelError)
  if (tunnel.phase !== 'waiting' || tunnel.client.destroyed) {
    // The client went while the 101 was on its way: its 'close' ends the exchange.
    upSocket.destroy()
    return
  }
  tunnel.phase = 'open'
  tunnel.upSocket = upSocket
  ;(upSocket as Tagged)[kTunnel] = tunnel
  const { ex, client, route } = tunnel
  ex.status = 101
  ex.upstreamStatus = 101
  recordAnswer(tunnel, 101)
  upSocket.setTimeout(0)
  const relayed = filterResponseHeaders(upRes.rawHeaders)
  relayed.push('Connection', 'Upgrade', 'Upgrade', upRes.headers.upgrade ?? 'websocket')
  ex.upstreamResponseHeaders = upRes.rawHeaders
  ex.responseHeaders = relayed
  client.write(statusLine(upRes) + headerBlock(relayed, []))
  if (upHead.length > 0) client.write(upHead)
  if (tunnel.head.length > 0) upSocket.write(tunnel.head)
  client.setTimeout(route.timeouts.responseMs, onTunnelIdle)
  upSocket.on('close', onTunnelUpstreamClose)
  upSocket.pipe(client)
  client.pipe(upSocket)
}

function onTunnelError (): void { /* seen as a 'close' with hadError */ }

function onTunnelIdle (this: Socket): void {
  const tunnel = (this as Tagged)[kTunnel]!
  tunnel.upSocket?.destroy()
  this.destroy()
}

// The upstream side of an open tunnel closed. A clean close has ended the client through the pipe:
// what is still buffered for it is sent before its connection goes.
function onTunnelUpstreamClose (this: Socket, hadError: boolean): void {
  const tunnel = (this as Tagged)[kTunnel]!
  if (tunnel.phase !== 'open') return
  if (hadError) {
    if (tunnel.ex.error === '') tunnel.ex.error = 'upstream_aborted'
    resetClient(tunnel.client)
  } else {
    tunnel.client.destroySoon()
  }
  end(tunnel)
}

function onClientClose (this: Socket, hadError: boolean): void {
  const tunnel = (this as Tagged)[kTunnel]!
  const { ex } = tunnel
  switch (tunnel.phase) {
    case 'waiting':
      // Gone before the upstream answered: the upgrade goes too, and no answer is the status.
      ex.aborted = true
      if (ex.error === '') ex.error = 'client_aborted'
      ex.status = CLIENT_CLOSED_REQUEST
      tunnel.upReq.destroy()
      break
    case 'declined':
      if (!this.writableFinished) {
        ex.aborted = true
        if (ex.error === '') ex.error = 'client_aborted'
      }
      // Stops the refusal's body if it is still coming; a whole one has left the request already.
      tunnel.upReq.destroy()
      break
    case 'open': {
      const upSocket = tunnel.upSocket!
      if (hadError) {
        ex.aborted = true
        if (ex.error === '') ex.error = 'client_aborted'
        upSocket.destroy()
      } else {
        // Both directions of the client are done: the upstream gets what is buffered for it first.
        upSocket.destroySoon()
      }
      break
    }
    case 'ended':
      return
  }
  end(tunnel)
}

function statusLine (res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`
}

function headerBlock (headers: string[], extra: string[]): string {
  let block = ''
  for (let i = 0; i < headers.length; i += 2) block += headers[i] + ': ' + headers[i + 1] + '\r\n'
  for (let i = 0; i < extra.length; i += 2) block += extra[i] + ': ' + extra[i + 1] + '\r\n'
  return block + '\r\n'
}
