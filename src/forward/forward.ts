// Forwarding one request: receive the start of its body, choose the member (affinity, NTLM pin,
// balance), choose the engine once (a ForwardEngine, forward-state.ts) and keep it on the
// ForwardState, and watch the client side (it may leave, or send more body than the rule accepts). Everything after the choice goes
// through state.engine. The handlers are named top-level functions that find their state on the
// emitter, so a request costs no closures.
//
// A body is received up to the rule's requestBufferBytes before any upstream connection is taken, so a
// client that trickles its body (slowhttptest -B, R-U-Dead-Yet) holds only its own connection and
// that buffer, never one of the pool's maxSockets. A body that fills the buffer streams from there on
// with backpressure both ways: a large upload is never held whole. Requests that expect 100-continue
// are not buffered: the client waits for the upstream's 100 before it sends anything.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http'
import type { Exchange } from '../observe/exchange.js'
import { EdgeFailures, type Failure } from '../respond/failure.js'
import { sendFailure } from '../respond/local-response.js'
import type { Route } from '../routing/table.js'
import { affinityCookie } from '../upstream/balance.js'
import type { Member } from '../upstream/member.js'
import { existingPin, pinClientConnection } from '../upstream/pinning.js'
import { abortClient, ForwardState } from './forward-state.js'
import { needsAffinityCookie } from './header-policy.js'
import { releaseMember } from './member-attempt.js'
import { nodeEngine } from './node-engine.js'
import type { UpstreamHeaders } from './request-headers.js'
import { undiciEngine } from './undici-engine.js'
import { noHealthyMember } from './upstream-failure.js'

const kForward = Symbol('lyncproxy.forward')
const kBuffering = Symbol('lyncproxy.bufferingBody')

interface Tagged { [kForward]?: ForwardState, [kBuffering]?: BufferingBody }

// A request whose body is being received before it goes upstream.
class BufferingBody {
  readonly ex: Exchange
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly route: Route
  readonly built: UpstreamHeaders
  readonly chunks: Buffer[] = []
  bytes = 0

  constructor (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, built: UpstreamHeaders) {
    this.ex = ex
    this.req = req
    this.res = res
    this.route = route
    this.built = built
  }
}

export function forwardRequest (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, built: UpstreamHeaders, expectContinue: boolean): void {
  ex.pool = route.pool!.name
  if (!built.hasBody || expectContinue || route.requestBufferBytes === 0) {
    dispatch(ex, req, res, route, built, expectContinue, undefined, !built.hasBody)
    return
  }
  const buffering = new BufferingBody(ex, req, res, route, built)
  ;(req as Tagged)[kBuffering] = buffering
  ;(res as Tagged)[kBuffering] = buffering
  req.on('data', onBufferedData)
  req.on('end', onBufferedEnd)
}

function onBufferedData (this: IncomingMessage, chunk: Buffer): void {
  const buffering = (this as Tagged)[kBuffering]!
  buffering.chunks.push(chunk)
  buffering.bytes += chunk.length
  const { route } = buffering
  if (route.maxBodyBytes > 0 && buffering.bytes > route.maxBodyBytes) {
    stopBuffering(buffering)
    buffering.ex.error = EdgeFailures.bodyTooLarge.code
    sendFailure(buffering.res, EdgeFailures.bodyTooLarge, route)
    return
  }
  if (buffering.bytes < route.requestBufferBytes) return
  // The client sends fast enough to fill the buffer: the rest streams upstream with backpressure.
  this.pause()
  stopBuffering(buffering)
  dispatchBuffered(buffering, false)
}

function onBufferedEnd (this: IncomingMessage): void {
  const buffering = (this as Tagged)[kBuffering]!
  stopBuffering(buffering)
  dispatchBuffered(buffering, true)
}

function stopBuffering (buffering: BufferingBody): void {
  const { req, res } = buffering
  req.off('data', onBufferedData)
  req.off('end', onBufferedEnd)
  ;(req as Tagged)[kBuffering] = undefined
  ;(res as Tagged)[kBuffering] = undefined
}

function dispatchBuffered (buffering: BufferingBody, complete: boolean): void {
  const { ex, req, res, route, built } = buffering
  // The client left while its body arrived: the edge has recorded it, nothing goes upstream.
  if (res.destroyed) return
  dispatch(ex, req, res, route, built, false, buffering, complete)
}

function dispatch (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, built: UpstreamHeaders, expectContinue: boolean, buffered: BufferingBody | undefined, bodyComplete: boolean): void {
  const { headers, hasBody } = built
  const connectionAuth = built.connectionAuth && route.pinConnectionAuth
  const pool = route.pool!
  const client = req.socket
  let member: Member | undefined
  // A pinned connection, an Expect: 100-continue, or a long poll goes by node:http (see node-engine.ts).
  let agent: Agent | undefined
  let setCookie = false
  const pin = existingPin(client, pool)
  if (pin !== undefined) {
    member = pin.member
    agent = pin.agent
  } else {
    const cookie = pool.affinity === 'cookie' ? affinityCookie(req.rawHeaders) : ''
    member = pool.pick(ex.client, cookie)
    if (member === undefined) {
      const failure = noHealthyMember(route)
      ex.error = failure.code
      sendFailure(res, failure, route)
      return
    }
    setCookie = needsAffinityCookie(pool, cookie, member)
    if (connectionAuth) agent = pinClientConnection(client, pool, route.upstreamTls, member).agent
    else if (expectContinue || route.longPoll) agent = route.upstreamTls ? pool.httpsAgent : pool.httpAgent
  }
  const pinned = pin !== undefined || connectionAuth
  const engine = agent === undefined ? undiciEngine : nodeEngine
  const state = new ForwardState(ex, req, res, route, headers, hasBody, member, setCookie, built.trailers, !pinned, engine, agent)
  ;(res as Tagged)[kForward] = state
  if (buffered !== undefined) {
    state.bodyPrefix = buffered.chunks
    state.bodyBytes = buffered.bytes
  }
  state.bodyComplete = bodyComplete
  if (hasBody) {
    if (engine === undiciEngine) state.body = undiciBody(state, built.contentLength)
    else if (!bodyComplete && built.contentLength < 0 && route.maxBodyBytes > 0) {
      // A chunked body has no declared length to check up front: count it as it streams.
      ;(req as Tagged)[kForward] = state
      req.on('data', countBody)
    }
  }
  engine.send(state)
}

// What undici reads as the body. A body received whole goes as one Buffer when its length was
// declared; otherwise a stream, which undici frames as chunked, as the client did. undici reads the
// stream only once a connection is ready, so the counting happens there; a 'data' listener would start
// the flow before anyone forwards it.
function undiciBody (state: ForwardState, contentLength: number): ForwardState['body'] {
  if (state.bodyComplete && contentLength >= 0) {
    const prefix = state.bodyPrefix
    return prefix.length === 1 ? prefix[0]! : Buffer.concat(prefix)
  }
  if (state.bodyPrefix.length === 0 && (contentLength >= 0 || state.route.maxBodyBytes === 0)) return state.req
  return streamedBody(state)
}

async function * streamedBody (state: ForwardState): AsyncGenerator<Buffer> {
  yield * state.bodyPrefix
  if (state.bodyComplete) return
  const limit = state.route.maxBodyBytes
  for await (const chunk of state.req as AsyncIterable<Buffer>) {
    state.bodyBytes += chunk.length
    if (limit > 0 && state.bodyBytes > limit) {
      refuseLargeBody(state)
      throw new Error('request body larger than maxBodyBytes')
    }
    yield chunk
  }
}

function countBody (this: IncomingMessage, chunk: Buffer): void {
  const state = (this as Tagged)[kForward]!
  state.bodyBytes += chunk.length
  if (state.bodyBytes <= state.route.maxBodyBytes) return
  this.off('data', countBody)
  state.engine.stopBody(state)
  refuseLargeBody(state)
}

function refuseLargeBody (state: ForwardState): void {
  answerInstead(state, EdgeFailures.bodyTooLarge)
}

// The proxy answers the client itself while the request is in flight (413 mid-body, or a body that
// broke off): the upstream request goes, and its answer, should one come, is moot.
function answerInstead (state: ForwardState, failure: Failure): void {
  state.ex.error = failure.code
  if (!state.res.headersSent) {
    state.superseded = true
    state.engine.abort(state)
    releaseMember(state)
    sendFailure(state.res, failure, state.route)
  } else {
    state.engine.abort(state)
    abortClient(state)
  }
}

// The client's request broke off before its end (the parser refused its body, or the request
// timeout ran out): the proxy's own answer replaces the upstream's. False when the response does not
// belong to a forwarded request.
export function interruptForward (res: ServerResponse, failure: Failure): boolean {
  const tagged = res as Tagged
  const buffering = tagged[kBuffering]
  if (buffering !== undefined) {
    stopBuffering(buffering)
    buffering.ex.error = failure.code
    sendFailure(res, failure, buffering.route)
    return true
  }
  const state = tagged[kForward]
  if (state === undefined) return false
  answerInstead(state, failure)
  return true
}

// The edge's one 'close' listener calls this before it publishes the record: whatever the upstream
// side is still doing stops now, so the record it publishes is final.
export function responseClosed (res: ServerResponse): void {
  const tagged = res as Tagged
  const buffering = tagged[kBuffering]
  if (buffering !== undefined) {
    stopBuffering(buffering)
    return
  }
  const state = tagged[kForward]
  if (state === undefined) return
  if (!res.writableFinished) state.engine.abort(state)
  releaseMember(state)
}
