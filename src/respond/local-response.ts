// Answers the proxy gives itself: errors, redirects, 404s. Short plain-text bodies that name the rule
// and the reason, never anything the client sent except the validated public name.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Route } from '../routing/table.js'
import { failureBody, type Failure } from './failure.js'

// A 503 (no healthy member, every connection busy) says when to come back: clients and HLBs that
// honour it spread their retries instead of returning at once.
const RETRY_AFTER_SECONDS = '10'

export function sendFailure (res: ServerResponse, failure: Failure, route: Route | undefined, extra?: string[]): void {
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

export function sendRedirect (res: ServerResponse, route: Route, name: string, target: string): void {
  const location = 'https://' + name + route.redirectPortSuffix + target
  const body = `Moved to ${location}\n`
  res.writeHead(route.redirectStatus, [
    'Location', location,
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(Buffer.byteLength(body)),
  ])
  res.end(body)
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  421: 'Misdirected Request', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported', 508: 'Loop Detected',
}

// For sockets that left the HTTP server (upgrades) or never became a request (parse errors).
export function writeRawFailure (socket: Socket, failure: Failure, route: Route | undefined): void {
  if (!socket.writable) { socket.destroy(); return }
  const body = failureBody(failure, route)
  socket.end(
    `HTTP/1.1 ${failure.status} ${STATUS_TEXT[failure.status] ?? 'Error'}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Lyncproxy-Error: ${failure.code}\r\n` +
    'Connection: close\r\n\r\n' + body,
  )
}
