// The request guard and the routing decision, shared by plain requests and upgrades: version, Host,
// target, then public name → rule. What it accepts is recorded on the exchange; what it refuses is a
// named Failure (respond/failure.ts).
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { EdgeFailures, OPTIONS_STAR, type Failure } from '../respond/failure.js'
import type { Exchange } from '../observe/exchange.js'
import { lookupHost, matchPath } from '../routing/match.js'
import type { Route } from '../routing/table.js'
import type { ListenerState } from './listener-state.js'
import { normalizeTarget } from './target.js'

export function isFailure (x: Route | Failure): x is Failure {
  return (x as Failure).status !== undefined
}

// On success returns the route, with ex.host (the published name) and ex.target (the normalized
// target to forward) filled in.
export function resolveRoute (state: ListenerState, req: IncomingMessage, ex: Exchange): Route | Failure {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) return EdgeFailures.badVersion
  const raw = req.rawHeaders
  if (raw.length > state.limits.maxHeaderCount * 2) return EdgeFailures.tooManyHeaders
  let url = req.url ?? ''
  if (url.length > state.limits.maxTargetLength) return EdgeFailures.uriTooLong
  const method = req.method
  if (method === 'CONNECT') return EdgeFailures.connectRefused
  let host: string | undefined
  if (url.charCodeAt(0) !== 47) {
    if (url === '*') return method === 'OPTIONS' ? OPTIONS_STAR : EdgeFailures.badTarget
    // Absolute form: the target's own authority is the host, whatever the Host field says.
    const authorityStart = absoluteAuthorityStart(url)
    if (authorityStart < 0) return EdgeFailures.badTarget
    let end = authorityStart
    while (end < url.length && url.charCodeAt(end) !== 47 && url.charCodeAt(end) !== 63) end++
    host = url.slice(authorityStart, end)
    if (host === '' || host.includes('@')) return EdgeFailures.badHost
    url = end === url.length ? '/' : (url.charCodeAt(end) === 63 ? '/' + url.slice(end) : url.slice(end))
  } else {
    host = singleHost(raw)
    if (host === undefined) return EdgeFailures.badHost
  }
  ex.host = host
  const target = normalizeTarget(url)
  if (target === null) {
    ex.target = url
    return EdgeFailures.badTarget
  }
  ex.target = target
  const listener = state.tables.current.listeners.get(state.name)
  const entry = listener === undefined ? undefined : lookupHost(listener, host)
  if (entry === undefined) return EdgeFailures.notPublished
  ex.publicName = entry.name
  if (state.coverage !== undefined) {
    const sni = (req.socket as TLSSocket).servername
    if (typeof sni === 'string' && sni !== entry.name && !state.coverage.covers(sni, entry.name)) return EdgeFailures.misdirected
  }
  const route = matchPath(entry.routes, target)
  if (route === undefined) return EdgeFailures.pathNotPublished
  ex.rule = route.rule
  return route
}

function absoluteAuthorityStart (url: string): number {
  const lower = url.slice(0, 8).toLowerCase()
  if (lower.startsWith('http://')) return 7
  if (lower === 'https://') return 8
  return -1
}

// Exactly one Host field (RFC 9112 §3.2); Node keeps only the first of several, so count them here.
function singleHost (raw: string[]): string | undefined {
  let host: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue
    if (host !== undefined) return undefined
    host = raw[i + 1]!
  }
  if (host === undefined || host === '' || host.includes(',') || host.includes(' ')) return undefined
  return host
}
