// Reading the lab topology the way a Lync server reads the CMS: which pool this member belongs to,
// which web FQDN a client on a given IIS site should be sent to, and who the users are.
import type { LabTopology, LabUser, SiteKind, StandInSpec, WebPool } from './types.js'

export type AccessLocation = 'Internal' | 'External'

// The site a request arrived on is how Lync tells internal from external clients: the reverse proxy
// bridges to the external site (8080/4443), internal clients hit the internal one (80/443).
export function accessLocation (kind: SiteKind): AccessLocation {
  return kind === 'external' ? 'External' : 'Internal'
}

export function webFqdn (pool: WebPool, kind: SiteKind): string {
  return kind === 'external' ? pool.externalFqdn : pool.internalFqdn
}

// The pool whose web services this member runs. A Director or OWAS member without that pool in the
// topology is a configuration mistake, reported before any socket is opened.
export function ownPool (spec: StandInSpec): WebPool {
  const { topology } = spec
  const pool = spec.role === 'frontend' ? topology.frontEnd : spec.role === 'director' ? topology.director : topology.owas
  if (pool === undefined) throw new Error(`stand-in ${spec.member}: role ${spec.role} needs topology.${spec.role === 'director' ? 'director' : 'owas'}`)
  return pool
}

// SIP URIs are compared without the scheme and case-insensitively, as Lync matches sign-in addresses.
export function sipKey (uri: string): string {
  return uri.trim().replace(/^sip:/i, '').toLowerCase()
}

export function findUser (topology: LabTopology, name: string): LabUser | undefined {
  const key = sipKey(name)
  return topology.users.find((u) => sipKey(u.sipUri) === key)
}

export function sipUriOf (user: LabUser): string {
  return `sip:${sipKey(user.sipUri)}`
}
