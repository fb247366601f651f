// Where a forward route sends requests: each member of its pool with the port bridging gives it
// (the rule's bridge port, else the member's port for the scheme), as the forwarding engine picks it.
import { upstreamPort, type Route } from './table.js'
import type { Member } from '../upstream/member.js'

export interface UpstreamTarget {
  member: Member
  scheme: 'http' | 'https'
  port: number
}

export function upstreamTargets (route: Route): UpstreamTarget[] {
  const pool = route.pool
  if (route.action !== 'forward' || pool === undefined) return []
  const scheme = route.upstreamTls ? 'https' : 'http'
  return pool.members.map((member) => ({
    member,
    scheme,
    port: upstreamPort(route, member),
  }))
}
