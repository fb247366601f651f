// An exchange as the live flow feed shows it: plain JSON, built only when a feed client is there to
// read it (never on the request path). Headers are paired as [name, value] in wire order; the values
// of credentials are masked, because the feed is for watching traffic, not for collecting NTLM
// messages, web tickets or session cookies.
import type { Exchange } from './exchange.js'

export interface FlowRecord {
  id: string
  time: number
  listener: string
  client: string
  method: string
  host: string
  publicName: string
  path: string
  rule: string
  pool: string
  upstream: string
  status: number
  upstreamStatus: number
  bytesIn: number
  bytesOut: number
  durationMs: number
  error: string
  aborted: boolean
  requestHeaders: Array<[string, string]>
  forwardedHeaders: Array<[string, string]>
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-ms-webticket'])

// Keeps the scheme ("NTLM", "Bearer") visible: which handshake step a request is matters when
// teaching NTLM over a reverse proxy; the token itself does not.
export function maskHeaderValue (name: string, value: string): string {
  if (!SECRET_HEADERS.has(name.toLowerCase())) return value
  const space = value.indexOf(' ')
  const scheme = name.toLowerCase().endsWith('authorization') && space > 0 ? value.slice(0, space) + ' ' : ''
  return `${scheme}[${value.length - scheme.length} characters hidden]`
}

export function headerPairs (raw: readonly string[] | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (raw === undefined) return out
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, maskHeaderValue(raw[i]!, raw[i + 1]!)])
  return out
}

export function flowRecord (ex: Exchange): FlowRecord {
  return {
    id: ex.id,
    time: ex.time,
    listener: ex.listener,
    client: ex.client,
    method: ex.method,
    host: ex.host,
    publicName: ex.publicName,
    path: ex.target,
    rule: ex.rule,
    pool: ex.pool,
    upstream: ex.upstream,
    status: ex.status,
    upstreamStatus: ex.upstreamStatus,
    bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut,
    durationMs: Math.round(ex.durationMs * 1000) / 1000,
    error: ex.error,
    aborted: ex.aborted,
    requestHeaders: headerPairs(ex.requestHeaders),
    forwardedHeaders: headerPairs(ex.forwardedHeaders),
  }
}
