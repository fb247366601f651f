// The header policy for the way in, done in one pass over the raw headers so that names keep their
// case and repeated fields their order. The client cannot smuggle anything through: hop-by-hop fields
// and the fields that Connection names are dropped, forwarding fields are replaced (this proxy is the
// first hop and trusts no client), and the body framing is re-emitted by the proxy itself.

const enum Kind { Keep, Drop, Via, Authorization, ContentLength, Host, TransferEncoding }

const KINDS = new Map<string, Kind>([
  ['connection', Kind.Drop], ['keep-alive', Kind.Drop], ['proxy-connection', Kind.Drop], ['te', Kind.Drop],
  ['trailer', Kind.Drop], ['transfer-encoding', Kind.TransferEncoding], ['upgrade', Kind.Drop],
  ['proxy-authorization', Kind.Drop], ['proxy-authenticate', Kind.Drop],
  ['x-forwarded-for', Kind.Drop], ['x-forwarded-proto', Kind.Drop], ['x-forwarded-host', Kind.Drop],
  ['x-forwarded-port', Kind.Drop], ['forwarded', Kind.Drop], ['x-real-ip', Kind.Drop],
  // Node has already answered "100 Continue" to the client, so the upstream must not be asked again.
  ['expect', Kind.Drop],
  ['via', Kind.Via], ['authorization', Kind.Authorization], ['content-length', Kind.ContentLength], ['host', Kind.Host],
])

// Connection tokens that name no header field; seeing only these needs no per-request set.
const PLAIN_CONNECTION_TOKENS = new Set(['keep-alive', 'close', 'upgrade'])

export interface ForwardContext {
  client: string
  proto: 'http' | 'https'
  // The Host value to forward: the client's own, unchanged (Lync routes meet/dialin by it).
  host: string
  via: string
  // Present for a websocket upgrade: these fields survive the hop-by-hop rule.
  upgrade?: string
}

export interface UpstreamHeaders {
  headers: string[]
  // The request has a body to stream (a non-zero Content-Length, or chunked).
  hasBody: boolean
  // The client authenticates with NTLM/Negotiate: its connection must be pinned to one upstream connection.
  connectionAuth: boolean
  // A Via of ours is already present: a forwarding loop.
  loop: boolean
}

export const REJECT_UNDERSCORE = 1

export function buildUpstreamHeaders (raw: string[], ctx: ForwardContext): UpstreamHeaders | typeof REJECT_UNDERSCORE {
  const named = connectionNamedFields(raw)
  const out: string[] = []
  let chunked = false
  let length = ''
  let via = ''
  let connectionAuth = false
  let hostWritten = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (lower.includes('_')) return REJECT_UNDERSCORE
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
      case Kind.TransferEncoding:
        // Node's parser accepted it only with chunked last; the body is re-framed as plain chunked.
        chunked = true
        continue
      case Kind.Host:
        if (!hostWritten) out.push(name, ctx.host)
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
  out.push(
    'X-Forwarded-For', ctx.client,
    'X-Forwarded-Proto', ctx.proto,
    'X-Forwarded-Host', ctx.host,
    'Forwarded', forwardedValue(ctx),
    'Via', via === '' ? '1.1 ' + ctx.via : via + ', 1.1 ' + ctx.via,
  )
  return { headers: out, hasBody: chunked || (length !== '' && length !== '0'), connectionAuth, loop }
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
  return `for=${forClient};proto=${ctx.proto};host=${host}`
}

// The way out: hop-by-hop fields of the upstream's response never reach the client. The client's
// framing is Node's to choose (chunked or Content-Length), from the length the upstream declared.
const RESPONSE_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'])

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
