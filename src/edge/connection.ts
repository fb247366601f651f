// What the edge keeps per client connection: where the last exchange's byte counts ended, how many
// exchanges are still open on it, and a refusal that has to wait for them.
//
// Node answers pipelined requests in order, each once the previous one has finished. When the parser
// refuses bytes that follow requests it did accept, those requests were already forwarded: an upstream
// may have executed a POST. Their answers go out first, then the refusal, then the connection closes,
// so a client never believes that a request failed which in fact ran (nginx does the same).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Failure } from '../respond/failure.js'
import { writeRawFailure } from '../respond/local-response.js'

const kConnection = Symbol('lyncproxy.connection')

interface TaggedSocket extends Socket { [kConnection]?: ClientConnection }

export class ClientConnection {
  readonly socket: Socket
  // The socket's running totals when the previous exchange ended.
  bytesRead = 0
  bytesWritten = 0
  // Exchanges started and not yet closed: more than one while pipelined requests wait their turn.
  open = 0
  // The most recent request and its response: the only one whose body can still be arriving.
  lastRequest: IncomingMessage | undefined = undefined
  lastResponse: ServerResponse | undefined = undefined
  // What the parser refused after the open exchanges; written once the last of them has closed.
  pendingRefusal: Failure | undefined = undefined
  // Responses that opened behind another one (pipelining), until they close. Node never gives
  // those a socket once the connection is gone, so they would never close by themselves, and the
  // upstream requests behind them would stay open for ever.
  queued: ServerResponse[] | undefined = undefined

  constructor (socket: Socket) {
    this.socket = socket
  }
}

export function connectionOf (socket: Socket): ClientConnection {
  const tagged = socket as TaggedSocket
  let conn = tagged[kConnection]
  if (conn === undefined) {
    conn = new ClientConnection(socket)
    tagged[kConnection] = conn
  }
  return conn
}

export function existingConnection (socket: Socket): ClientConnection | undefined {
  return (socket as TaggedSocket)[kConnection]
}

export function exchangeOpened (conn: ClientConnection, req: IncomingMessage, res: ServerResponse): void {
  if (conn.open > 0) queueBehind(conn, res)
  conn.open++
  conn.lastRequest = req
  conn.lastResponse = res
}

// The bytes an exchange moved, from the connection's running totals (socket counters survive the
// socket's close).
export function takeByteCounts (conn: ClientConnection, counts: { bytesIn: number, bytesOut: number }): void {
  const socket = conn.socket
  counts.bytesIn = socket.bytesRead - conn.bytesRead
  counts.bytesOut = socket.bytesWritten - conn.bytesWritten
  conn.bytesRead = socket.bytesRead
  conn.bytesWritten = socket.bytesWritten
}

// If it was the last open exchange, a refusal that waited for it goes out.
export function exchangeClosed (conn: ClientConnection, res: ServerResponse): void {
  const queued = conn.queued
  if (queued !== undefined) {
    const at = queued.indexOf(res)
    if (at >= 0) queued.splice(at, 1)
  }
  conn.open--
  if (conn.open > 0) return
  // A request answered before its body was in (a 404, say) still owns the error its body may cause:
  // the request timeout, or a malformed chunk. Kept, it is not answered a second time.
  if (conn.lastRequest?.complete === false) return
  conn.lastRequest = undefined
  conn.lastResponse = undefined
  const refusal = conn.pendingRefusal
  if (refusal !== undefined) {
    conn.pendingRefusal = undefined
    writeRawFailure(conn.socket, refusal, undefined)
  }
}

// The parser refused bytes after requests that are still being answered: hold the refusal until they
// are. True when it was held. The socket keeps reading, so that a client that leaves is seen; the
// failed parser takes nothing more from it, and each later error finds the refusal already held.
export function holdRefusal (conn: ClientConnection, failure: Failure): boolean {
  if (conn.open === 0) return false
  if (conn.pendingRefusal === undefined) conn.pendingRefusal = failure
  return true
}

function queueBehind (conn: ClientConnection, res: ServerResponse): void {
  if (conn.queued === undefined) {
    conn.queued = []
    conn.socket.once('close', () => setImmediate(closeQueued, conn))
  }
  conn.queued.push(res)
}

// After the connection's close has reached the responses that had it (Node closes those itself),
// the ones still waiting for it close too: their exchanges end as the client's departure.
function closeQueued (conn: ClientConnection): void {
  const queued = conn.queued
  if (queued === undefined) return
  for (const res of [...queued]) {
    res.destroy()
    res.emit('close')
  }
}
