// The invariants, checked after every case against what the clients saw and what the recording
// upstream received:
//  - one outcome per request: at most one response per request sent, in order (each response
//    carries only the tokens of the request in its place), each a parseable HTTP/1.1 response, or a
//    clean close; never neither (a hang);
//  - what a valid published request gets is what its chaos kind must produce;
//  - nothing refused or unpublished reached the upstream, nothing after a request that ends the
//    connection, no smuggled request, nothing twice, nothing the client did not send (or had not
//    finished sending the head of), and each request as sent: method, normalized target, Host,
//    no hop-by-hop field, its own body and no other;
//  - no body crossed to another client (tokens are unique to a request of a run).
import type { ConnectionRun } from './client.js'
import type { UpstreamRequest } from './recording-relay.js'
import { parseResponses, field, type ParsedResponse } from './responses.js'
import { tokensIn, type Segment } from './model.js'

export interface Violation {
  code: string
  detail: string
}

// Where a token was used: the connection run and segment it belongs to, in which role.
export interface TokenOwner {
  run: ConnectionRun
  seg: number
  role: 'head' | 'smuggled'
}

const FAILING_KINDS: Record<string, number> = { reset: 502, garbage: 502, dupcl: 502, slow: 504 }

function chaosId (s: Segment): string {
  return (s.upTargets[0] ?? '').split('/')[2] ?? ''
}

function segEnd (run: ConnectionRun, i: number): number {
  return run.starts[i]! + run.segments[i]!.bytes.length
}

function fullySent (run: ConnectionRun, i: number): boolean {
  return segEnd(run, i) <= run.written
}

function headSent (run: ConnectionRun, i: number): boolean {
  const s = run.segments[i]!
  return s.headEnd >= 0 && run.starts[i]! + s.headEnd <= run.written
}

function describe (run: ConnectionRun, i: number): string {
  const s = run.segments[i]
  if (s === undefined) return `(no request ${i})`
  const line = s.bytes.slice(0, Math.min(s.bytes.length, s.bytes.indexOf('\n') < 0 ? 60 : s.bytes.indexOf('\n'), 80))
  return `#${i} ${s.expect} ${JSON.stringify(line)}`
}

// The answer to a request the parser refused is framed as if it were a GET: the proxy cannot know
// that a malformed request was a HEAD (Node's clientError has no method), and it closes anyway.
// Why a segment ends its connection, in the words a known-defect matcher can find.
function closeReason (s: Segment): string {
  if (s.expect === 'reject' || s.expect === 'garbage') return 'refused by the parser'
  const head = s.bytes.slice(0, s.headEnd < 0 ? s.bytes.length : s.headEnd)
  const options = [...head.matchAll(/\r?\nConnection:[ \t]*([^\r\n]*)/gi)].map((m) => m[1]!.trim())
  const version = /^\S+ \S+ (HTTP\/\d\.\d+)\r?\n/.exec(head)?.[1] ?? 'no version'
  return `${version}, Connection: ${options.length === 0 ? '(none)' : options.join(' + ')}${s.bodyEnds ? '' : ', its body never ends'}`
}

export function clientResponses (run: ConnectionRun): { responses: ParsedResponse[], error: string } {
  const cleanEnd = !run.closedByClient && run.how === 'end'
  return parseResponses(run.text, (i, at) => methodFraming(run, i, at), cleanEnd)
}

// The method whose framing the i-th response (starting at `at` in the text) has. A response that
// began before the request's head was written answers no request: the proxy's 408 to an idle
// connection, racing the client's first bytes, is framed as if it were a GET.
export function methodFraming (run: Pick<ConnectionRun, 'segments' | 'starts' | 'arrivals'>, i: number, at: number): string {
  const s = run.segments[i]
  if (s === undefined || s.expect === 'reject' || s.expect === 'garbage') return 'GET'
  const arrival = run.arrivals.findLast((a) => a.at <= at)
  const writtenThen = arrival?.written ?? Infinity
  if (s.headEnd >= 0 && run.starts[i]! + s.headEnd > writtenThen) return 'GET'
  return s.method
}

export function checkConnection (run: ConnectionRun, label: string): Violation[] {
  const out: Violation[] = []
  const v = (code: string, detail: string): void => { out.push({ code, detail: `${label}: ${detail}` }) }
  if (run.how === 'refused') { v('not-serving', 'the connection was refused'); return out }
  const { responses, error } = clientResponses(run)
  if (error !== '') v('unparseable-response', error)
  // A request the proxy refused itself before its body was in, and whose body then never came or
  // was malformed, may draw a second answer (the request timeout's 408, the parser's 400). That is one
  // request answered twice: said so, and taken out so that the answers after it line up with their
  // requests again.
  for (let i = 0; i + 1 < responses.length && i < run.segments.length; i++) {
    const s = run.segments[i]!
    const second = field(responses[i + 1]!, 'x-lyncproxy-error') ?? ''
    if (s.expect === 'local' && !s.bodyEnds && ['malformed_request', 'request_timeout', 'body_incomplete'].includes(second)) {
      v('extra-response', `${describe(run, i)} answered twice: ${responses[i]!.status}, ${responses[i + 1]!.status}`)
      responses.splice(i + 1, 1)
    }
  }
  const begun = run.segments.filter((_, i) => run.starts[i]! < run.written).length
  // An idle connection may get one 408 before it is closed.
  if (responses.length > Math.max(begun, 1)) v('extra-response', `${responses.length} responses for ${begun} requests begun: ${responses.map((r) => r.status).join(', ')}`)
  const normalRead = run.plan.read === 'normal' || run.plan.read === 'slow'
  for (let i = 0; i < responses.length; i++) {
    const r = responses[i]!
    const s = run.segments[i]
    const tokens = tokensIn(r.head + r.body)
    const own = s === undefined ? [] : [s.id, ...s.smuggled]
    const foreign = tokens.filter((t) => !own.includes(t))
    if (foreign.length > 0) {
      const sameConn = run.segments.findIndex((x) => x.id === foreign[0])
      if (sameConn >= 0) v('order', `response ${i} (${r.status}) answers request #${sameConn}, not ${describe(run, i)}`)
      else v('crossed', `response ${i} (${r.status}) carries ${foreign.join(', ')}, which belong to no request of this connection`)
    }
    if (s === undefined) continue
    const refused = s.expect === 'local' || s.expect === 'reject' || s.expect === 'garbage'
    if (refused && r.status !== 0 && r.status < 400 && !(r.status === 200 && s.id === '' && s.method === 'OPTIONS')) v('wrong-status', `${describe(run, i)} must be refused, got ${r.status}`)
    if (refused && tokens.length > 0) v('echo', `the proxy's own answer to ${describe(run, i)} repeats what the client sent (${tokens.join(', ')})`)
    if (s.expect === 'up' && fullySent(run, i) && r.status !== 0) {
      const head = s.method === 'HEAD'
      const failing = FAILING_KINDS[s.kind]
      const partial = s.kind === 'truncate' || s.kind === 'stall'
      const want = failing ?? (s.kind === '' ? 404 : 200)
      if (r.status !== want) v('wrong-status', `${describe(run, i)} (chaos ${s.kind || 'default'}) must get ${want}, got ${r.status} ${field(r, 'x-lyncproxy-error') ?? ''}`.trimEnd())
      else if (r.complete && want === 200 && !head) {
        const body = partial ? `${s.id}:partial` : s.kind === 'post' ? s.body : chaosId(s)
        if (partial) v('padded', `${describe(run, i)}: a truncated upstream response reached the client complete (${r.body.length} bytes)`)
        else if (r.body !== body) v('wrong-body', `${describe(run, i)}: body ${JSON.stringify(r.body.slice(0, 80))} (${r.body.length} bytes), expected ${JSON.stringify(body.slice(0, 80))} (${body.length} bytes)`)
      }
      if (!r.complete && !partial && normalRead && !run.closedByClient && want === 200 && !head) v('truncated', `${describe(run, i)}: the response was cut short (${r.body.length} bytes of body) on a connection the client kept reading (${run.plan.then === 'half-close' ? 'after its half-close' : `then: ${run.plan.then}`})`)
    }
  }
  // Nothing is answered after a request the parser refused.
  const stop = run.segments.findIndex((s) => s.expect === 'reject' || s.expect === 'garbage')
  if (stop >= 0 && responses.length > stop + 1) v('after-close-response', `${responses.length - stop - 1} response(s) after the refusal of ${describe(run, stop)}`)
  if (run.hung) {
    v('hung', `no outcome within the deadline (${Math.round(run.waitedMs)} ms): ${responses.filter((r) => r.complete).length} complete response(s) for ${run.segments.filter((_, i) => fullySent(run, i)).length} request(s) written, the connection still open`)
  }
  return out
}

// `window`: the requests the upstream received during the case. `owners`: every token of the case.
// `earlier`: the tokens of earlier cases (a request of theirs arriving now is late).
export function checkUpstream (window: UpstreamRequest[], owners: Map<string, TokenOwner>, earlier: Set<string>, tokenless: number): Violation[] {
  const out: Violation[] = []
  const v = (code: string, detail: string): void => { out.push({ code, detail }) }
  const seen = new Map<string, number>()
  let tokenlessSeen = 0
  for (const q of window) {
    const where = `upstream request ${JSON.stringify(`${q.method} ${q.target}`.slice(0, 100))}`
    const t = tokensIn(q.target)[0]
    if (t === undefined) {
      if (++tokenlessSeen > tokenless) v('unsent-upstream', `${where}: no request of the case has that target`)
      continue
    }
    const owner = owners.get(t)
    if (owner === undefined) {
      v(earlier.has(t) ? 'late-upstream' : 'unsent-upstream', `${where}: ${earlier.has(t) ? 'a request of an earlier case arrived only now' : 'no client sent a request with that token'}`)
      continue
    }
    const { run, seg } = owner
    const s = run.segments[seg]!
    const label = `${where} (${describe(run, seg)})`
    if (owner.role === 'smuggled') { v('smuggled-upstream', `${label}: a request smuggled inside a body became a request`); continue }
    const n = (seen.get(t) ?? 0) + 1
    seen.set(t, n)
    if (n === 2) v('duplicate-upstream', `${label}: reached the upstream twice`)
    if (s.expect === 'local') v('refused-upstream', `${label}: must be refused by the proxy (not published, denied, or invalid) but reached the upstream`)
    if (s.expect === 'reject' || s.expect === 'garbage') v('refused-upstream', `${label}: the parser must refuse it, yet it reached the upstream`)
    if (!headSent(run, seg)) v('early-forward', `${label}: forwarded before the client finished its head`)
    const closer = run.segments.findIndex((x, k) => k < seg && x.closes)
    if (closer >= 0) v('after-close-upstream', `${label}: sent after ${describe(run, closer)} (${closeReason(run.segments[closer]!)}), which ends the connection, yet forwarded`)
    else {
      // The proxy answered an earlier request itself and said it would close: nothing after that
      // may be processed (RFC 9112 §9.6).
      const { responses } = clientResponses(run)
      const k = responses.findIndex((r, j) => j < seg && run.segments[j]!.expect === 'local' && /close/i.test(field(r, 'connection') ?? ''))
      if (k >= 0) v('forwarded-after-close', `${label}: forwarded after the proxy answered ${describe(run, k)} with ${responses[k]!.status} (${field(responses[k]!, 'x-lyncproxy-error') ?? "Node's own answer: no X-Lyncproxy-Error"}) and Connection: close`)
    }
    if (s.upTargets.length > 0 && !s.upTargets.includes(q.target)) v('target-mismatch', `${label}: forwarded as ${JSON.stringify(q.target.slice(0, 100))}, expected ${s.upTargets.map((x) => JSON.stringify(x.slice(0, 100))).join(' or ')}`)
    if (s.method !== q.method) v('method-mismatch', `${label}: method ${q.method}, sent ${s.method}`)
    const host = q.fields.filter(([f]) => f.toLowerCase() === 'host')
    if (host.length !== 1) v('host-mismatch', `${label}: ${host.length} Host fields upstream`)
    else if (s.upHost !== '' && host[0]![1] !== s.upHost) v('host-mismatch', `${label}: Host ${JSON.stringify(host[0]![1])} upstream, the client sent ${JSON.stringify(s.upHost)}`)
    if (s.hopField !== '' && q.fields.some(([f]) => f.toLowerCase() === s.hopField)) v('hop-by-hop-forwarded', `${label}: ${s.hopField}, named in the client's Connection field, was forwarded`)
    const foreign = tokensIn(q.body).filter((x) => x !== s.id && !s.smuggled.includes(x))
    if (foreign.length > 0) v('crossed-upstream', `${label}: its body carries ${foreign.join(', ')} of another request`)
    else if (!s.body.startsWith(q.body)) v('body-mismatch', `${label}: the upstream got a body that is not the client's (${q.body.length} bytes: ${JSON.stringify(q.body.slice(0, 60))})`)
    else if (q.complete && q.body.length < s.body.length) v(s.bodyEnds ? 'body-mismatch' : 'completed-invalid-body', `${label}: the upstream got a complete request with ${q.body.length} of the body's ${s.body.length} bytes`)
    else if (q.complete && !s.bodyEnds) v('completed-invalid-body', `${label}: the client never completed the body, the upstream got a complete request`)
  }
  return out
}
