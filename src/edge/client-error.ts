// Requests Node's parser refused never become requests; they still get a precise status, and the
// process never sees the error as uncaught.
import type { Socket } from 'node:net'
import { interruptForward } from '../forward/forward.js'
import type { Failure } from '../respond/failure.js'
import { sendFailure, writeRawFailure } from '../respond/local-response.js'
import { existingConnection, holdRefusal } from './connection.js'

const HEADERS_TOO_LARGE: Failure = { status: 431, code: 'headers_too_large', reason: 'the request header section is larger than this proxy accepts' }
const REQUEST_TIMEOUT: Failure = { status: 408, code: 'request_timeout', reason: 'the request was not received in time' }
const MALFORMED: Failure = { status: 400, code: 'malformed_request', reason: 'the request is not valid HTTP/1.1' }
// The client closed its sending side before the body it declared was complete. The status is nginx's
// for the same case; the code keeps it apart from bad syntax.
const BODY_INCOMPLETE: Failure = { status: 400, code: 'body_incomplete', reason: 'the connection was closed before the request body was complete' }

export function onClientError (err: NodeJS.ErrnoException, socket: Socket): void {
  const code = err.code ?? ''
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
    socket.destroy()
    return
  }
  const conn = existingConnection(socket)
  const req = conn?.lastRequest
  const res = conn?.lastResponse
  const arriving = req !== undefined && !req.complete
  const failure = code === 'HPE_HEADER_OVERFLOW'
    ? HEADERS_TOO_LARGE
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? REQUEST_TIMEOUT : code === 'HPE_INVALID_EOF_STATE' && arriving ? BODY_INCOMPLETE : MALFORMED
  if (arriving && res !== undefined) {
    // The failure belongs to the request still arriving (its body broke off, or it took too long):
    // that request is answered, by its own response, and nothing of it goes further. Once its
    // response has started, a status line written now would land inside it: only closing is honest.
    if (res.headersSent) {
      socket.destroy()
      return
    }
    if (!interruptForward(res, failure)) sendFailure(res, failure, undefined)
    return
  }
  // Whole requests before the bytes that failed are answered first (see connection.ts).
  if (conn !== undefined && holdRefusal(conn, failure)) return
  writeRawFailure(socket, failure, undefined)
}
