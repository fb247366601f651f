// Answers the proxy gives itself: errors, redirects, 404s. Short plain-text bodies that name the rule
// and the reason, never anything the client sent except the validated public name.
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { CLIENT_CLOSED_REQUEST, failureBody, OPTIONS_STAR, type AnsweringRule, type Failure } from './failure.js'

// A 503 (no healthy member, every connection busy) says when to come back: clients and HLBs that
// honour it spread their retries instead of returning at once.
const RETRY_AFTER_SECONDS = '10'

export function sendFailure (res: ServerResponse, failure: Failure, route: AnsweringRule | undefined, extra?: string[]): void {
  const body = failureBody(failure, route)
  const headers = [
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(Buffer.byteLength(body)),
    'Cache-Control', 'no-store',
    'X-Lyncproxy-Error', failure.code,
  ]
  if (extra !== undefined) headers.push(...extra)
  if (failure.status === 503) headers.push('Retry-After', RETRY_AFTER_SECONDS)
  // After a refusal the rest of the request (an unread body, a confused parser) cannot be trusted.
  if (failure.status >= 500 || failure.status === 400 || failure.status === 408 || failure.status === 421 || failure.status === 413) headers.push('Connection', 'close')
  res.writeHead(failure.status, headers)
  res.end(body)
}

// OPTIONS * asks about the server as a whole: the methods a published rule may be asked for.
export function sendOptionsStar (res: ServerResponse): void {
  res.writeHead(OPTIONS_STAR.status, ['Allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS', 'Content-Length', '0'])
  res.end()
}

// What a redirect rule decides: the status and the port the Location names.
export interface RedirectRule extends AnsweringRule {
  readonly redirectPortSuffix: string
  readonly redirectStatus: number
}

export function sendRedirect (res: ServerResponse, route: RedirectRule, name: string, target: string): void {
  const location = 'https://' + name + route.redirectPortSuffix + target
  const body = `Moved to ${location}\n`
  res.writeHead(route.redirectStatus, [
    'Location', location,
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(Buffer.byteLength(body)),
  ])
  res.end(body)
}

// The reason phrase of a status line the proxy writes itself. Node's table has every status the
// vocabulary sends; 499 is nginx's and only ever logged.
const STATUS_TEXT: Readonly<Record<number, string | undefined>> = { ...STATUS_CODES, [CLIENT_CLOSED_REQUEST]: 'Client Closed Request' }

export function reasonPhrase (status: number): string | undefined {
  return STATUS_TEXT[status]
}

// For sockets that left the HTTP server (upgrades) or never became a request (parse errors).
// A socket that left the HTTP server (an upgrade, a CONNECT) refused with `failure`: the record
// takes its code and status, and a client that keeps its side open does not hold the socket once
// the refusal is out. `done` records the exchange.
export function refuseRawSocket (socket: Socket, ex: { error: string, status: number }, failure: Failure, route: AnsweringRule | undefined, done: () => void): void {
  ex.error = failure.code
  ex.status = failure.status
  writeRawFailure(socket, failure, route)
  socket.destroySoon()
  done()
}

export function writeRawFailure (socket: Socket, failure: Failure, route: AnsweringRule | undefined): void {
  if (!socket.writable) { socket.destroy(); return }
  const body = failureBody(failure, route)
  socket.end(
    `HTTP/1.1 ${failure.status} ${reasonPhrase(failure.status) ?? 'Error'}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Lyncproxy-Error: ${failure.code}\r\n` +
    'Connection: close\r\n\r\n' + body,
  )
}
