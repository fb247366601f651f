// The header policy's mechanics (the policy itself, and its reasons, is header-policy.ts), done in one
// pass over the raw headers so that names keep their case and repeated fields their order. The client
// cannot smuggle anything through: hop-by-hop fields and the fields that Connection names are dropped,
// forwarding fields are replaced (this proxy is the first hop and trusts no client), and the body
// framing is re-emitted by the proxy itself.
import { PLAIN_CONNECTION_TOKENS, REQUEST_FIELDS, RESPONSE_DROPPED, TRAILERS_DROPPED, type RequestTreatment } from './header-policy.js'

const enum Kind { Keep, Drop, Via, Authorization, ContentLength, Host, TransferEncoding, TE }

const KIND_OF: Record<RequestTreatment, Kind> = {
  drop: Kind.Drop, te: Kind.TE, 'transfer-encoding': Kind.TransferEncoding, via: Kind.Via,
  authorization: Kind.Authorization, 'content-length': Kind.ContentLength, host: Kind.Host,
}

const KINDS = new Map<string, Kind>([...REQUEST_FIELDS].map(([name, policy]) => [name, KIND_OF[policy.treatment]]))

export interface ForwardContext {
  client: string
  proto: 'http' | 'https'
  // The Host the client sent: forwarded unchanged (Lync routes meet/dialin by it), and named in
  // X-Forwarded-Host and Forwarded.
  host: string
  // Set only by a rule with preserveHost: false (the pool's fqdn), to reproduce a proxy that
  // rewrites Host.
  upstreamHost?: string
  // defaults.underscoreHeaders when it is not `refuse`.
  underscore?: 'drop' | 'forward'
  // The X-Forwarded-For and Forwarded a trusted proxy in front sent (defaults.trustedProxies): this
  // hop is appended to them instead of replacing them (RFC 7239 §4: each proxy appends its element).
  forwardedFor?: string
  forwarded?: string
  via: string
  // Present for a websocket upgrade: these fields survive the hop-by-hop rule.
  upgrade?: string
  // The client sent Expect: 100-continue; the upstream decides, and its 100 is relayed.
  expectContinue?: boolean
}

export interface UpstreamHeaders {
  headers: string[]
  // The request has a body to stream (a non-zero Content-Length, or chunked).
  hasBody: boolean
  // The declared length, or -1 when the body is chunked or absent.
  contentLength: number
  // The client accepts trailers (TE: trailers); only then are the upstream's trailers relayed.
  trailers: boolean
  // The client authenticates with NTLM/Negotiate: its connection must be pinned to one upstream connection.
  connectionAuth: boolean
  // A Via of ours is already present: a forwarding loop.
  loop: boolean
}

export const REJECT_UNDERSCORE = 1
// A transfer coding other than plain chunked (`gzip, chunked`): see header-policy.ts.
export const REJECT_TRANSFER_CODING = 2
export type HeaderRejection = typeof REJECT_UNDERSCORE | typeof REJECT_TRANSFER_CODING

export function buildUpstreamHeaders (raw: string[], ctx: ForwardContext): UpstreamHeaders | HeaderRejection {
  const named = connectionNamedFields(raw)
  const out: string[] = []
  let chunked = false
  let trailers = false
  let length = ''
  let via = ''
  let connectionAuth = false
  let hostWritten = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (lower.includes('_')) {
      if (ctx.underscore === undefined) return REJECT_UNDERSCORE
      if (ctx.underscore === 'drop') continue
    }
    const kind = KINDS.get(lower) ?? Kind.Keep
    switch (kind) {
      case Kind.Drop:
        continue
      case Kind.Via:
        via = via === '' ? raw[i + 1]! : via + ', ' + raw[i + 1]!
        continue
      case Kind.ContentLength:
        length = canonicalLength(raw[i + 1]!)
        out.push(name, length)
        continue
      case Kind.TE:
        if (raw[i + 1]!.toLowerCase().includes('trailers')) trailers = true
        continue
      case Kind.TransferEncoding:
        // Node's parser accepted it only with chunked last; the body is re-framed as plain chunked.
        if (raw[i + 1]!.trim().toLowerCase() !== 'chunked') return REJECT_TRANSFER_CODING
        chunked = true
        continue
      case Kind.Host:
        if (!hostWritten) out.push(name, ctx.upstreamHost ?? ctx.host)
        hostWritten = true
        continue
      case Kind.Authorization:
        if (isConnectionAuth(raw[i + 1]!)) connectionAuth = true
        break
      case Kind.Keep:
        break
    }
    if (named !== undefined && named.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  if (!hostWritten) out.push('Host', ctx.host)
  const loop = via !== '' && hasViaToken(via, ctx.via)
  if (ctx.upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', ctx.upgrade)
  if (chunked) out.push('Transfer-Encoding', 'chunked')
  if (ctx.expectContinue === true) out.push('Expect', '100-continue')
  out.push(
    'X-Forwarded-For', ctx.forwardedFor === undefined ? ctx.client : ctx.forwardedFor + ', ' + ctx.client,
    'X-Forwarded-Proto', ctx.proto,
    'X-Forwarded-Host', ctx.host,
    'Forwarded', forwardedValue(ctx),
    'Via', via === '' ? '1.1 ' + ctx.via : via + ', 1.1 ' + ctx.via,
  )
  const contentLength = chunked || length === '' ? -1 : Number(length)
  return { headers: out, hasBody: chunked || (length !== '' && length !== '0'), contentLength, trailers, connectionAuth, loop }
}

// Whether one of the Via entries was received by `token` (a whole word, not a prefix of another).
function hasViaToken (via: string, token: string): boolean {
  let at = via.indexOf(token)
  while (at >= 0) {
    const before = at === 0 ? 32 : via.charCodeAt(at - 1)
    const after = at + token.length === via.length ? 32 : via.charCodeAt(at + token.length)
    if ((before === 32 || before === 44) && (after === 32 || after === 44 || after === 40)) return true
    at = via.indexOf(token, at + 1)
  }
  return false
}

function connectionNamedFields (raw: string[]): Set<string> | undefined {
  let named: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue
    for (const part of raw[i + 1]!.split(',')) {
      const token = part.trim().toLowerCase()
      if (token === '' || PLAIN_CONNECTION_TOKENS.has(token)) continue
      named ??= new Set()
      named.add(token)
    }
  }
  return named
}

// Node has validated the value as digits; leading zeros are dropped because some backends read a
// leading 0 as octal.
function canonicalLength (value: string): string {
  if (value.length === 1 || value.charCodeAt(0) !== 48) return value
  let i = 0
  while (i < value.length - 1 && value.charCodeAt(i) === 48) i++
  return value.slice(i)
}

function isConnectionAuth (value: string): boolean {
  if ((value.charCodeAt(0) | 0x20) !== 110 /* n */) return false
  const head = value.slice(0, 10).toLowerCase()
  return head.startsWith('ntlm ') || head === 'negotiate '
}

const TOKEN_HOST = /^[A-Za-z0-9.-]+$/

function forwardedValue (ctx: ForwardContext): string {
  const forClient = ctx.client.includes(':') ? `"[${ctx.client}]"` : ctx.client
  const host = TOKEN_HOST.test(ctx.host) ? ctx.host : `"${ctx.host.replace(/["\\]/g, '')}"`
  const own = `for=${forClient};proto=${ctx.proto};host=${host}`
  return ctx.forwarded === undefined ? own : `${ctx.forwarded}, ${own}`
}

const RESPONSE_DROP: ReadonlySet<string> = new Set(RESPONSE_DROPPED.fields)
const TRAILER_DROP: ReadonlySet<string> = new Set(TRAILERS_DROPPED.fields)

// [name, value] pairs, the shape res.addTrailers takes as an array: given a flat list it would read
// each string as a pair of characters.
export function filterTrailers (raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i < raw.length; i += 2) {
    if (!TRAILER_DROP.has(raw[i]!.toLowerCase())) out.push([raw[i]!, raw[i + 1]!])
  }
  return out
}

export function filterResponseHeaders (raw: string[]): string[] {
  const named = connectionNamedFields(raw)
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase()
    if (RESPONSE_DROP.has(lower)) continue
    if (named !== undefined && named.has(lower)) continue
    out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}
