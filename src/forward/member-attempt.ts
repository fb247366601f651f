// An attempt's claim on a pool member, and what the attempt tells the pool about the member's health.
// The forwarded request (forward-state.ts) and the WebSocket tunnel (upgrade.ts) both go through
// here, so least-connections, draining and passive ejection see every kind of exchange the same way.
import type { Exchange } from '../observe/exchange.js'
import { upstreamPort, type Route } from '../routing/table.js'
import type { Member } from '../upstream/member.js'
import { kTimeoutKind, type UpstreamError } from './upstream-failure.js'

// Failures that prove nothing reached the upstream: they count against the member, and a request
// may safely go to another one.
const NOTHING_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])

// What the accounting needs of an exchange in flight.
export interface MemberAttempt {
  readonly ex: Exchange
  readonly route: Route
  readonly member: Member
  // The bridged port this attempt goes to (upstreamPort).
  port: number
  // The member's active count has been given back.
  released: boolean
}

// Where this attempt goes, named on the record and counted against the member until releaseMember.
export function beginAttempt (attempt: MemberAttempt): number {
  const { route, member, ex } = attempt
  const port = upstreamPort(route, member)
  attempt.port = port
  attempt.released = false
  ex.member = member.name
  ex.upstream = member.address + ':' + port
  member.active++
  return port
}

// Idempotent: every ending of an attempt may call it.
export function releaseMember (attempt: MemberAttempt): void {
  if (attempt.released) return
  attempt.released = true
  attempt.member.active--
}

// The member answered with `status`. 502/503/504 say the server itself is unwell. A 500 is also
// Lync's answer to a bad web ticket, which any client can provoke, so it must not eject a member.
export function recordAnswer (attempt: MemberAttempt, status: number): void {
  const pool = attempt.route.pool!
  if (status >= 502 && status <= 504) pool.recordFailure(attempt.member, `answered ${status}`)
  else pool.recordSuccess(attempt.member)
}

// The attempt failed before any answer. A failure that proves nothing reached the member counts
// against it; true then, and the request may go elsewhere.
export function recordConnectFailure (attempt: MemberAttempt, err: UpstreamError): boolean {
  if (!NOTHING_SENT.has(err.code ?? '') && err[kTimeoutKind] !== 'connect') return false
  attempt.route.pool!.recordFailure(attempt.member, err.code ?? 'connect timeout')
  return true
}
