// The traffic of the fuzz, as fast-check arbitraries. They generate small structured specs (a method,
// a Host variant, a path variant, a framing, a header mutation, a body, a client plan); `render`
// turns a spec into the bytes and into what the proxy must do with them (model.ts). fast-check shrinks
// the specs, so a failure shrinks towards fewer connections, fewer segments, plainer variants and
// shorter bodies, and the counterexample printed is the rendered case: bytes, ready to paste.
//
// The classification of each variant is what the reference (proxy-correctness.md §1.2, measured on
// Node 20's llhttp) and the proxy's documented policy say: a variant the parser refuses is `reject`,
// one the proxy must refuse is `local`, one it may forward or refuse is `may`.
import fc from 'fast-check'
import { CHAOS_KINDS } from '../helpers/chaos-upstream.js'
import { LYNCDISCOVER, placeholderToken, TOKEN_RE, WEBEXT, WEBEXT_PATHS, type ClientPlan, type ConnectionCase, type Expect, type FuzzCase, type ReadMode, type Segment, type ThenAction } from './model.js'

export const HOSTS = ['webext', 'lyncdiscover', 'upper', 'trailing-dot', 'port', 'unpublished', 'lookalike', 'userinfo', 'two', 'missing', 'empty', 'abs-published', 'abs-unpublished'] as const
export const PATHS = ['plain', 'suffix', 'query', 'dot', 'double-slash', 'dotdot-in', 'unreserved-escape', 'climb-out', 'encoded-climb', 'secret', 'deny', 'encoded-nul', 'encoded-slash', 'backslash', 'fragment', 'overlong-utf8', 'raw-space', 'raw-ctl', 'long', 'star'] as const
export const FRAMINGS = ['none', 'cl', 'chunked', 'cl-zero-pad', 'cl+te', 'te+cl', 'dup-cl', 'dup-cl-diff', 'te-twice', 'te-comma', 'te-gzip', 'te-upper', 'cl-long', 'bad-chunk'] as const
export const MUTATIONS = ['none', 'connection-close', 'hop', 'xff', 'te-trailers', 'obs-fold', 'bare-lf', 'bare-lf-one', 'space-colon', 'nul-value', 'cr-value', 'many-fields', 'huge-field', 'leading-space'] as const
export const VERSIONS = ['1.1', '1.0', '1.0-keep-alive', '2.0', 'none', '1.32'] as const

type HostVariant = typeof HOSTS[number]
type PathVariant = typeof PATHS[number]
type Framing = typeof FRAMINGS[number]
type Mutation = typeof MUTATIONS[number]
type Version = typeof VERSIONS[number]

export interface BodySpec {
  size: number
  // Seeds the filler, so a body is a few numbers, not kilobytes, in a spec.
  seed: number
  // A complete request inside the body (its own token): it must never become a request upstream.
  smuggle: boolean
  // Where the chunked framing splits the body, as fractions of its length.
  chunkCuts: number[]
  chunkExt: boolean
  trailer: boolean
  upperHex: boolean
}

export interface RequestSpec {
  type: 'request'
  method: string
  version: Version
  host: HostVariant
  kind: string
  path: PathVariant
  framing: Framing
  mutation: Mutation
  fillers: number
  body: BodySpec
}

export interface GarbageSpec {
  type: 'garbage'
  pieces: string[]
}

export interface PlanSpec {
  splits: number[]
  gapMs: number
  stop: number | null
  then: ThenAction
  stallMs: number | 'long'
  read: ReadMode
}

export interface ConnectionSpec {
  requests: RequestSpec[]
  garbage: GarbageSpec | null
  plan: PlanSpec
}

export interface CaseSpec {
  connections: ConnectionSpec[]
  repeat: number
}

const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>): fc.WeightedArbitrary<T> => ({ weight, arbitrary })
const weighted = <T extends string>(table: Record<T, number>): fc.Arbitrary<T> =>
  fc.oneof(...(Object.entries(table) as Array<[T, number]>).map(([v, n]) => w(n, fc.constant(v))))

// How often each variant appears. Most requests are plain and valid (so the pipelines behind them
// are long enough to matter); each dimension turns odd now and then, rarely two at once. Kinds: the
// fast ones most, slow and stall cost seconds each.
const kindArb = weighted<string>({ ok: 30, okchunked: 10, post: 20, truncate: 5, reset: 5, garbage: 5, dupcl: 5, slow: 1, stall: 1 })
const methodArb = fc.oneof(
  w(800, fc.constantFrom('GET', 'POST')),
  w(120, fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD')),
  w(30, fc.constantFrom('TRACE', 'PROPFIND', 'MKCOL', 'SEARCH')),
  w(15, fc.constantFrom('FOO', 'get', 'G ET', 'GET\t', '')),
)
const hostArb = weighted<HostVariant>({ webext: 600, lyncdiscover: 250, upper: 10, 'trailing-dot': 10, port: 10, unpublished: 30, lookalike: 10, userinfo: 5, two: 20, missing: 10, empty: 5, 'abs-published': 15, 'abs-unpublished': 20 })
const pathArb = weighted<PathVariant>({ plain: 800, suffix: 40, query: 40, dot: 10, 'double-slash': 10, 'dotdot-in': 10, 'unreserved-escape': 10, 'climb-out': 20, 'encoded-climb': 20, secret: 30, deny: 20, 'encoded-nul': 5, 'encoded-slash': 5, backslash: 5, fragment: 5, 'overlong-utf8': 5, 'raw-space': 3, 'raw-ctl': 3, long: 3, star: 3 })
const framingArb = weighted<Framing>({ none: 350, cl: 350, chunked: 250, 'cl-zero-pad': 5, 'cl+te': 10, 'te+cl': 10, 'dup-cl': 5, 'dup-cl-diff': 5, 'te-twice': 5, 'te-comma': 5, 'te-gzip': 3, 'te-upper': 3, 'cl-long': 3, 'bad-chunk': 5 })
const mutationArb = weighted<Mutation>({ none: 880, 'connection-close': 30, hop: 20, xff: 10, 'te-trailers': 10, 'obs-fold': 5, 'bare-lf': 5, 'bare-lf-one': 5, 'space-colon': 5, 'nul-value': 3, 'cr-value': 3, 'many-fields': 3, 'huge-field': 3, 'leading-space': 3 })
const versionArb = weighted<Version>({ '1.1': 970, '1.0': 10, '1.0-keep-alive': 10, '2.0': 5, none: 5, '1.32': 5 })

const bodyArb: fc.Arbitrary<BodySpec> = fc.record({
  size: fc.oneof(w(20, fc.constant(0)), w(50, fc.integer({ min: 1, max: 64 })), w(20, fc.integer({ min: 65, max: 4096 })), w(3, fc.integer({ min: 60_000, max: 300_000 }))),
  seed: fc.nat({ max: 1_000_000 }),
  smuggle: fc.boolean(),
  chunkCuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
  chunkExt: fc.boolean(),
  trailer: fc.boolean(),
  upperHex: fc.boolean(),
})

export const requestArb: fc.Arbitrary<RequestSpec> = fc.record({
  type: fc.constant('request' as const),
  method: methodArb,
  version: versionArb,
  host: hostArb,
  kind: kindArb,
  path: pathArb,
  framing: framingArb,
  mutation: mutationArb,
  fillers: fc.oneof(w(8, fc.constant(0)), w(2, fc.integer({ min: 1, max: 5 }))),
  body: bodyArb,
})

// Pieces of garbage: what follows a body whose length lied, half a request line, stray bytes.
// No piece names a published host, so no combination can become a request worth forwarding.
const GARBAGE_PIECES = ['\r\n', '0', '1', 'Z', 'abc', '\r\n0\r\n\r\n', '5\r\nhello\r\n', 'HTTP/1.1', 'HTTP/1.1 200 OK\r\n', ' ', ':', '\t', '\x00', '\xff', 'Host: x\r\n', 'GET', 'GET / HTTP/1.1\r\n', '\r\n\r\n']
export const garbageArb: fc.Arbitrary<GarbageSpec> = fc.record({
  type: fc.constant('garbage' as const),
  pieces: fc.array(fc.oneof(w(12, fc.constantFrom(...GARBAGE_PIECES.filter((p) => !p.startsWith('GET')))), w(1, fc.constantFrom('GET', 'GET / HTTP/1.1\r\n')), w(4, fc.string({ minLength: 1, maxLength: 8, unit: 'binary-ascii' }))), { minLength: 1, maxLength: 6 }),
})

// Where the client stops and what it does then. After the last byte: any action. Mid-stream: mostly
// close, reset, half-close or a stall; rarely a wait, since a correct proxy then ends the connection
// only at its client timeouts (seconds).
const stopArb: fc.Arbitrary<{ stop: number | null, then: ThenAction }> = fc.oneof(
  w(75, fc.record({ stop: fc.constant(null), then: weighted<ThenAction>({ wait: 60, close: 10, reset: 5, 'half-close': 10, 'stall-continue': 10, 'stall-close': 5 }) })),
  w(25, fc.record({ stop: fc.double({ min: 0, max: 1, noNaN: true }), then: weighted<ThenAction>({ wait: 2, close: 30, reset: 10, 'half-close': 15, 'stall-continue': 30, 'stall-close': 13 }) })),
)

export const planArb: fc.Arbitrary<PlanSpec> = fc.record({
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
  gapMs: fc.oneof(w(6, fc.constant(0)), w(4, fc.integer({ min: 1, max: 30 }))),
  stop: stopArb,
  stallMs: fc.oneof(w(40, fc.integer({ min: 5, max: 300 })), w(1, fc.constant('long' as const))),
  read: weighted<ReadMode>({ normal: 60, once: 15, slow: 10, none: 15 }),
}).map(({ stop, ...rest }) => ({ ...rest, stop: stop.stop, then: stop.then }))

export const connectionArb: fc.Arbitrary<ConnectionSpec> = fc.record({
  requests: fc.array(requestArb, { minLength: 1, maxLength: 4 }),
  garbage: fc.oneof(w(3, fc.constant(null)), w(1, garbageArb)),
  plan: planArb,
})

export const caseSpecArb: fc.Arbitrary<CaseSpec> = fc.record({
  connections: fc.array(connectionArb, { minLength: 1, maxLength: 3 }),
  repeat: fc.oneof(w(9, fc.constant(1)), w(1, fc.integer({ min: 2, max: 20 }))),
})

export const caseArb: fc.Arbitrary<FuzzCase> = caseSpecArb.map(renderCase)

// ---- rendering -------------------------------------------------------------------------------

const FILLER = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPRSTUVWXYZ0123456789-_.,;= '

// Printable ASCII only (the chaos upstream echoes bodies as text), never a `Q` (tokens stay
// recognisable), the token every 1,000 bytes and now and then a CRLF.
function renderBody (b: BodySpec, token: string, smuggled: string): string {
  if (b.size === 0) return ''
  let x = b.seed + 1
  let s = ''
  while (s.length < b.size) {
    if (s.length % 1000 === 0) { s += token; continue }
    x = (x * 1103515245 + 12345) % 2147483648
    s += x % 97 === 0 ? '\r\n' : FILLER[x % FILLER.length]
  }
  s = s.slice(0, b.size)
  if (!b.smuggle) return s
  const inner = `\r\n\r\nGET /ok/${smuggled} HTTP/1.1\r\nHost: ${WEBEXT}\r\n\r\n`
  const at = b.seed % (s.length + 1)
  return s.slice(0, at) + inner + s.slice(at)
}

// The harness stamps each connection's tokens into the bytes by text substitution, so a chunk boundary
// inside a token would leave that token unstamped and read as another connection's body.
function outsideTokens (body: string, cut: number): number {
  for (const m of body.matchAll(TOKEN_RE)) {
    if (cut > m.index && cut < m.index + m[0].length) return m.index + m[0].length
  }
  return cut
}

function chunked (body: string, b: BodySpec): string {
  const cuts = [...new Set(b.chunkCuts.map((f) => outsideTokens(body, Math.floor(f * body.length))))].filter((c) => c > 0 && c < body.length).sort((p, q) => p - q)
  const bounds = [0, ...cuts, body.length]
  let out = ''
  for (let i = 0; i + 1 < bounds.length; i++) {
    const piece = body.slice(bounds[i], bounds[i + 1])
    if (piece.length === 0) continue
    const size = piece.length.toString(16)
    out += (b.upperHex ? size.toUpperCase() : size) + (b.chunkExt && i === 0 ? ';fz=1' : '') + '\r\n' + piece + '\r\n'
  }
  return out + '0\r\n' + (b.trailer ? 'X-Fz-Trailer: 1\r\n' : '') + '\r\n'
}

// The worse of two classes, in the order of how much the proxy must refuse.
const RANK: Record<Expect, number> = { up: 0, may: 1, local: 2, reject: 3, garbage: 4 }
function worse (a: Expect, b: Expect): Expect {
  return RANK[a] >= RANK[b] ? a : b
}

interface PathOut { target: string, normalized: string | null, expect: Expect, kind: string }

// `normalized` is the path the proxy must forward, by its documented policy (edge/target.ts's
// header comment): dot segments removed, `//` merged, unreserved escapes decoded; null when the
// target must be refused.
function renderPath (v: PathVariant, kind: string, id: string): PathOut {
  const plain = `/${kind}/${id}`
  const esc = '%' + kind.charCodeAt(0).toString(16).toUpperCase()
  switch (v) {
    case 'plain': return { target: plain, normalized: plain, expect: 'up', kind }
    case 'suffix': return { target: plain + '/Autodiscover.xml', normalized: plain + '/Autodiscover.xml', expect: 'up', kind }
    case 'query': return { target: plain + '?sip=a%40contoso.com&x=%252F', normalized: plain + '?sip=a%40contoso.com&x=%252F', expect: 'up', kind }
    case 'dot': return { target: `/./${kind}/./${id}`, normalized: plain, expect: 'may', kind }
    case 'double-slash': return { target: `//${kind}//${id}`, normalized: plain, expect: 'may', kind }
    case 'dotdot-in': return { target: `/secret/../${kind}/${id}`, normalized: plain, expect: 'may', kind }
    case 'unreserved-escape': return { target: `/${esc}${kind.slice(1)}/${id}`, normalized: plain, expect: 'may', kind }
    case 'climb-out': return { target: `/${kind}/../secret/${id}`, normalized: `/secret/${id}`, expect: 'may', kind: 'secret' }
    case 'encoded-climb': return { target: `/${kind}/%2e%2E/secret/${id}`, normalized: `/secret/${id}`, expect: 'may', kind: 'secret' }
    case 'secret': return { target: `/secret/${id}`, normalized: `/secret/${id}`, expect: 'up', kind: 'secret' }
    case 'deny': return { target: `/deny/${id}`, normalized: `/deny/${id}`, expect: 'up', kind: 'deny' }
    case 'encoded-nul': return { target: `${plain}%00`, normalized: null, expect: 'local', kind }
    case 'encoded-slash': return { target: `/${kind}%2F${id}`, normalized: null, expect: 'local', kind }
    case 'backslash': return { target: `/${kind}\\${id}`, normalized: null, expect: 'local', kind }
    case 'fragment': return { target: `${plain}#frag`, normalized: null, expect: 'local', kind }
    case 'overlong-utf8': return { target: `/${kind}/%C0%AF${id}`, normalized: null, expect: 'local', kind }
    case 'raw-space': return { target: `/${kind}/ ${id}`, normalized: null, expect: 'reject', kind }
    case 'raw-ctl': return { target: `/${kind}/\x01${id}`, normalized: null, expect: 'reject', kind }
    case 'long': return { target: `${plain}/${'a'.repeat(9000)}`, normalized: null, expect: 'local', kind }
    case 'star': return { target: '*', normalized: null, expect: 'local', kind: '' }
  }
}

// Whether the config (harness.ts) forwards this host and normalized path.
function published (host: 'webext' | 'lyncdiscover', path: string): 'forward' | 'deny' | 'none' {
  if (host === 'lyncdiscover') return 'forward'
  if (path.startsWith('/deny/')) return 'deny'
  return WEBEXT_PATHS.some((p) => path.startsWith(p)) ? 'forward' : 'none'
}

export function renderRequest (r: RequestSpec, n: number, smuggledN: number): Segment {
  const id = placeholderToken(n)
  const smugToken = placeholderToken(smuggledN)
  const p = renderPath(r.path, r.kind, id)
  let expect: Expect = p.expect
  // Which published name routes it, if any, and what the Host line(s) say.
  let route: 'webext' | 'lyncdiscover' | null = null
  let hostLines: string[] = []
  let target = p.target
  let upHost = ''
  switch (r.host) {
    case 'webext': route = 'webext'; hostLines = [WEBEXT]; upHost = WEBEXT; break
    case 'lyncdiscover': route = 'lyncdiscover'; hostLines = [LYNCDISCOVER]; upHost = LYNCDISCOVER; break
    case 'upper': route = 'webext'; hostLines = ['WEBEXT.Contoso.COM']; expect = worse(expect, 'may'); break
    case 'trailing-dot': route = 'webext'; hostLines = [WEBEXT + '.']; expect = worse(expect, 'may'); break
    case 'port': route = 'webext'; hostLines = [WEBEXT + ':80']; expect = worse(expect, 'may'); break
    case 'unpublished': hostLines = ['secret.contoso.com']; break
    case 'lookalike': hostLines = [WEBEXT + '.evil.example']; break
    case 'userinfo': hostLines = [LYNCDISCOVER + '@evil.example']; break
    case 'two': hostLines = [WEBEXT, 'secret.contoso.com']; break
    case 'missing': hostLines = []; break
    case 'empty': hostLines = ['']; break
    case 'abs-published':
      // Absolute form: the target's authority routes, whatever Host says (RFC 9112 §3.2.2).
      route = 'webext'; hostLines = ['secret.contoso.com']; expect = worse(expect, 'may')
      if (target.startsWith('/')) target = 'http://' + WEBEXT + target
      break
    case 'abs-unpublished':
      hostLines = [WEBEXT]
      if (target.startsWith('/')) target = 'http://secret.contoso.com' + target
      break
  }
  if (route === null) expect = worse(expect, 'local')
  let kind = p.kind
  if (route !== null && p.normalized !== null) {
    const pub = published(route, p.normalized.split('?')[0]!)
    if (pub !== 'forward') expect = worse(expect, 'local')
    // On lyncdiscover every path goes to the chaos upstream, which answers an unknown kind with 404.
    if (!(CHAOS_KINDS as readonly string[]).includes(kind)) kind = ''
  }

  // The request line.
  const method = r.method
  if (!/^[A-Z]+$/.test(method)) expect = worse(expect, 'reject')
  else if (!['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD'].includes(method)) expect = worse(expect, 'may')
  let requestLine: string
  let closes = false
  switch (r.version) {
    case '1.1': requestLine = `${method} ${target} HTTP/1.1`; break
    case '1.0': requestLine = `${method} ${target} HTTP/1.0`; closes = true; expect = worse(expect, 'may'); break
    case '1.0-keep-alive': requestLine = `${method} ${target} HTTP/1.0`; expect = worse(expect, 'may'); break
    case '2.0': requestLine = `${method} ${target} HTTP/2.0`; expect = worse(expect, 'local'); break
    // HTTP/0.9: the request line alone is the request; the proxy answers 505.
    case 'none': requestLine = `${method} ${target}`; expect = worse(expect, 'local'); break
    case '1.32': requestLine = `${method} ${target} HTTP/1.32`; expect = worse(expect, 'reject'); break
  }
  if (p.expect === 'reject') expect = worse(expect, 'reject')

  // The body and its framing.
  const body = r.framing === 'none' ? '' : renderBody(r.body, id, smugToken)
  let framing: string[] = []
  let payload = ''
  let upBody = body
  let bodyEnds = true
  switch (r.framing) {
    case 'none': break
    case 'cl': framing = [`Content-Length: ${body.length}`]; payload = body; break
    case 'chunked': framing = ['Transfer-Encoding: chunked']; payload = chunked(body, r.body); if (r.version !== '1.1') expect = worse(expect, 'may'); break
    case 'cl-zero-pad': framing = [`Content-Length: 0${body.length}`]; payload = body; expect = worse(expect, 'may'); break
    case 'cl+te': framing = [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']; payload = chunked(body, r.body); expect = worse(expect, 'reject'); break
    case 'te+cl': framing = ['Transfer-Encoding: chunked', `Content-Length: ${body.length}`]; payload = chunked(body, r.body); expect = worse(expect, 'reject'); break
    case 'dup-cl': framing = [`Content-Length: ${body.length}`, `Content-Length: ${body.length}`]; payload = body; expect = worse(expect, 'reject'); break
    case 'dup-cl-diff': framing = [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`]; payload = body; expect = worse(expect, 'reject'); break
    case 'te-twice': framing = ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']; payload = chunked(body, r.body); expect = worse(expect, 'reject'); break
    // Accepted by Node as chunked; the proxy takes only the exact token `chunked` (501).
    case 'te-comma': framing = ['Transfer-Encoding: ,chunked']; payload = chunked(body, r.body); expect = worse(expect, 'local'); break
    case 'te-gzip': framing = ['Transfer-Encoding: gzip, chunked']; payload = chunked(body, r.body); expect = worse(expect, 'local'); break
    case 'te-upper': framing = ['Transfer-Encoding: CHUNKED']; payload = chunked(body, r.body); expect = worse(expect, 'may'); break
    // A declared length the client never completes: the last thing on the connection.
    case 'cl-long': framing = [`Content-Length: ${body.length + 10}`]; payload = body; expect = worse(expect, 'may'); closes = true; bodyEnds = false; break
    // Valid chunks for half the body, then a chunk size that is not hex.
    case 'bad-chunk': {
      const half = body.slice(0, body.length >> 1)
      const good = chunked(half, { ...r.body, trailer: false })
      framing = ['Transfer-Encoding: chunked']
      payload = good.slice(0, good.length - 5) + 'zz\r\n' + body.slice(half.length) + '\r\n0\r\n\r\n'
      upBody = half
      expect = worse(expect, 'may')
      closes = true
      bodyEnds = false
      break
    }
  }

  // Header lines, then the mutation.
  const lines: string[] = hostLines.map((h) => `Host: ${h}`)
  for (let i = 0; i < r.fillers; i++) lines.push(`X-Fz-Filler-${i}: ${'v'.repeat(i * 7)}`)
  lines.push(...framing)
  let hopField = ''
  switch (r.mutation) {
    case 'none': break
    case 'connection-close': lines.push('Connection: close'); closes = true; break
    case 'hop': lines.push('Connection: X-Fz-Hop'); lines.push('X-Fz-Hop: hop-by-hop'); hopField = 'x-fz-hop'; break
    case 'xff': lines.push('X-Forwarded-For: 203.0.113.9'); lines.push('Forwarded: for=203.0.113.9'); break
    case 'te-trailers': lines.push('TE: trailers'); break
    case 'obs-fold': lines.push('X-Fz-Fold: a'); lines.push(' folded'); expect = worse(expect, 'reject'); break
    case 'bare-lf': case 'bare-lf-one': expect = worse(expect, 'reject'); break
    case 'space-colon': lines.push('X-Fz-Space : 1'); expect = worse(expect, 'reject'); break
    case 'nul-value': lines.push('X-Fz-Nul: a\x00b'); expect = worse(expect, 'reject'); break
    case 'cr-value': lines.push('X-Fz-Cr: a\rb'); expect = worse(expect, 'reject'); break
    case 'many-fields': for (let i = 0; i < 250; i++) lines.push(`X-Fz-${i}: ${i}`); expect = worse(expect, 'local'); break
    case 'huge-field': lines.push(`X-Fz-Huge: ${'h'.repeat(20_000)}`); expect = worse(expect, 'reject'); break
    case 'leading-space': lines.unshift(' X-Fz-Lead: 1'); expect = worse(expect, 'reject'); break
  }
  if (r.version === '1.0-keep-alive') lines.push('Connection: keep-alive')
  let head = r.version === 'none' ? requestLine + '\r\n\r\n' : requestLine + '\r\n' + lines.map((l) => l + '\r\n').join('') + '\r\n'
  if (r.mutation === 'bare-lf') head = head.replace(/\r\n/g, '\n')
  if (r.mutation === 'bare-lf-one') head = head.replace('\r\n', '\n')
  // HTTP/1.1 without Host: Node answers 400 itself.
  if (hostLines.length === 0 && r.version !== '1.0' && r.version !== '1.0-keep-alive') expect = worse(expect, 'local')
  if (expect === 'reject') closes = true

  const upTargets = p.normalized === null ? [] : [p.normalized]
  return {
    bytes: head + payload,
    expect,
    method,
    id: p.target === '*' ? '' : id,
    kind: expect === 'up' || expect === 'may' ? kind : p.kind,
    headEnd: head.endsWith('\r\n\r\n') ? head.length : -1,
    body: upBody,
    bodyEnds,
    upTargets,
    upHost: expect === 'up' ? upHost : '',
    hopField,
    closes,
    smuggled: r.body.smuggle && body.length > 0 ? [smugToken] : [],
  }
}

function renderGarbage (g: GarbageSpec): Segment {
  let bytes = g.pieces.join('').replace(/Q/g, 'q')
  // Only CR and LF would be skipped as empty lines before a request: make sure there is a byte to refuse.
  if (/^[\r\n]*$/.test(bytes)) bytes += 'Z'
  return { bytes, expect: 'garbage', method: '', id: '', kind: '', headEnd: -1, body: '', bodyEnds: true, upTargets: [], upHost: '', hopField: '', closes: true, smuggled: [] }
}

function renderPlan (p: PlanSpec, length: number): ClientPlan {
  const splits = [...new Set(p.splits.map((f) => Math.floor(f * length)))].filter((s) => s > 0 && s < length).sort((a, b) => a - b)
  const stopAt = p.stop === null ? length : Math.floor(p.stop * length)
  return { splits, gapMs: p.gapMs, stopAt, then: p.then, stallMs: p.stallMs, read: p.read }
}

export function renderCase (spec: CaseSpec): FuzzCase {
  let n = 0
  const connections: ConnectionCase[] = spec.connections.map((c) => {
    const segments: Segment[] = []
    for (const r of c.requests) {
      const own = n++
      const smuggled = r.body.smuggle ? n++ : own
      segments.push(renderRequest(r, own, smuggled))
      // A length the client never completes swallows whatever follows: nothing may follow it.
      if (r.framing === 'cl-long') break
    }
    if (c.garbage !== null && !c.requests.some((r) => r.framing === 'cl-long')) segments.push(renderGarbage(c.garbage))
    const length = segments.reduce((s, g) => s + g.bytes.length, 0)
    return { segments, plan: renderPlan(c.plan, length) }
  })
  return { connections, repeat: spec.repeat }
}
