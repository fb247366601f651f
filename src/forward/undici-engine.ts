// The undici engine (undiciEngine, a ForwardEngine: see forward-state.ts): most exchanges go upstream
// through the pool's undici Agent, because a forwarder on undici costs much less CPU per request than
// one on node:http's ClientRequest (bench/results/engines.md). It creates no IncomingMessage per
// response, keeps no agent books, and its parser hands over raw header bytes. The handler is one small
// object per attempt with methods, not closures; it writes straight into the client's ServerResponse
// with backpressure both ways. What to do with a 101, trailers or a truncated body is decided in
// forward-state.ts; this module only reports them.
import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { containFault } from '../respond/fault.js'
import { endWithTrailers, relayEarlyHints, relayResponseHead, responseTruncated, trailersFollow, unsolicitedUpgrade, upstreamFailed, type ForwardState, type ForwardEngine } from './forward-state.js'
import { beginAttempt, releaseMember } from './member-attempt.js'
import { unwatchQueued, watchQueued, type QueuedRequest } from '../upstream/waiting-requests.js'
import { kTimeoutKind, type UpstreamError } from './upstream-failure.js'

const kUndici = Symbol('lyncproxy.undiciEngine')

interface Tagged { [kUndici]?: UndiciAttempt }

class UndiciAttempt implements Dispatcher.DispatchHandler, QueuedRequest {
  readonly state: ForwardState
  abortRequest: ((err?: Error) => void) | undefined = undefined
  resume: (() => void) | undefined = undefined
  // The upstream's trailers go to the client (trailersFollow in forward-state.ts).
  trailersFollow = false
  drainHooked = false
  // While the request waits for a connection (upstream/waiting-requests.ts): since when, and its neighbours.
  queuedAt = 0
  previousWaiting: QueuedRequest | undefined = undefined
  nextWaiting: QueuedRequest | undefined = undefined
  readonly queueLimitMs: number
  // The wait ran out and the client has its answer: whatever undici reports later is moot.
  expired = false

  constructor (state: ForwardState) {
    this.state = state
    this.queueLimitMs = state.route.timeouts.queueMs
  }

  onConnect (abort: (err?: Error) => void): void {
    this.abortRequest = abort
    unwatchQueued(this)
    // The client left, the proxy answered instead, or the wait ran out, while the request waited for
    // a connection.
    if (this.expired || this.state.superseded || this.state.res.destroyed) abort()
  }

  expire (): void {
    this.expired = true
    upstreamFailed(this.state, queueTimeout())
  }

  onHeaders (status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    const state = this.state
    if (status < 200) {
      if (status === 101) {
        this.abortRequest?.(unsolicitedUpgrade(state))
        return false
      }
      relayEarlyHints(state, status, latin1(raw))
      return true
    }
    const headers = latin1(raw)
    this.trailersFollow = trailersFollow(state, hasContentLength(headers))
    this.resume = resume
    if (!relayResponseHead(state, status, statusText, headers)) {
      // A field value that undici's parser accepted but Node's server refuses to emit.
      this.abortRequest?.(Object.assign(new Error('invalid upstream header'), { code: 'HPE_INVALID_HEADER_TOKEN' }))
      return false
    }
    // A 304 has no body whatever its Content-Length says (RFC 9110 §8.6 lets it announce the
    // representation's length), yet undici 7 then reports a length mismatch instead of completing.
    // The response is whole once its head is here; the error that follows only closes that upstream
    // connection, which is right anyway when stray bytes follow.
    if (status === 304) this.finish(null)
    return true
  }

  onData (chunk: Buffer): boolean {
    const res = this.state.res
    if (res.destroyed) return true
    if (res.write(chunk)) return true
    if (!this.drainHooked) {
      this.drainHooked = true
      res.on('drain', onClientDrain)
    }
    return false
  }

  onComplete (trailers: string[] | null): void {
    this.finish(trailers)
  }

  finish (trailers: ReadonlyArray<Buffer | string> | null): void {
    const state = this.state
    if (state.responseComplete) return
    state.responseComplete = true
    releaseMember(state)
    if (state.res.destroyed) return
    if (this.trailersFollow && trailers !== null) endWithTrailers(state, latin1(trailers))
    else state.res.end()
  }

  // undici guards the other callbacks itself (a throw there aborts the request and lands here); this
  // one it calls bare, from wherever the abort came from, so it contains its own faults.
  onError (err: Error): void {
    try {
      this.failed(translate(err as UpstreamError))
    } catch (fault) {
      containFault(this.state.ex, this.state.res, undefined, fault)
    }
  }

  failed (err: UpstreamError): void {
    unwatchQueued(this)
    if (this.expired) return
    const state = this.state
    if (state.responded && !state.responseComplete) {
      responseTruncated(state)
      return
    }
    upstreamFailed(state, err)
  }
}

export const undiciEngine: ForwardEngine = { send: sendViaUndici, abort: abortUndiciAttempt, stopBody: abortUndiciAttempt }

function sendViaUndici (state: ForwardState): void {
  const { route, member, ex, req } = state
  const port = beginAttempt(state)
  const pool = route.pool!
  const tls = route.upstreamTls
  const attempt = new UndiciAttempt(state)
  ;(state.res as Tagged)[kUndici] = attempt
  try {
    pool.dispatcher(route.timeouts.connectMs).dispatch({
      origin: route.bridgePort !== 0 ? member.origin(tls, port) : tls ? member.httpsOrigin : member.httpOrigin,
      path: ex.target,
      method: req.method as Dispatcher.HttpMethod,
      headers: state.hasBody && state.headers.includes('Transfer-Encoding') ? withoutTransferEncoding(state.headers) : state.headers,
      body: state.hasBody ? state.body : null,
      // The pool's name, as the Node agents send it; undici would otherwise derive SNI from Host.
      servername: tls ? pool.servername : undefined,
      headersTimeout: route.timeouts.responseMs,
      bodyTimeout: route.timeouts.responseMs,
    } as Dispatcher.DispatchOptions, attempt)
    // Until onConnect, the request waits: for a free connection of the member's maxSockets, or for a
    // new one to open (undici calls onConnect a tick later even when one is free).
    if (attempt.abortRequest === undefined) watchQueued(attempt)
  } catch (err) {
    // A request undici refuses to write (a field it will not emit): nothing was sent.
    upstreamFailed(state, Object.assign(err as Error, { code: 'HPE_INVALID_HEADER_TOKEN' }))
  }
}

// The client went away mid-exchange, or the proxy answered 413 mid-body: the upstream request goes.
// undici reads the request body itself, so stopping the body is stopping the request.
function abortUndiciAttempt (state: ForwardState): void {
  ;(state.res as Tagged)[kUndici]?.abortRequest?.()
}

function onClientDrain (this: ServerResponse): void {
  const attempt = (this as Tagged)[kUndici]
  attempt?.resume?.()
}

function queueTimeout (): UpstreamError {
  const err = new Error('no upstream connection became free') as UpstreamError
  err.code = 'LRP_QUEUE_TIMEOUT'
  err[kTimeoutKind] = 'queue'
  return err
}

// Field bytes as Node's own parser would give them: one char per byte.
function latin1 (raw: ReadonlyArray<Buffer | string>): string[] {
  const out = new Array<string>(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!
    out[i] = typeof v === 'string' ? v : v.toString('latin1')
  }
  return out
}

function hasContentLength (headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') return true
  }
  return false
}

// undici frames a streamed body itself (chunked when no Content-Length) and refuses the field.
function withoutTransferEncoding (headers: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'Transfer-Encoding') out.push(headers[i]!, headers[i + 1]!)
  }
  return out
}

// undici's errors, in the vocabulary upstream-failure.ts classifies (Node's error codes and timeout kinds).
function translate (err: UpstreamError): UpstreamError {
  // llhttp's own parse errors (a status line that is not HTTP, a bad status code) carry no code.
  if (err.name === 'HTTPParserError' && err.code === undefined) {
    err.code = err.message.includes('Data after `Connection: close`') ? 'HPE_CLOSED_CONNECTION' : 'HPE_INVALID_RESPONSE'
  }
  switch (err.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      err[kTimeoutKind] = 'connect'
      break
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      err[kTimeoutKind] = 'response'
      break
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      // Before any head was relayed: undici found conflicting or duplicate Content-Length fields.
      err.code = 'HPE_UNEXPECTED_CONTENT_LENGTH'
      break
    case 'UND_ERR_SOCKET':
      err.code = err.message === 'bad upgrade' ? 'ERR_UNSOLICITED_UPGRADE' : ((err.cause as NodeJS.ErrnoException | undefined)?.code ?? 'ECONNRESET')
      break
  }
  return err
}
