// Requests Node's parser refused never become requests; they still get a precise status, and the
// process never sees the error as uncaught.
import type { Socket } from 'node:net'
import { interruptForward } from '../forward/forward.js'
import { ParseFailures } from '../respond/failure.js'
import { sendFailure, writeRawFailure } from '../respond/local-response.js'
import { existingConnection, holdRefusal } from './connection.js'

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
    ? ParseFailures.headersTooLarge
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ParseFailures.requestTimeout : code === 'HPE_INVALID_EOF_STATE' && arriving ? ParseFailures.bodyIncomplete : ParseFailures.malformed
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
