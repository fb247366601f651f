// What a fuzz case is, as plain data: it is printed on failure and pasted back as a regression, so
// everything the run and the checks need is in it, and nothing else.
//
// A case is client connections, each a list of segments (requests, and garbage after the last one)
// written as one byte stream by a client plan. Every request carries an id token in its target, and
// its body repeats that token, so what reached the upstream and what came back can be traced to the
// request it belongs to. In a case the tokens are placeholders (`Q07____Q`: the segment's number in
// the case, then `____`); each time a connection runs, `____` becomes a fresh instance number, so no
// two requests of a run ever share an id, and the byte length never changes (Content-Length holds).
import { CHAOS_KINDS } from '../helpers/chaos-upstream.js'

// What the proxy must do with a segment, as its bytes and the config decide.
//   up:      valid and published: it may reach the upstream once, exactly as sent (after the target's
//            documented normalization), and the answer is the chaos kind's.
//   may:     valid but odd (a Host in upper case, a dot segment, TRACE, Content-Length: 010): it may
//            reach the upstream once, or be refused; nothing else is promised about the answer.
//   local:   valid framing that the proxy must refuse itself (not published, denied, bad target,
//            two Host fields, an unsupported transfer coding): it never reaches the upstream.
//   reject:  framing the parser must refuse (CL with TE, two CL, obs-fold, bare LF, a bad method):
//            it never reaches the upstream, and nothing after it on the connection does.
//   garbage: bytes that are no request at all, after the last request; as reject.
export type Expect = 'up' | 'may' | 'local' | 'reject' | 'garbage'

export interface Segment {
  bytes: string
  expect: Expect
  // The request's method and its id token ('' for garbage, or a request without one).
  method: string
  id: string
  // The chaos kind its target names ('' when it names none).
  kind: string
  // Where the head ends in `bytes` (just after the blank line); -1 when there is no complete head.
  headEnd: number
  // The body the upstream must get, decoded from its framing.
  body: string
  // The client sends the whole body, validly framed. When it does not (a length it never completes,
  // a bad chunk), the upstream may get the head and part of the body, never a complete request.
  bodyEnds: boolean
  // The targets the upstream may see for it (the target as the proxy must normalize it).
  upTargets: string[]
  // The Host field the upstream must see for an `up` segment ('' when not checked).
  upHost: string
  // A field the client named in Connection (hop-by-hop): it must not reach the upstream.
  hopField: string
  // The client asked to close after this request (Connection: close, HTTP/1.0): no later request of
  // the connection may reach the upstream (RFC 9112 §9.6).
  closes: boolean
  // Tokens of requests smuggled inside this segment's body: never a request at the upstream.
  smuggled: string[]
}

export type ThenAction = 'wait' | 'close' | 'reset' | 'half-close' | 'stall-continue' | 'stall-close'
export type ReadMode = 'normal' | 'slow' | 'none' | 'once'

export interface ClientPlan {
  // Offsets in the connection's bytes where one write ends and the next begins.
  splits: number[]
  // Pause between writes, ms.
  gapMs: number
  // Where the client stops writing (the byte length: after the last byte) and what it does there:
  // wait for the outcome, close, reset, half-close and wait, or stall and then go on or close.
  stopAt: number
  then: ThenAction
  // How long a stall (or, with read 'none', the wait before closing) lasts: a number of ms, or
  // 'long': past the proxy's client timeouts.
  stallMs: number | 'long'
  // normal; slow (one read every few ms); none (never reads); once (closes after the first read).
  read: ReadMode
}

export interface ConnectionCase {
  segments: Segment[]
  plan: ClientPlan
}

export interface FuzzCase {
  connections: ConnectionCase[]
  // Rounds: the connections run this many times, with fresh ids; a round starts when the one before
  // has finished, or 50 ms after it started (harness.ts).
  repeat: number
}

// A regression: a case that once failed, replayed every run. `known` skips it with the reason while
// the defect it reproduces is open.
export interface Regression {
  name: string
  case: FuzzCase
  known?: string
  // How fast-check found it, for the record (the path only replays with the generators of then).
  found?: { seed: number, path: string }
}

// The proxy's timeouts, in one place: the config the child proxy gets, and every deadline the
// harness derives. The chaos upstream's `slow` and `stall` wait for the proxy to give up (its response
// timeout, on undici's coarse clock), not for a clock of their own.
export const TIMEOUTS = {
  headersS: 1,
  requestS: 2,
  clientIdleS: 2,
  responseS: 1,
  // Node checks the headers and request timeouts of its connections once a second (the proxy sets
  // connectionsCheckingInterval to 1000 ms), so they fire up to this much late.
  checkIntervalMs: 1000,
} as const

// The published names and what they publish (see harness.ts for the config).
export const WEBEXT = 'webext.contoso.com'
export const LYNCDISCOVER = 'lyncdiscover.contoso.com'
// On webext, only /<chaos kind>/ paths are forwarded, /deny/ is denied; lyncdiscover forwards every path.
export const WEBEXT_PATHS = CHAOS_KINDS.map((k) => `/${k}/`)

export const PLACEHOLDER = '____'
export const TOKEN_WIDTH = 8
// A token in any text: Q, the segment number, the instance (placeholder or base 36), Q.
export const TOKEN_RE = /Q\d\d(?:____|[0-9a-z]{4})Q/g

export function placeholderToken (n: number): string {
  return 'Q' + String(n).padStart(2, '0') + PLACEHOLDER + 'Q'
}

export function instanceTag (n: number): string {
  return n.toString(36).padStart(4, '0').slice(-4)
}

export function tokensIn (text: string): string[] {
  return text.match(TOKEN_RE) ?? []
}
