// The recent exchanges as a HAR 1.2 log (W3C Web Performance WG draft "HTTP Archive (HAR) format",
// version 1.2), so a client developer can attach a run to a bug report and a teacher can keep a
// lesson: browsers' developer tools and HAR viewers open it. Built only when asked for (GET
// /api/flows.har), from the records the flow feed keeps; secrets are masked as on the feed.
//
// What the proxy knows goes where HAR has a field; what HAR has no field for goes in custom fields,
// which the format allows when their names start with an underscore: the listener, the rule, the
// pool and member that answered, the upstream address, the error code, the client's address and the
// port it reached, why the proxy answered itself and where the exchange stopped, the headers as
// forwarded, the response as the server sent it, and what the proxy changed each way and why: all a
// replay of the lesson on the teaching page needs, without a lab.
// The proxy keeps no bodies, so content carries sizes only, and timings has the whole exchange as
// `wait` (HAR requires send, wait and receive; -1 marks the phases it does not know).
import { STATUS_CODES } from 'node:http'
import { stopOf, type Exchange, type ExchangeStop } from '../observe/exchange.js'
import { headerPairs, relayedByOf, requestChangesOf, responseChangesOf, type HeaderChange } from './flow-record.js'

interface HarHeader { name: string, value: string }

export interface HarLog {
  log: {
    version: '1.2'
    creator: { name: string, version: string }
    entries: HarEntry[]
  }
}

export interface HarEntry {
  startedDateTime: string
  time: number
  request: {
    method: string
    url: string
    httpVersion: string
    cookies: []
    headers: HarHeader[]
    queryString: HarHeader[]
    headersSize: -1
    bodySize: number
  }
  response: {
    status: number
    statusText: string
    httpVersion: string
    cookies: []
    headers: HarHeader[]
    content: { size: number, mimeType: string }
    redirectURL: string
    headersSize: -1
    bodySize: number
  }
  cache: Record<string, never>
  timings: { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait: number, receive: 0 }
  serverIPAddress?: string
  _listener: string
  _rule: string
  _pool: string
  _member: string
  _upstream: string
  _upstreamStatus: number
  _error: string
  _aborted: boolean
  _forwardedHeaders: HarHeader[]
  _id: string
  _client: string
  _listenerPort: number
  _relayedBy: string
  _reason: string
  _stop: ExchangeStop
  _upstreamResponseHeaders: HarHeader[]
  _requestChanges: HeaderChange[]
  _responseChanges: HeaderChange[]
}

// What the export knows of the listeners, by name: the scheme of the URL, the port the client reached.
export interface HarListeners {
  scheme (listener: string): 'http' | 'https'
  port (listener: string): number
  // The proxy's pseudonym in Via.
  via: string
}

export function harLog (exchanges: Iterable<Exchange>, creator: { name: string, version: string }, listeners: HarListeners): HarLog {
  const entries: HarEntry[] = []
  for (const ex of exchanges) entries.push(harEntry(ex, listeners.scheme(ex.listener), listeners.port(ex.listener), listeners.via))
  return { log: { version: '1.2', creator, entries } }
}

function harEntry (ex: Exchange, scheme: 'http' | 'https', port: number, via: string): HarEntry {
  const requestHeaders = pairs(ex.requestHeaders)
  const responseHeaders = pairs(ex.responseHeaders)
  const url = `${scheme}://${ex.host === '' ? 'unknown' : ex.host}${ex.target.startsWith('/') ? ex.target : '/' + ex.target}`
  const entry: HarEntry = {
    startedDateTime: new Date(ex.time).toISOString(),
    time: Math.round(ex.durationMs * 1000) / 1000,
    request: {
      method: ex.method,
      url,
      httpVersion: 'HTTP/1.1',
      // Cookies are credentials here (MS-WSMAN, web tickets): the Cookie field is masked, and no
      // cookie is listed apart from it.
      cookies: [],
      headers: requestHeaders,
      queryString: queryOf(ex.target),
      headersSize: -1,
      bodySize: contentLength(requestHeaders) ?? -1,
    },
    response: {
      status: ex.status,
      statusText: STATUS_CODES[ex.status] ?? '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: responseHeaders,
      content: { size: ex.bytesOut, mimeType: field(responseHeaders, 'content-type') ?? '' },
      redirectURL: field(responseHeaders, 'location') ?? '',
      headersSize: -1,
      bodySize: -1,
    },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait: Math.round(ex.durationMs * 1000) / 1000, receive: 0 },
    _listener: ex.listener,
    _rule: ex.rule,
    _pool: ex.pool,
    _member: ex.member,
    _upstream: ex.upstream,
    _upstreamStatus: ex.upstreamStatus,
    _error: ex.error,
    _aborted: ex.aborted,
    _forwardedHeaders: pairs(ex.forwardedHeaders),
    _id: ex.id,
    _client: ex.client,
    _listenerPort: port,
    _relayedBy: relayedByOf(ex.requestHeaders, via),
    _reason: ex.reason,
    _stop: stopOf(ex),
    _upstreamResponseHeaders: pairs(ex.upstreamResponseHeaders),
    _requestChanges: requestChangesOf(ex),
    _responseChanges: responseChangesOf(ex),
  }
  if (ex.upstream !== '') entry.serverIPAddress = ex.upstream.slice(0, ex.upstream.lastIndexOf(':'))
  return entry
}

function pairs (raw: readonly string[] | undefined): HarHeader[] {
  return headerPairs(raw).map(([name, value]) => ({ name, value }))
}

function field (headers: readonly HarHeader[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value
}

function contentLength (headers: readonly HarHeader[]): number | undefined {
  const value = field(headers, 'content-length')
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value)
}

function queryOf (target: string): HarHeader[] {
  const q = target.indexOf('?')
  if (q < 0) return []
  const out: HarHeader[] = []
  for (const [name, value] of new URLSearchParams(target.slice(q + 1))) out.push({ name, value })
  return out
}
