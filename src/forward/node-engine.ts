// The node:http engine (nodeEngine, a ForwardEngine: see forward-state.ts), for the three cases undici's
// HTTP/1.1 client does not serve well:
// - a client connection pinned by NTLM/Negotiate (a private agent with one socket, see
//   upstream/pinning.ts);
// - a request that expects 100-continue (undici refuses the Expect field; here the upstream's own
//   100 is relayed, so only a server that will read the body invites it);
// - a long poll (a rule marked longPoll). When a client leaves during a held request, undici puts
//   the aborted request back in its queue and opens a new connection for it before it notices the
//   abort (nodejs/undici#5845). A held UCWA poll ends that way whenever its client goes, so each one
//   cost a new upstream connection, left idle, and over TLS a handshake: when many polls close at
//   once the proxy is busy with those handshakes and answers nothing (the long-poll row of
//   bench/results/2026-11-22-design-measurements.md). Node's agent closes the socket and opens none.
// What to do with a 101, trailers or a truncated body is decided in forward-state.ts; this module
// only reports them. The handlers are named top-level functions that find their state on the
// emitter: a request costs no closures.
import http, { type ClientRequest, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import { endWithTrailers, relayEarlyHints, relayResponseHead, responseTruncated, trailersFollow, unsolicitedUpgrade, upstreamFailed, type ForwardState, type ForwardEngine } from './forward-state.js'
import { beginAttempt, releaseMember } from './member-attempt.js'
import { kTimeoutKind, type TimeoutKind, type UpstreamError } from './upstream-failure.js'

const kNode = Symbol('lyncproxy.nodeEngine')

class NodeAttempt {
  readonly state: ForwardState
  readonly upReq: ClientRequest
  upRes: IncomingMessage | undefined = undefined
  connected = false

  constructor (state: ForwardState, upReq: ClientRequest) {
    this.state = state
    this.upReq = upReq
  }
}

interface Tagged { [kNode]?: NodeAttempt }

export const nodeEngine: ForwardEngine = { send: sendViaNode, abort: abortNodeAttempt, stopBody: stopNodeBody }

function sendViaNode (state: ForwardState): void {
  const { route, member, ex, req } = state
  const port = beginAttempt(state)
  const options: https.RequestOptions = {
    agent: state.agent,
    host: member.address,
    port,
    method: req.method,
    path: ex.target,
    headers: state.headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
  }
  const upReq = route.upstreamTls ? https.request(options) : http.request(options)
  const attempt = new NodeAttempt(state, upReq)
  ;(upReq as Tagged)[kNode] = attempt
  ;(state.res as Tagged)[kNode] = attempt
  upReq.setTimeout(route.timeouts.connectMs)
  upReq.on('socket', onUpstreamSocket)
  upReq.on('timeout', onUpstreamTimeout)
  upReq.on('error', onUpstreamError)
  upReq.on('response', onUpstreamResponse)
  upReq.on('continue', onUpstreamContinue)
  upReq.on('information', onUpstreamInformation)
  upReq.on('upgrade', onUnsolicitedUpgrade)
  if (!state.hasBody) {
    upReq.end()
    return
  }
  const prefix = state.bodyPrefix
  for (let i = 0; i < prefix.length; i++) upReq.write(prefix[i])
  if (state.bodyComplete) upReq.end()
  else req.pipe(upReq)
}

// The client went away mid-exchange: the upstream request goes too.
function abortNodeAttempt (state: ForwardState): void {
  ;(state.res as Tagged)[kNode]?.upReq.destroy()
}

// The proxy answered 413 mid-body: stop streaming it upstream.
function stopNodeBody (state: ForwardState): void {
  const attempt = (state.res as Tagged)[kNode]
  if (attempt === undefined) return
  state.req.unpipe(attempt.upReq)
  attempt.upReq.destroy()
}

function current (upReq: ClientRequest): NodeAttempt | undefined {
  const attempt = (upReq as Tagged)[kNode]!
  // A superseded attempt (after a retry) has nothing left to say.
  return (attempt.state.res as Tagged)[kNode] === attempt ? attempt : undefined
}

function onUpstreamSocket (this: ClientRequest, socket: Socket): void {
  const attempt = (this as Tagged)[kNode]!
  if (!socket.connecting) {
    markConnected(attempt)
    return
  }
  // New connections only: the connect timeout covers TCP, and TLS when the upstream speaks it.
  // req.setTimeout arms the socket only once TCP has connected, which would leave an unanswered SYN
  // to the agent's 60 s idle timer; arm it on the socket now.
  socket.setTimeout(attempt.state.route.timeouts.connectMs)
  socket.once(attempt.state.route.upstreamTls ? 'secureConnect' : 'connect', () => markConnected(attempt))
}

function markConnected (attempt: NodeAttempt): void {
  if (attempt.connected) return
  attempt.connected = true
  attempt.upReq.setTimeout(attempt.state.route.timeouts.responseMs)
}

function onUpstreamTimeout (this: ClientRequest): void {
  const attempt = (this as Tagged)[kNode]!
  const err = new Error('upstream timeout') as UpstreamError
  err[kTimeoutKind] = (attempt.connected ? 'response' : 'connect') satisfies TimeoutKind
  this.destroy(err)
}

function onUpstreamError (this: ClientRequest, err: UpstreamError): void {
  const attempt = current(this)
  if (attempt === undefined) return
  attempt.state.responseComplete = attempt.upRes?.complete === true
  upstreamFailed(attempt.state, err)
}

// The upstream will read the body: now the client may send it.
function onUpstreamContinue (this: ClientRequest): void {
  const attempt = current(this)
  if (attempt !== undefined && !attempt.state.res.headersSent) attempt.state.res.writeContinue()
}

function onUpstreamInformation (this: ClientRequest, info: { statusCode: number, rawHeaders: string[] }): void {
  const attempt = current(this)
  if (attempt !== undefined) relayEarlyHints(attempt.state, info.statusCode, info.rawHeaders)
}

function onUpstreamResponse (this: ClientRequest, upRes: IncomingMessage): void {
  const attempt = (this as Tagged)[kNode]!
  const { state } = attempt
  const status = upRes.statusCode ?? 502
  if (status === 101) {
    // Node hands a 101 that lacks `Connection: upgrade` to 'response'.
    const err = unsolicitedUpgrade(state)
    this.destroy()
    onUpstreamError.call(this, err)
    return
  }
  attempt.upRes = upRes
  ;(upRes as Tagged)[kNode] = attempt
  upRes.on('error', onUpstreamBodyError)
  upRes.on('aborted', onUpstreamBodyError)
  upRes.on('end', onUpstreamEnd)
  if (!relayResponseHead(state, status, upRes.statusMessage, upRes.rawHeaders)) {
    // A field value that Node's client accepted but its server refuses to emit.
    upRes.resume()
    onUpstreamError.call(this, Object.assign(new Error('invalid upstream header'), { code: 'HPE_INVALID_HEADER_TOKEN' }))
    return
  }
  if (state.res.destroyed) {
    upRes.resume()
    return
  }
  if (trailersFollow(state, upRes.headers['content-length'] !== undefined)) {
    upRes.pipe(state.res, { end: false })
    return
  }
  upRes.pipe(state.res)
}

// A 101 with `Connection: upgrade` goes to 'upgrade' instead; with no listener Node destroys the
// socket and emits neither 'response' nor 'error', and the client would wait for an answer forever.
function onUnsolicitedUpgrade (this: ClientRequest, _upRes: IncomingMessage, socket: Socket): void {
  const err = unsolicitedUpgrade((this as Tagged)[kNode]!.state)
  socket.destroy()
  onUpstreamError.call(this, err)
}

function onUpstreamEnd (this: IncomingMessage): void {
  const { state } = (this as Tagged)[kNode]!
  releaseMember(state)
  // Otherwise the pipe has ended the response.
  if (!trailersFollow(state, this.headers['content-length'] !== undefined) || state.res.writableEnded) return
  endWithTrailers(state, this.rawTrailers)
}

function onUpstreamBodyError (this: IncomingMessage): void {
  responseTruncated((this as Tagged)[kNode]!.state)
}
