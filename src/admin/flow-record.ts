// An exchange as the live flow feed shows it: plain JSON, built only when a feed client is there to
// read it (never on the request path). Headers are paired as [name, value] in wire order; the values
// of credentials are masked, because the feed is for watching traffic, not for collecting NTLM
// messages, web tickets or session cookies.
import { requestChanges, responseChanges, type FieldChange } from '../forward/header-changes.js'
import { stopOf, type Exchange, type ExchangeStop } from '../observe/exchange.js'

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
  // The pool member that answered (fe01, dir02, owas01); '' when the proxy answered itself.
  member: string
  // The port the client reached (the listener's bound port).
  listenerPort: number
  // Why the proxy answered itself (a refusal's or a redirect's reason); '' when a server answered.
  reason: string
  // The listener of this same proxy that sent this request on to here (the lab's Director HLB VIP is
  // lyncproxy too, so one client request crosses it twice); '' for a request from a client.
  relayedBy: string
  // Where the exchange stopped: at the listener (no rule took it), at the rule (deny, a refusal of
  // the rule's own), or at the pool (a server answered, or the forward to it failed).
  stop: ExchangeStop
  requestHeaders: Array<[string, string]>
  forwardedHeaders: Array<[string, string]>
  // The response as received from the server ([] when the proxy answered) and as sent to the client.
  upstreamResponseHeaders: Array<[string, string]>
  responseHeaders: Array<[string, string]>
  // What the proxy changed on each way, with the header policy's reason (the same as explain's).
  requestChanges: HeaderChange[]
  responseChanges: HeaderChange[]
}

// One field the proxy added, removed or replaced on its way through (the unchanged ones are left
// out); `value` is the new value, or the one dropped, and `from` the value replaced.
export type HeaderChange = FieldChange & { change: 'added' | 'removed' | 'replaced' }

// The page masks a replayed HAR of another tool's with the same list (src/admin/static/, checked
// against this one by test/flow-groups.test.ts).
export const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-ms-webticket'])

const hidden = (secret: string): string => `[${secret.length} characters hidden]`

// A cookie's value hidden, its name kept: MS-WSMAN (the pool's affinity cookie) is half of a lesson.
function maskCookie (pair: string): string {
  const eq = pair.indexOf('=')
  return eq < 0 ? hidden(pair) : `${pair.slice(0, eq + 1)}${hidden(pair.slice(eq + 1))}`
}

// Keeps what a lesson needs and no credential: the scheme of an Authorization ("NTLM", "Bearer"),
// because which handshake step a request is matters when teaching NTLM over a reverse proxy; the
// names of cookies, and a Set-Cookie's attributes (Path, Secure).
export function maskHeaderValue (name: string, value: string): string {
  const lower = name.toLowerCase()
  if (!SECRET_HEADERS.has(lower)) return value
  if (lower === 'cookie') return value.split(';').map((pair) => { const lead = pair.length - pair.trimStart().length; return pair.slice(0, lead) + maskCookie(pair.trimStart()) }).join(';')
  if (lower === 'set-cookie') {
    const semi = value.indexOf(';')
    return semi < 0 ? maskCookie(value) : maskCookie(value.slice(0, semi)) + value.slice(semi)
  }
  const space = value.indexOf(' ')
  const scheme = lower.endsWith('authorization') && space > 0 ? value.slice(0, space) + ' ' : ''
  return scheme + hidden(value.slice(scheme.length))
}

export function headerPairs (raw: readonly string[] | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (raw === undefined) return out
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, maskHeaderValue(raw[i]!, raw[i + 1]!)])
  return out
}

const changed = (c: FieldChange): c is HeaderChange => c.change !== 'kept'

export function requestChangesOf (ex: Exchange): HeaderChange[] {
  return ex.requestHeaders === undefined || ex.forwardedHeaders === undefined ? [] : requestChanges(ex.requestHeaders, ex.forwardedHeaders, maskHeaderValue).filter(changed)
}

export function responseChangesOf (ex: Exchange): HeaderChange[] {
  return ex.upstreamResponseHeaders === undefined || ex.responseHeaders === undefined ? [] : responseChanges(ex.upstreamResponseHeaders, ex.responseHeaders, maskHeaderValue).filter(changed)
}

// What a record needs to know of the proxy that served it.
export interface RecordContext {
  // The port a listener is bound to, by its name (0 when it is not known).
  listenerPort (listener: string): number
  // The proxy's pseudonym in Via ('' when it has none to recognise).
  via: string
}

const NO_CONTEXT: RecordContext = { listenerPort: () => 0, via: '' }

// Via entries are "<protocol> <pseudonym>.<listener>" (request-headers.ts); the last one of this
// proxy's names the listener the request came through before.
export function relayedByOf (raw: readonly string[] | undefined, via: string): string {
  if (raw === undefined || via === '') return ''
  const mark = ` ${via}.`
  let found = ''
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'via') continue
    for (const entry of raw[i + 1]!.split(',')) {
      const at = (' ' + entry.trim()).indexOf(mark)
      if (at >= 0) found = (' ' + entry.trim()).slice(at + mark.length).split(/\s/)[0]!
    }
  }
  return found
}

export function flowRecord (ex: Exchange, context: RecordContext = NO_CONTEXT): FlowRecord {
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
    member: ex.member,
    listenerPort: context.listenerPort(ex.listener),
    relayedBy: relayedByOf(ex.requestHeaders, context.via),
    reason: ex.reason,
    stop: stopOf(ex),
    requestHeaders: headerPairs(ex.requestHeaders),
    forwardedHeaders: headerPairs(ex.forwardedHeaders),
    upstreamResponseHeaders: headerPairs(ex.upstreamResponseHeaders),
    responseHeaders: headerPairs(ex.responseHeaders),
    requestChanges: requestChangesOf(ex),
    responseChanges: responseChangesOf(ex),
  }
}
