// Answers the proxy gives itself: errors, redirects, 404s. Short plain-text bodies that name the rule
// and the reason, never anything the client sent except the validated public name.
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { exchangeOf } from '../observe/exchange.js'
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
  recordAnswer(res, headers, failure.reason)
}

// What the proxy answered and why, on the exchange (the flow feed shows it, beside the server's
// answers); the same array as written, a reference, as a relayed response keeps its own.
function recordAnswer (res: ServerResponse, headers: readonly string[], reason: string): void {
  const ex = exchangeOf(res)
  if (ex === undefined) return
  ex.responseHeaders = headers
  ex.reason = reason
}

// OPTIONS * asks about the server as a whole: the methods a published rule may be asked for.
export function sendOptionsStar (res: ServerResponse): void {
  const headers = ['Allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS', 'Content-Length', '0']
  res.writeHead(OPTIONS_STAR.status, headers)
  res.end()
  recordAnswer(res, headers, OPTIONS_STAR.reason)
}

// What a redirect rule decides: the status and the port the Location names.
export interface RedirectRule extends AnsweringRule {
  readonly redirectPortSuffix: string
  readonly redirectStatus: number
}

export function sendRedirect (res: ServerResponse, route: RedirectRule, name: string, target: string): void {
  const location = 'https://' + name + route.redirectPortSuffix + target
  const body = `Moved to ${location}\n`
  const headers = [
    'Location', location,
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(Buffer.byteLength(body)),
  ]
  res.writeHead(route.redirectStatus, headers)
  res.end(body)
  recordAnswer(res, headers, `rule ${route.rule} redirects this name to HTTPS`)
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
export function refuseRawSocket (socket: Socket, ex: { error: string, status: number, reason: string, responseHeaders: readonly string[] | undefined }, failure: Failure, route: AnsweringRule | undefined, done: () => void): void {
  ex.error = failure.code
  ex.status = failure.status
  ex.reason = failure.reason
  ex.responseHeaders = writeRawFailure(socket, failure, route)
  socket.destroySoon()
  done()
}

// The fields written, for the exchange's record; [] when the socket could take nothing.
export function writeRawFailure (socket: Socket, failure: Failure, route: AnsweringRule | undefined): readonly string[] {
  if (!socket.writable) { socket.destroy(); return [] }
  const body = failureBody(failure, route)
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'X-Lyncproxy-Error', failure.code, 'Connection', 'close']
  let head = `HTTP/1.1 ${failure.status} ${reasonPhrase(failure.status) ?? 'Error'}\r\n`
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`
  socket.end(head + '\r\n' + body)
  return headers
}
