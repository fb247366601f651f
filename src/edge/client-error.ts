// Requests Node's parser refused never become requests; they still get a precise status, and the
// process never sees the error as uncaught.
import type { Socket } from 'node:net'
import type { Failure } from '../forward/failure.js'
import { writeRawFailure } from '../forward/local-response.js'

const HEADERS_TOO_LARGE: Failure = { status: 431, code: 'headers_too_large', reason: 'the request header section is larger than this proxy accepts' }
const REQUEST_TIMEOUT: Failure = { status: 408, code: 'request_timeout', reason: 'the request was not received in time' }
const MALFORMED: Failure = { status: 400, code: 'malformed_request', reason: 'the request is not valid HTTP/1.1' }

// The response in flight on the connection, if any (Node keeps it there; there is no public API).
interface ServingSocket extends Socket { _httpMessage?: { headersSent?: boolean } | null }

export function onClientError (err: NodeJS.ErrnoException, socket: Socket): void {
  const code = err.code ?? ''
  // The request timeout also fires while a response is streaming (the client is still sending a
  // slow body after the upstream answered early): a status line written now would land inside that
  // body. Once a response has started, only closing the connection is honest.
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || (socket as ServingSocket)._httpMessage?.headersSent === true) {
    socket.destroy()
    return
  }
  const failure = code === 'HPE_HEADER_OVERFLOW' ? HEADERS_TOO_LARGE : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? REQUEST_TIMEOUT : MALFORMED
  writeRawFailure(socket, failure, undefined)
}
