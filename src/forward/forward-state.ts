// One forwarded exchange as both engines (undici-engine.ts, node-engine.ts) see it, and the steps
// they share: relaying the response head, failing before a response (with the one retry through
// state.engine), refusing an unsolicited 101, relaying trailers, and making a truncated response
// visible. An engine only moves bytes; every decision is made here, once. Member accounting and
// passive health are member-attempt.ts's, shared with the upgrade path.
import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Exchange } from '../observe/exchange.js'
import { sendFailure } from '../respond/local-response.js'
import type { Route } from '../routing/table.js'
import type { Member } from '../upstream/member.js'
import { addResponseFields } from './header-policy.js'
import { recordAnswer, recordConnectFailure, releaseMember, type MemberAttempt } from './member-attempt.js'
import { filterResponseHeaders, filterTrailers } from './request-headers.js'
import { classifyUpstreamError, type UpstreamError } from './upstream-failure.js'

// Methods a retry may repeat (RFC 9110 §9.2.2); a POST is never sent twice.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

// What forward.ts and this module ask of the engine that carries an exchange, declared beside the
// state that holds it. Two engines
// implement it as object constants (undiciEngine in undici-engine.ts, nodeEngine in node-engine.ts),
// so choosing one costs a reference, not an allocation: forward.ts chooses once per request and
// stores it on the ForwardState; the retry, the proxy's own answer mid-request, the client's
// departure and the body limit all go through state.engine. Each method finds the attempt it acts
// on through the state, as the handlers find their state on the emitter.
export interface ForwardEngine {
  // Sends (or sends again, after a retry) the request to state.member, counted by beginAttempt.
  send (state: ForwardState): void
  // The upstream request goes: the client left, or the proxy answers instead. Harmless when there
  // is no attempt or it has ended.
  abort (state: ForwardState): void
  // The proxy refused the rest of a streaming request body (413): nothing more goes upstream.
  stopBody (state: ForwardState): void
}

export class ForwardState implements MemberAttempt {
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
  // The engine that carries this exchange, chosen once by forward.ts (see ForwardEngine above).
  readonly engine: ForwardEngine
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

  constructor (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, headers: string[], hasBody: boolean, member: Member, setAffinityCookie: boolean, trailers: boolean, retryable: boolean, engine: ForwardEngine, agent: Agent | undefined) {
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
    this.engine = engine
    this.agent = agent
    this.body = req
  }
}

// The upstream's status line and fields, as the client will see them. False when Node refuses to
// emit a field value the upstream parser accepted; the caller then fails the exchange with a 502.
export function relayResponseHead (state: ForwardState, status: number, statusMessage: string | undefined, rawHeaders: string[]): boolean {
  const { ex, res, route, member } = state
  state.responded = true
  ex.upstreamStatus = status
  ex.upstreamResponseHeaders = rawHeaders
  recordAnswer(state, status)
  if (res.destroyed) return true
  const headers = filterResponseHeaders(rawHeaders)
  addResponseFields(headers, route, member, state.setAffinityCookie)
  ex.responseHeaders = headers
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
    state.engine.send(state)
    return
  }
  if (recordConnectFailure(state, err) && canRetry(state)) {
    const next = route.pool!.pick(ex.client, '', member)
    if (next !== undefined) {
      state.retried = true
      state.member = next
      ex.retried = true
      state.engine.send(state)
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

// The upstream answered 101 to a request that asked for no upgrade. Relayed, it would switch the
// client's connection to a protocol nobody speaks (RFC 9110 §15.2.2), so the exchange fails with the
// error returned here, once the engine has stopped its request.
export function unsolicitedUpgrade (state: ForwardState): UpstreamError {
  state.ex.upstreamStatus = 101
  return Object.assign(new Error('unsolicited 101 Switching Protocols'), { code: 'ERR_UNSOLICITED_UPGRADE' })
}

// Whether the upstream's trailers go to the client after the body: only a chunked body can carry
// them (the upstream sent no Content-Length), and only a client that sent TE: trailers receives
// them (RFC 9110 §6.5.1). When true, the engine leaves the end of the response to endWithTrailers.
export function trailersFollow (state: ForwardState, upstreamSentLength: boolean): boolean {
  return state.trailers && !upstreamSentLength
}

// The body's end when trailersFollow: the trailer fields the header policy keeps, then the last chunk.
export function endWithTrailers (state: ForwardState, rawTrailers: string[]): void {
  if (rawTrailers.length > 0) {
    const kept = filterTrailers(rawTrailers)
    if (kept.length > 0) state.res.addTrailers(kept)
  }
  state.res.end()
}

// The upstream's body broke off after the head was relayed (upstream closed, body timeout, fewer
// bytes than declared): the client must not take the part it got for the whole.
export function responseTruncated (state: ForwardState): void {
  if (state.ex.error === '') state.ex.error = 'upstream_truncated'
  abortClient(state)
}
