// One forwarded exchange as both engines (undici-engine.ts, node-engine.ts) see it, and the steps
// they share: relaying the response head, failing before a response (with the one retry), and making
// a truncated response visible. An engine only moves bytes; every decision is made here, once.
import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Exchange } from '../observe/exchange.js'
import { sendFailure } from '../respond/local-response.js'
import type { Route } from '../routing/table.js'
import type { Member } from '../upstream/member.js'
import { addResponseFields } from './header-policy.js'
import { filterResponseHeaders } from './request-headers.js'
import { classifyUpstreamError, kTimeoutKind, type TimeoutKind } from './upstream-failure.js'

// Methods a retry may repeat (RFC 9110 §9.2.2); a POST is never sent twice.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
// Failures that prove nothing reached the upstream: safe to try another member.
const NOTHING_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])

export type UpstreamError = NodeJS.ErrnoException & { [kTimeoutKind]?: TimeoutKind }

// Sends (or re-sends, after a retry) the request to state.member with the engine that took it.
export type SendUpstream = (state: ForwardState) => void

export class ForwardState {
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
  // Whether a failed attempt may go to another member: never for a connection pinned by NTLM,
  // whose handshake lives on the member it is pinned to.
  readonly retryable: boolean
  readonly send: SendUpstream
  // The node:http agent, when the node engine carries the exchange (see node-engine.ts).
  readonly agent: Agent | undefined
  member: Member
  // What the undici engine reads as the request body: the body received whole, the request itself,
  // or a stream of the received part and the rest (see forward.ts).
  body: Buffer | AsyncIterable<Buffer> | IncomingMessage
  // The part of the body received before the upstream was chosen, and whether that was all of it.
  bodyPrefix: Buffer[] = []
  bodyComplete = true
  port = 0
  bodyBytes = 0
  // The response head has been relayed to the client.
  responded = false
  // The upstream response arrived whole; an error after that cannot make it less true.
  responseComplete = false
  retried = false
  // The member's active count has been given back.
  released = false
  // The proxy answered the client itself (413 mid-body); whatever the upstream says is moot.
  superseded = false

  constructor (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, headers: string[], hasBody: boolean, member: Member, setAffinityCookie: boolean, trailers: boolean, retryable: boolean, send: SendUpstream, agent: Agent | undefined) {
    this.ex = ex
    this.req = req
    this.res = res
    this.route = route
    this.headers = headers
    this.hasBody = hasBody
    this.member = member
    this.setAffinityCookie = setAffinityCookie
    this.trailers = trailers
    this.retryable = retryable
    this.send = send
    this.agent = agent
    this.body = req
  }
}

// Where this attempt goes, counted against the member until releaseMember.
export function beginAttempt (state: ForwardState): number {
  const { route, member, ex } = state
  const port = route.bridgePort !== 0 ? route.bridgePort : route.upstreamTls ? member.httpsPort : member.httpPort
  state.port = port
  state.released = false
  ex.member = member.name
  ex.upstream = member.address + ':' + port
  member.active++
  return port
}

export function releaseMember (state: ForwardState): void {
  if (state.released) return
  state.released = true
  state.member.active--
}

// The upstream's status line and fields, as the client will see them. False when Node refuses to
// emit a field value the upstream parser accepted; the caller then fails the exchange with a 502.
export function relayResponseHead (state: ForwardState, status: number, statusMessage: string | undefined, rawHeaders: string[]): boolean {
  const { ex, res, route, member } = state
  state.responded = true
  ex.upstreamStatus = status
  // 502/503/504 say the server itself is unwell. A 500 is also Lync's answer to a bad web ticket,
  // which any client can provoke, so it must not eject a member.
  if (status >= 502 && status <= 504) route.pool!.recordFailure(member, `answered ${status}`)
  else route.pool!.recordSuccess(member)
  if (res.destroyed) return true
  const headers = filterResponseHeaders(rawHeaders)
  addResponseFields(headers, route, member, state.setAffinityCookie)
  try {
    res.writeHead(status, statusMessage, headers as unknown as OutgoingHttpHeaders)
    return true
  } catch {
    state.responded = false
    return false
  }
}

// 103 Early Hints is relayed (RFC 9110 §15.2: a proxy forwards 1xx); other 1xx stop here.
export function relayEarlyHints (state: ForwardState, status: number, rawHeaders: string[]): void {
  if (status !== 103 || state.res.headersSent || state.res.destroyed) return
  const hints: Record<string, string | string[]> = {}
  const raw = filterResponseHeaders(rawHeaders)
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const prev = hints[name]
    hints[name] = prev === undefined ? raw[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), raw[i + 1]!]
  }
  // Node insists on a Link field in early hints; a 103 without one carries nothing to relay.
  if (hints.link === undefined) return
  try { state.res.writeEarlyHints(hints) } catch { /* a malformed Link: the final response still follows */ }
}

// The attempt failed. Before a response: another member when that is safe, else the failure's own
// status. After the status line went out: the client connection is aborted.
export function upstreamFailed (state: ForwardState, err: UpstreamError): void {
  const { ex, res, route, member } = state
  releaseMember(state)
  if (state.superseded) return
  if (state.responded || res.headersSent) {
    // Bytes after a complete response (a body on a HEAD, 204 or 304, or more than the declared
    // length): the response stands and is relayed whole; that upstream connection is not reused,
    // so nothing can read the extra bytes as the next response.
    if (state.responseComplete) return
    // Once the status line has gone out, the only honest signal left is an aborted connection.
    if (ex.error === '') ex.error = 'upstream_aborted'
    abortClient(state)
    return
  }
  if (res.destroyed) return
  // A kept-alive connection that the upstream's previous response had in fact closed (a trailer
  // section that changed its framing, say): undici reused it, its parser refused the first byte. The
  // request goes once more, on a fresh connection to the same member; idempotent requests only.
  if (err.code === 'HPE_CLOSED_CONNECTION' && canRetry(state)) {
    state.retried = true
    ex.retried = true
    state.send(state)
    return
  }
  const connectFailure = NOTHING_SENT.has(err.code ?? '') || err[kTimeoutKind] === 'connect'
  const pool = route.pool!
  if (connectFailure) pool.recordFailure(member, err.code ?? 'connect timeout')
  if (connectFailure && canRetry(state)) {
    const next = pool.pick(ex.client, '', member)
    if (next !== undefined) {
      state.retried = true
      state.member = next
      ex.retried = true
      state.send(state)
      return
    }
  }
  const failure = classifyUpstreamError(err, route, member.address, state.port)
  ex.error = failure.code
  sendFailure(res, failure, route)
}

// Once, for idempotent methods without a body.
function canRetry (state: ForwardState): boolean {
  if (state.retried || state.hasBody || !state.retryable) return false
  return IDEMPOTENT.has(state.req.method ?? '')
}

// Truncation must stay visible: no final chunk, no padded length, the connection simply ends.
// Destroying the response destroys its socket, or the socket it is given later when it still waits
// behind pipelined responses; by then the request's own socket reference may already be gone
// (Node clears it once the response has closed), so it is never read here.
export function abortClient (state: ForwardState): void {
  releaseMember(state)
  state.ex.aborted = true
  state.res.destroy()
}

export function unsolicitedUpgrade (): UpstreamError {
  return Object.assign(new Error('unsolicited 101 Switching Protocols'), { code: 'ERR_UNSOLICITED_UPGRADE' })
}
