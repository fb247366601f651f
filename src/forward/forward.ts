// The forwarding engine: one upstream request per client request, bodies streamed both ways with
// backpressure, nothing buffered whole. The handlers are named top-level functions that find their
// state on the emitter, so a request costs no closures.
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Exchange } from '../observe/exchange.js'
import type { Route } from '../routing/table.js'
import { existingPin, pinClientConnection } from '../upstream/pinning.js'
import { classifyUpstreamError, kTimeoutKind, type TimeoutKind } from './failure.js'
import { sendFailure } from './local-response.js'
import { filterResponseHeaders } from './request-headers.js'

const kForward = Symbol('lyncproxy.forward')

class ForwardState {
  readonly ex: Exchange
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly route: Route
  readonly upReq: ClientRequest
  connected = false
  responded = false

  constructor (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, upReq: ClientRequest) {
    this.ex = ex
    this.req = req
    this.res = res
    this.route = route
    this.upReq = upReq
  }
}

interface Tagged { [kForward]?: ForwardState }

export function forwardRequest (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, headers: string[], connectionAuth: boolean, hasBody: boolean): void {
  const pool = route.pool!
  const tls = route.upstreamTls
  const client = req.socket
  let agent = existingPin(client, pool)
  if (agent === undefined) {
    agent = connectionAuth ? pinClientConnection(client, pool, tls) : (tls ? pool.httpsAgent : pool.httpAgent)
  }
  ex.pool = pool.name
  ex.upstream = pool.address + ':' + route.upstreamPort
  const options: https.RequestOptions = {
    agent,
    host: pool.address,
    port: route.upstreamPort,
    method: req.method,
    path: ex.target,
    headers: headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
  }
  const upReq = tls ? https.request(options) : http.request(options)
  const state = new ForwardState(ex, req, res, route, upReq)
  ;(upReq as Tagged)[kForward] = state
  ;(res as Tagged)[kForward] = state
  upReq.setTimeout(route.timeouts.connectMs)
  upReq.on('socket', onUpstreamSocket)
  upReq.on('timeout', onUpstreamTimeout)
  upReq.on('error', onUpstreamError)
  upReq.on('response', onUpstreamResponse)
  res.on('close', onClientClose)
  if (hasBody) {
    req.pipe(upReq)
  } else {
    upReq.end()
  }
}

function onUpstreamSocket (this: ClientRequest, socket: Socket): void {
  const state = (this as Tagged)[kForward]!
  if (!socket.connecting) {
    markConnected(state)
    return
  }
  // New connections only: the connect timeout covers TCP, and TLS when the upstream speaks it.
  socket.once(state.route.upstreamTls ? 'secureConnect' : 'connect', () => markConnected(state))
}

function markConnected (state: ForwardState): void {
  if (state.connected) return
  state.connected = true
  state.upReq.setTimeout(state.route.timeouts.responseMs)
}

function onUpstreamTimeout (this: ClientRequest): void {
  const state = (this as Tagged)[kForward]!
  const err = new Error('upstream timeout') as Error & { [kTimeoutKind]?: TimeoutKind }
  err[kTimeoutKind] = state.connected ? 'response' : 'connect'
  this.destroy(err)
}

function onUpstreamError (this: ClientRequest, err: Error): void {
  const state = (this as Tagged)[kForward]!
  const { ex, res, route } = state
  if (state.responded || res.headersSent) {
    // Once the status line has gone out, the only honest signal left is an aborted connection.
    if (ex.error === '') ex.error = 'upstream_aborted'
    abortClient(state)
    return
  }
  if (res.destroyed) return
  const failure = classifyUpstreamError(err, route)
  ex.error = failure.code
  sendFailure(res, failure, route)
}

function onUpstreamResponse (this: ClientRequest, upRes: IncomingMessage): void {
  const state = (this as Tagged)[kForward]!
  const { ex, res } = state
  state.responded = true
  const status = upRes.statusCode ?? 502
  ex.upstreamStatus = status
  ;(upRes as Tagged)[kForward] = state
  upRes.on('error', onUpstreamBodyError)
  upRes.on('aborted', onUpstreamBodyError)
  if (res.destroyed) {
    upRes.resume()
    return
  }
  try {
    res.writeHead(status, upRes.statusMessage, filterResponseHeaders(upRes.rawHeaders) as unknown as http.OutgoingHttpHeaders)
  } catch {
    // A field value that Node's client accepted but its server refuses to emit.
    state.responded = false
    upRes.resume()
    onUpstreamError.call(this, Object.assign(new Error('invalid upstream header'), { code: 'HPE_INVALID_HEADER_TOKEN' }))
    return
  }
  upRes.pipe(res)
}

function onUpstreamBodyError (this: IncomingMessage): void {
  const state = (this as Tagged)[kForward]!
  if (state.ex.error === '') state.ex.error = 'upstream_truncated'
  abortClient(state)
}

// Truncation must stay visible: no final chunk, no padded length, the connection simply ends.
function abortClient (state: ForwardState): void {
  state.ex.aborted = true
  state.res.destroy()
  state.req.socket.destroy()
}

function onClientClose (this: ServerResponse): void {
  const state = (this as Tagged)[kForward]!
  if (!this.writableFinished) {
    state.ex.aborted = true
    if (state.ex.error === '') state.ex.error = 'client_aborted'
    state.upReq.destroy()
  }
}
