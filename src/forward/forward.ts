// The forwarding engine: one upstream request per client request, bodies streamed both ways with
// backpressure, nothing buffered whole. The handlers are named top-level functions that find their
// state on the emitter, so a request costs no closures.
import http, { type Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Exchange } from '../observe/exchange.js'
import type { Route } from '../routing/table.js'
import { AFFINITY_COOKIE, affinityCookie } from '../upstream/balance.js'
import type { Member } from '../upstream/member.js'
import { existingPin, pinClientConnection } from '../upstream/pinning.js'
import { classifyUpstreamError, EdgeFailures, kTimeoutKind, noHealthyMember, type TimeoutKind } from './failure.js'
import { sendFailure } from './local-response.js'
import { filterResponseHeaders, filterTrailers, type UpstreamHeaders } from './request-headers.js'

const kForward = Symbol('lyncproxy.forward')

// Methods a retry may repeat (RFC 9110 §9.2.2); a POST is never sent twice.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
// Failures that prove nothing reached the upstream: safe to try another member.
const NOTHING_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const RETRY_AFTER_SECONDS = '10'

class ForwardState {
  readonly ex: Exchange
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly route: Route
  readonly headers: string[]
  readonly hasBody: boolean
  // The request had no valid MS-WSMAN cookie: the response carries one (cookie affinity only).
  readonly setAffinityCookie: boolean
  // The client sent TE: trailers, so the upstream's trailers may follow the body.
  readonly trailers: boolean
  bodyBytes = 0
  member: Member
  agent: Agent
  upReq: ClientRequest | undefined = undefined
  upRes: IncomingMessage | undefined = undefined
  port = 0
  connected = false
  responded = false
  retried = false
  finished = false

  constructor (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, headers: string[], hasBody: boolean, member: Member, agent: Agent, setAffinityCookie: boolean, trailers: boolean) {
    this.ex = ex
    this.req = req
    this.res = res
    this.route = route
    this.headers = headers
    this.hasBody = hasBody
    this.member = member
    this.agent = agent
    this.setAffinityCookie = setAffinityCookie
    this.trailers = trailers
  }
}

interface Tagged { [kForward]?: ForwardState }

export function forwardRequest (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, built: UpstreamHeaders): void {
  const { headers, connectionAuth, hasBody } = built
  const pool = route.pool!
  const tls = route.upstreamTls
  const client = req.socket
  let member: Member | undefined
  let agent: Agent
  let setCookie = false
  const pin = existingPin(client, pool)
  if (pin !== undefined) {
    member = pin.member
    agent = pin.agent
  } else {
    const cookie = pool.affinity === 'cookie' ? affinityCookie(req.rawHeaders) : ''
    member = pool.pick(ex.client, cookie)
    if (member === undefined) {
      ex.pool = pool.name
      ex.error = 'no_healthy_member'
      sendFailure(res, noHealthyMember(route), route, ['Retry-After', RETRY_AFTER_SECONDS])
      return
    }
    setCookie = pool.affinity === 'cookie' && cookie !== member.cookie
    agent = connectionAuth ? pinClientConnection(client, pool, tls, member).agent : (tls ? pool.httpsAgent : pool.httpAgent)
  }
  ex.pool = pool.name
  const state = new ForwardState(ex, req, res, route, headers, hasBody, member, agent, setCookie, built.trailers)
  ;(res as Tagged)[kForward] = state
  res.on('close', onClientClose)
  // A chunked body has no declared length to check up front: count it as it streams.
  if (hasBody && built.contentLength < 0 && route.maxBodyBytes > 0) {
    ;(req as Tagged)[kForward] = state
    req.on('data', countBody)
  }
  sendUpstream(state)
}

function sendUpstream (state: ForwardState): void {
  const { route, member, ex, req } = state
  const tls = route.upstreamTls
  const port = route.bridgePort !== 0 ? route.bridgePort : tls ? member.httpsPort : member.httpPort
  state.port = port
  state.connected = false
  state.finished = false
  ex.member = member.name
  ex.upstream = member.address + ':' + port
  member.active++
  const options: https.RequestOptions = {
    agent: state.agent,
    host: member.address,
    port,
    method: req.method,
    path: ex.target,
    headers: state.headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
  }
  const upReq = tls ? https.request(options) : http.request(options)
  state.upReq = upReq
  ;(upReq as Tagged)[kForward] = state
  upReq.setTimeout(route.timeouts.connectMs)
  upReq.on('socket', onUpstreamSocket)
  upReq.on('timeout', onUpstreamTimeout)
  upReq.on('error', onUpstreamError)
  upReq.on('response', onUpstreamResponse)
  upReq.on('continue', onUpstreamContinue)
  upReq.on('information', onUpstreamInformation)
  upReq.on('upgrade', onUnsolicitedUpgrade)
  if (state.hasBody) {
    req.pipe(upReq)
  } else {
    upReq.end()
  }
}

function onUpstreamSocket (this: ClientRequest, socket: Socket): void {
  const state = (this as Tagged)[kForward]!
  if (!socket.connecting) {
    markConnected(state, this)
    return
  }
  // New connections only: the connect timeout covers TCP, and TLS when the upstream speaks it.
  // req.setTimeout arms the socket only once TCP has connected, which would leave an unanswered SYN
  // to the agent's 60 s idle timer; arm it on the socket now.
  socket.setTimeout(state.route.timeouts.connectMs)
  socket.once(state.route.upstreamTls ? 'secureConnect' : 'connect', () => markConnected(state, this))
}

function markConnected (state: ForwardState, upReq: ClientRequest): void {
  if (state.upReq !== upReq || state.connected) return
  state.connected = true
  upReq.setTimeout(state.route.timeouts.responseMs)
}

function onUpstreamTimeout (this: ClientRequest): void {
  const state = (this as Tagged)[kForward]!
  const err = new Error('upstream timeout') as Error & { [kTimeoutKind]?: TimeoutKind }
  err[kTimeoutKind] = state.upReq === this && state.connected ? 'response' : 'connect'
  this.destroy(err)
}

function onUpstreamError (this: ClientRequest, err: NodeJS.ErrnoException & { [kTimeoutKind]?: TimeoutKind }): void {
  const state = (this as Tagged)[kForward]!
  // A superseded attempt (after a retry) has nothing left to say.
  if (state.upReq !== this) return
  const { ex, res, route, member } = state
  releaseMember(state)
  if (state.responded || res.headersSent) {
    // Bytes after a complete response (a body on a HEAD, 204 or 304, or more than the declared
    // length): the response stands and is relayed whole; Node has already destroyed that upstream
    // connection, so nothing can read the extra bytes as the next response.
    if (state.upRes?.complete === true) return
    // Once the status line has gone out, the only honest signal left is an aborted connection.
    if (ex.error === '') ex.error = 'upstream_aborted'
    abortClient(state)
    return
  }
  if (res.destroyed) return
  const connectFailure = NOTHING_SENT.has(err.code ?? '') || err[kTimeoutKind] === 'connect'
  const pool = route.pool!
  if (connectFailure) pool.recordFailure(member, err.code ?? 'connect timeout')
  if (connectFailure && canRetry(state)) {
    const next = pool.pick(ex.client, '', member)
    if (next !== undefined) {
      state.retried = true
      state.member = next
      ex.retried = true
      sendUpstream(state)
      return
    }
  }
  const failure = classifyUpstreamError(err, route, member.address, state.port)
  ex.error = failure.code
  sendFailure(res, failure, route)
}

// Once, for idempotent methods without a body, and never for a pinned (NTLM) connection: its
// handshake state lives on the member it is pinned to.
function canRetry (state: ForwardState): boolean {
  if (state.retried || state.hasBody) return false
  if (!IDEMPOTENT.has(state.req.method ?? '')) return false
  const pool = state.route.pool!
  return state.agent === pool.httpAgent || state.agent === pool.httpsAgent
}

function countBody (this: IncomingMessage, chunk: Buffer): void {
  const state = (this as Tagged)[kForward]!
  state.bodyBytes += chunk.length
  if (state.bodyBytes <= state.route.maxBodyBytes) return
  this.off('data', countBody)
  this.unpipe(state.upReq)
  state.upReq?.destroy()
  state.ex.error = 'body_too_large'
  if (!state.res.headersSent) {
    releaseMember(state)
    // The upstream request is gone; this answer replaces whatever it would have said.
    state.upReq = undefined
    sendFailure(state.res, EdgeFailures.bodyTooLarge, state.route)
  } else {
    abortClient(state)
  }
}

// The upstream will read the body: now the client may send it.
function onUpstreamContinue (this: ClientRequest): void {
  const state = (this as Tagged)[kForward]!
  if (state.upReq === this && !state.res.headersSent) state.res.writeContinue()
}

// 1xx other than 100 and 101: 103 Early Hints is relayed (RFC 9110 §15.2: a proxy forwards 1xx).
function onUpstreamInformation (this: ClientRequest, info: { statusCode: number, rawHeaders: string[] }): void {
  const state = (this as Tagged)[kForward]!
  if (info.statusCode !== 103 || state.upReq !== this || state.res.headersSent) return
  const hints: Record<string, string | string[]> = {}
  const raw = filterResponseHeaders(info.rawHeaders)
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const prev = hints[name]
    hints[name] = prev === undefined ? raw[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), raw[i + 1]!]
  }
  // Node insists on a Link field in early hints; a 103 without one carries nothing to relay.
  if (hints.link === undefined) return
  try { state.res.writeEarlyHints(hints) } catch { /* a malformed Link: the final response still follows */ }
}

function onUpstreamResponse (this: ClientRequest, upRes: IncomingMessage): void {
  const state = (this as Tagged)[kForward]!
  const { ex, res, route, member } = state
  state.responded = true
  const status = upRes.statusCode ?? 502
  ex.upstreamStatus = status
  if (status === 101) {
    // Node hands a 101 that lacks `Connection: upgrade` to 'response'. This request asked for no
    // upgrade, so the answer is invalid (RFC 9110 §15.2.2); relayed, it would switch the client's
    // connection to a protocol nobody speaks.
    state.responded = false
    this.destroy()
    onUpstreamError.call(this, unsolicitedUpgrade())
    return
  }
  // 502/503/504 say the server itself is unwell. A 500 is also Lync's answer to a bad web ticket,
  // which any client can provoke, so it must not eject a member.
  if (status >= 502 && status <= 504) route.pool!.recordFailure(member, `answered ${status}`)
  else route.pool!.recordSuccess(member)
  state.upRes = upRes
  ;(upRes as Tagged)[kForward] = state
  upRes.on('error', onUpstreamBodyError)
  upRes.on('aborted', onUpstreamBodyError)
  upRes.on('end', onUpstreamEnd)
  if (res.destroyed) {
    upRes.resume()
    return
  }
  const headers = filterResponseHeaders(upRes.rawHeaders)
  if (state.setAffinityCookie) headers.push('Set-Cookie', AFFINITY_COOKIE + '=' + member.cookie + '; Path=/')
  if (route.hsts !== '') headers.push('Strict-Transport-Security', route.hsts)
  try {
    res.writeHead(status, upRes.statusMessage, headers as unknown as http.OutgoingHttpHeaders)
  } catch {
    // A field value that Node's client accepted but its server refuses to emit.
    state.responded = false
    upRes.resume()
    onUpstreamError.call(this, Object.assign(new Error('invalid upstream header'), { code: 'HPE_INVALID_HEADER_TOKEN' }))
    return
  }
  // Trailers can only follow a chunked body, and only to a client that said it accepts them.
  if (state.trailers && upRes.headers['content-length'] === undefined) {
    upRes.pipe(res, { end: false })
    return
  }
  upRes.pipe(res)
}

// A 101 with `Connection: upgrade` goes to 'upgrade' instead; with no listener Node destroys the
// socket and emits neither 'response' nor 'error', and the client would wait for an answer forever.
function onUnsolicitedUpgrade (this: ClientRequest, _upRes: IncomingMessage, socket: Socket): void {
  ;(this as Tagged)[kForward]!.ex.upstreamStatus = 101
  socket.destroy()
  onUpstreamError.call(this, unsolicitedUpgrade())
}

function unsolicitedUpgrade (): NodeJS.ErrnoException {
  return Object.assign(new Error('unsolicited 101 Switching Protocols'), { code: 'ERR_UNSOLICITED_UPGRADE' })
}

function onUpstreamEnd (this: IncomingMessage): void {
  const state = (this as Tagged)[kForward]!
  releaseMember(state)
  if (!state.trailers || this.headers['content-length'] !== undefined || state.res.writableEnded) return
  const trailers = filterTrailers(this.rawTrailers)
  if (trailers.length > 0) state.res.addTrailers(trailers)
  state.res.end()
}

function onUpstreamBodyError (this: IncomingMessage): void {
  const state = (this as Tagged)[kForward]!
  if (state.ex.error === '') state.ex.error = 'upstream_truncated'
  abortClient(state)
}

// Truncation must stay visible: no final chunk, no padded length, the connection simply ends.
function abortClient (state: ForwardState): void {
  releaseMember(state)
  state.ex.aborted = true
  state.res.destroy()
  state.req.socket.destroy()
}

function releaseMember (state: ForwardState): void {
  if (state.finished) return
  state.finished = true
  state.member.active--
}

function onClientClose (this: ServerResponse): void {
  const state = (this as Tagged)[kForward]!
  if (!this.writableFinished) {
    state.ex.aborted = true
    if (state.ex.error === '') state.ex.error = 'client_aborted'
    state.upReq?.destroy()
  }
  releaseMember(state)
}
