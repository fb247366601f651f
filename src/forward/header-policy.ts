// The header policy: what the proxy does to each kind of header field on the way in and on the way
// out, and why, as data. request-headers.ts applies it (one pass over the raw headers, names keeping
// their case and repeated fields their order); `lyncproxy explain` reads the reasons from here, so
// what it says is what the policy is.
import type { Route } from '../routing/table.js'
import { AFFINITY_COOKIE } from '../upstream/balance.js'
import type { Member } from '../upstream/member.js'
import type { UpstreamPool } from '../upstream/pool.js'

// What happens to a request field of that name. drop: not forwarded as the client sent it (the proxy
// may set its own value, see `why`); te: read for "trailers", then dropped; transfer-encoding: only
// plain chunked is accepted, and the proxy frames the body itself; via: the client's entries are kept
// and the proxy appends itself; authorization: kept, and NTLM/Negotiate pin the connection;
// content-length: canonicalized; host: the client's own value, once.
export type RequestTreatment = 'drop' | 'te' | 'transfer-encoding' | 'via' | 'authorization' | 'content-length' | 'host'

export interface RequestFieldPolicy {
  readonly treatment: RequestTreatment
  // One line, as `explain` prints it beside the field.
  readonly why: string
}

const HOP_BY_HOP = 'hop-by-hop: it describes the client\'s connection only'
const NOT_TRUSTED = 'forwarding fields from the client are not trusted'

// Fields not named here pass unchanged, unless the client's Connection field names them.
export const REQUEST_FIELDS: ReadonlyMap<string, RequestFieldPolicy> = new Map<string, RequestFieldPolicy>([
  ['host', { treatment: 'host', why: 'kept as the client sent it: Lync routes meet, dialin and the web services by Host, as TMG\'s "forward the original host header" does' }],
  // The forwarding fields are the proxy's own: it is the first hop and trusts no client.
  ['x-forwarded-for', { treatment: 'drop', why: 'set by the proxy: it is the first hop, so a client-supplied value is never trusted' }],
  ['x-forwarded-proto', { treatment: 'drop', why: 'set by the proxy: the scheme the client used' }],
  ['x-forwarded-host', { treatment: 'drop', why: 'set by the proxy: the Host the client asked for' }],
  ['x-forwarded-port', { treatment: 'drop', why: NOT_TRUSTED }],
  ['x-real-ip', { treatment: 'drop', why: NOT_TRUSTED }],
  ['forwarded', { treatment: 'drop', why: 'set by the proxy (RFC 7239): client, scheme and host' }],
  ['via', { treatment: 'via', why: 'the proxy adds itself, so that a request that loops back is recognised (508)' }],
  ['connection', { treatment: 'drop', why: HOP_BY_HOP }],
  ['keep-alive', { treatment: 'drop', why: HOP_BY_HOP }],
  ['proxy-connection', { treatment: 'drop', why: HOP_BY_HOP }],
  ['te', { treatment: 'te', why: HOP_BY_HOP }],
  ['trailer', { treatment: 'drop', why: HOP_BY_HOP }],
  ['upgrade', { treatment: 'drop', why: 'hop-by-hop: only a websocket upgrade is tunnelled' }],
  // Re-framing any other coding as chunked would hand the upstream compressed bytes it was never told
  // about, so those are refused (nginx answers 501 too).
  ['transfer-encoding', { treatment: 'transfer-encoding', why: 'the proxy frames the body itself (chunked)' }],
  ['content-length', { treatment: 'content-length', why: 'normalized: leading zeros dropped, because some servers read them as octal' }],
  ['authorization', { treatment: 'authorization', why: 'passed through; NTLM and Negotiate also pin the client\'s connection to one upstream connection, where their handshake lives' }],
  ['proxy-authorization', { treatment: 'drop', why: 'credentials for a proxy, not for the Lync server' }],
  ['proxy-authenticate', { treatment: 'drop', why: 'meant for a proxy, not for the Lync server' }],
  // Re-added when the client expects 100-continue: the upstream's own 100 is relayed.
  ['expect', { treatment: 'drop', why: 'the expectation goes upstream, so that only a server that will read the body invites it' }],
])

// X-Forwarded-For and Forwarded from a peer in defaults.trustedProxies: kept, with this hop appended.
export const TRUSTED_FORWARDING_WHY = 'extended: the client is a trusted proxy (defaults.trustedProxies), so its value is kept and the proxy appends the hop it saw'
export const TRUSTED_FORWARDING_FIELDS: ReadonlySet<string> = new Set(['x-forwarded-for', 'forwarded'])

// A field of no listed kind.
export const UNLISTED_WHY = 'passed through unchanged'
// A field the client's Connection field names is hop-by-hop too (RFC 9110 §7.6.1), on both ways.
export const CONNECTION_NAMED_WHY = 'named in the client\'s Connection header: hop-by-hop'

// Connection tokens that name no header field; seeing only these needs no per-request set.
export const PLAIN_CONNECTION_TOKENS: ReadonlySet<string> = new Set(['keep-alive', 'close', 'upgrade'])

export interface FieldGroup {
  readonly why: string
  readonly fields: readonly string[]
}

// The way out. The client's framing is Node's to choose (chunked or Content-Length), from the length
// the upstream declared.
export const RESPONSE_DROPPED: FieldGroup = {
  why: 'hop-by-hop: it describes the upstream\'s connection only',
  fields: ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'],
}

// Relayed only to a client that sent TE: trailers.
export const TRAILERS_DROPPED: FieldGroup = {
  why: 'a trailer field may not change framing, routing or authentication (RFC 9110 §6.5.1)',
  fields: ['content-length', 'transfer-encoding', 'host', 'authorization', 'set-cookie', 'content-type', 'content-encoding', 'content-range', 'trailer', 'te', 'connection', 'www-authenticate', 'proxy-authenticate', 'cache-control', 'expect', 'max-forwards', 'pragma', 'range'],
}

// Why the proxy adds a field to a forwarded response (addResponseFields), by field name.
export const RESPONSE_ADDED_WHY: ReadonlyMap<string, string> = new Map([
  ['set-cookie', 'cookie affinity: the answering member names itself in MS-WSMAN, so that the client\'s next request comes back to it'],
  ['strict-transport-security', 'HSTS, asked for by the rule (rules.<name>.hstsMaxAge)'],
])
// A response field the upstream's own Connection field names is hop-by-hop too.
export const RESPONSE_CONNECTION_NAMED_WHY = 'named in the upstream\'s Connection header: hop-by-hop'

// Cookie affinity: the answering member names itself in MS-WSMAN unless the request already named it,
// so that the client's next request comes back to it.
export function needsAffinityCookie (pool: UpstreamPool, requestCookie: string, member: Member): boolean {
  return pool.affinity === 'cookie' && requestCookie !== member.cookie
}

// The fields the proxy adds to a forwarded response, after the upstream's own: the affinity cookie
// (needsAffinityCookie) and HSTS, which a rule on an HTTPS listener may ask for (rules.<name>.hstsMaxAge).
export function addResponseFields (headers: string[], route: Route, member: Member, setAffinityCookie: boolean): void {
  if (setAffinityCookie) headers.push('Set-Cookie', AFFINITY_COOKIE + '=' + member.cookie + '; Path=/')
  if (route.hsts !== '') headers.push('Strict-Transport-Security', route.hsts)
}
