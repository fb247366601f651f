// Reading the lab topology the way a Lync server reads the CMS: which pool this member belongs to,
// which web FQDN a client on a given IIS site should be sent to, and who the users are.
import type { LabTopology, LabUser, SipAccess, SiteKind, StandInSpec, WebPool } from './types.js'

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

// The lab's Active Directory, as NTLM sees it. A user signs in with the SIP address as UPN
// (user1@contoso.com, no domain) or as DOMAIN\account, where the account is the SIP address's user
// part (the lab's sAMAccountName) and the domain is the NetBIOS name or the DNS name of the domain
// the servers are in (CONTOSO or contoso.net for fe01.contoso.net). Another domain is one the DC
// does not know, so its users are unknown too.
export function findWindowsAccount (topology: LabTopology, adDomain: { netbios: string; dns: string }, user: string, domain: string): LabUser | undefined {
  if (domain === '' && user.includes('@')) return findUser(topology, user)
  const d = domain.toLowerCase()
  if (d !== '' && d !== adDomain.netbios.toLowerCase() && d !== adDomain.dns.toLowerCase()) return undefined
  const account = user.toLowerCase()
  return topology.users.find((u) => sipKey(u.sipUri).split('@')[0] === account)
}

// The SIP access locations autodiscover gives out: inside, the pool the users are homed on (a Lync
// client registers with its home pool's FQDN on 5061); outside, the Edge's access service, which
// Microsoft's planning guides publish as sip.<SIP domain> on 443.
export function sipAccessOf (topology: LabTopology): { internal: SipAccess; external: SipAccess } {
  return {
    internal: topology.sipAccess?.internal ?? { fqdn: topology.frontEnd.internalFqdn, port: 5061 },
    external: topology.sipAccess?.external ?? { fqdn: `sip.${topology.sipDomain}`, port: 443 },
  }
}
