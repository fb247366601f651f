// The request entry point of every listener: guard and route (resolve.ts), then the rule's action.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { forwardRequest, responseClosed } from '../forward/forward.js'
import { forwardUpgrade } from '../forward/upgrade.js'
import { attachExchange, Exchange, exchangeOf } from '../observe/exchange.js'
import { CLIENT_CLOSED_REQUEST, EdgeFailures, OPTIONS_STAR, type Failure } from '../respond/failure.js'
import { containFault } from '../respond/fault.js'
import { refuseRawSocket, sendFailure, sendOptionsStar, sendRedirect} from '../respond/local-response.js'
import type { Route } from '../routing/table.js'
import { connectionOf, exchangeClosed, exchangeOpened, takeByteCounts, type ClientConnection } from './connection.js'
import { kListenerState, type ListenerState } from './listener-state.js'
import { isRefusal, prepareForward } from './prepare-forward.js'
import { injectFault, injectUpgradeFault } from './injected-fault.js'
import { isFailure, resolveRoute } from './resolve.js'

const kConnection = Symbol('lyncproxy.exchangeConnection')

interface StatefulServer extends Server { [kListenerState]: ListenerState }
interface TaggedResponse extends ServerResponse { [kListenerState]?: ListenerState, [kConnection]?: ClientConnection }

export function clientAddress (socket: Socket): string {
  const a = socket.remoteAddress ?? ''
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

const kExpectContinue = Symbol('lyncproxy.expectContinue')
interface ExpectingRequest extends IncomingMessage { [kExpectContinue]?: boolean }

// `Expect: 100-continue`: Node would answer 100 at once. Instead the request is routed first and the
// expectation goes upstream, so a 100 reaches the client only from a server that will read the body,
// and a refused request (404, 413) never invites its body.
export function onCheckContinue (this: Server, req: IncomingMessage, res: ServerResponse): void {
  (req as ExpectingRequest)[kExpectContinue] = true
  onRequest.call(this, req, res)
}

export function onRequest (this: Server, req: IncomingMessage, res: ServerResponse): void {
  // The socket is read here: once the response has closed, Node has cleared both references to it.
  const conn = connectionOf(req.socket)
  // Node parses pipelined requests as they arrive, also behind one that ends the connection.
  if (connectionEnding(conn, req.socket)) return
  if (req.httpVersionMinor === 0 && res.shouldKeepAlive) honourCloseOnHttp10(req, res)
  const state = (this as StatefulServer)[kListenerState]
  const ex = new Exchange(state.name, clientAddress(req.socket), req.method ?? '')
  // A reference, for the flow feed and the HAR export: refused requests show what was sent too.
  ex.requestHeaders = req.rawHeaders
  const tagged = res as TaggedResponse
  attachExchange(res, ex)
  tagged[kListenerState] = state
  tagged[kConnection] = conn
  exchangeOpened(conn, req, res)
  res.on('close', onExchangeClose)
  try {
    serve(state, req, res, ex)
  } catch (err) {
    containFault(ex, res, undefined, err)
  }
}

// A response that will close the connection (its own Connection: close, or the close its request
// asked for) is already due on this connection: the requests behind it are neither forwarded nor
// answered (RFC 9112 §9.6), and go with the connection. Node's own answers, such as its 400 for a
// missing Host, never pass through onRequest, so the one Node holds on the socket is looked at too.
// `_last` is how Node marks a response after which it closes; it has no public name.
interface ClosingResponse { shouldKeepAlive: boolean, _last?: boolean }
interface ServingSocket extends Socket { _httpMessage?: ClosingResponse | null }

function connectionEnding (conn: ClientConnection, socket: Socket): boolean {
  // Once the closing response has gone, Node ends the socket and destroys it when the end is
  // flushed; bytes that arrive in between are still parsed.
  if (!socket.writable) return true
  const last = conn.lastResponse as ClosingResponse | undefined
  if (last !== undefined && (!last.shouldKeepAlive || last._last === true)) return true
  return (socket as ServingSocket)._httpMessage?._last === true
}

// llhttp keeps an HTTP/1.0 connection alive when Connection names keep-alive, even beside close;
// close wins (RFC 9112 §9.6).
const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i

function honourCloseOnHttp10 (req: IncomingMessage, res: ServerResponse): void {
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection' && CLOSE_TOKEN.test(raw[i + 1]!)) {
      res.shouldKeepAlive = false
      return
    }
  }
}

function serve (state: ListenerState, req: IncomingMessage, res: ServerResponse, ex: Exchange): void {
  const route = resolveRoute(state, req, ex)
  if (isFailure(route)) {
    answerLocally(res, ex, route)
    return
  }
  if (route.action === 'deny') {
    answerLocally(res, ex, EdgeFailures.denied, route)
    return
  }
  if (route.action === 'redirect') {
    sendRedirect(res, route, ex.publicName, ex.target)
    return
  }
  const expectContinue = (req as ExpectingRequest)[kExpectContinue] === true
  const built = prepareForward(route, req.rawHeaders, { client: ex.client, proto: state.protocol, host: ex.host, via: state.via, expectContinue }, state.tables.current.forwarding)
  if (isRefusal(built)) {
    answerLocally(res, ex, built, route)
    return
  }
  ex.forwardedHeaders = built.headers
  if (route.fault !== undefined) {
    injectFault(ex, req, res, route, route.fault, () => { forwardRequest(ex, req, res, route, built, expectContinue) })
    return
  }
  forwardRequest(ex, req, res, route, built, expectContinue)
}

function answerLocally (res: ServerResponse, ex: Exchange, failure: Failure, route?: Route): void {
  if (failure === OPTIONS_STAR) {
    sendOptionsStar(res)
    return
  }
  ex.error = failure.code
  sendFailure(res, failure, route)
}

// The one owner of an exchange's end. The order is fixed: the client's departure is marked first, so
// that an upstream error it provokes cannot claim the exchange; then the forward path stops the
// upstream side and gives the member back; then the record is final and goes out, once.
function onExchangeClose (this: ServerResponse): void {
  const tagged = this as TaggedResponse
  const ex = exchangeOf(this)!
  const clientLeft = !this.writableFinished
  if (clientLeft) {
    ex.aborted = true
    if (ex.error === '') ex.error = 'client_aborted'
  }
  try {
    responseClosed(this)
  } catch (err) {
    containFault(ex, this, undefined, err)
  }
  // A status line that never went out is not the exchange's status: the client left first.
  ex.status = this.headersSent ? this.statusCode : CLIENT_CLOSED_REQUEST
  const conn = tagged[kConnection]!
  finish(ex, conn, tagged[kListenerState]!)
  exchangeClosed(conn, this)
}

function finish (ex: Exchange, conn: ClientConnection, state: ListenerState): void {
  ex.durationMs = performance.now() - ex.startedAt
  takeByteCounts(conn, ex)
  state.bus.publish(ex)
}

export function onUpgrade (this: Server, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const state = (this as StatefulServer)[kListenerState]
  const ex = new Exchange(state.name, clientAddress(socket), req.method ?? '')
  ex.requestHeaders = req.rawHeaders
  socket.on('error', swallow)
  // The tunnel can end from either side, and a fault can end it too: the record goes out once.
  let published = false
  const done = (): void => {
    if (published) return
    published = true
    finish(ex, connectionOf(socket), state)
  }
  try {
    upgrade(state, req, socket, head, ex, done)
  } catch (err) {
    containFault(ex, undefined, socket, err)
    done()
  }
}

function upgrade (state: ListenerState, req: IncomingMessage, socket: Socket, head: Buffer, ex: Exchange, done: () => void): void {
  const route = resolveRoute(state, req, ex)
  if (isFailure(route)) {
    refuseUpgrade(socket, ex, route, done)
    return
  }
  if (route.action !== 'forward' || req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    refuseUpgrade(socket, ex, EdgeFailures.upgradeRefused, done)
    return
  }
  const built = prepareForward(route, req.rawHeaders, { client: ex.client, proto: state.protocol, host: ex.host, via: state.via, upgrade: 'websocket' }, state.tables.current.forwarding)
  if (isRefusal(built)) {
    refuseUpgrade(socket, ex, built, done)
    return
  }
  ex.forwardedHeaders = built.headers
  state.tunnels.add(socket)
  socket.once('close', () => state.tunnels.delete(socket))
  const forward = (): void => { forwardUpgrade(ex, socket, head, route, built.headers, done) }
  if (route.fault !== undefined) injectUpgradeFault(ex, socket, route, route.fault, forward, done)
  else forward()
}

// CONNECT goes to 'connect', not 'request'; with no listener Node destroys the socket without a
// word. A reverse proxy tunnels nothing, so the client gets its 405, logged like any refusal.
export function onConnect (this: Server, req: IncomingMessage, socket: Socket): void {
  const state = (this as StatefulServer)[kListenerState]
  const ex = new Exchange(state.name, clientAddress(socket), req.method ?? '')
  socket.on('error', swallow)
  refuseUpgrade(socket, ex, EdgeFailures.connectRefused, () => finish(ex, connectionOf(socket), state))
}

function refuseUpgrade (socket: Socket, ex: Exchange, failure: Failure, done: () => void): void {
  refuseRawSocket(socket, ex, failure, undefined, done)
}

function swallow (): void {}
