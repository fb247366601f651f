// The lab's stand-in servers, derived from the config alone: which servers, their role, the
// addresses and sites they listen on, and the topology facts their answers are built from.
import type { ResolvedConfig } from '../config/defaults.js'
import type { LabCertificates } from '../tls/lab-certs.js'
import type { LabTopology, SiteSpec, StandInSpec, UcwaHost } from './standin/types.js'

export function labTopology (config: ResolvedConfig): LabTopology {
  const pools = Object.values(config.pools)
  const web = (role: string): { internalFqdn: string, externalFqdn: string } | undefined => {
    const pool = pools.find((p) => p.role === role)
    return pool === undefined ? undefined : { internalFqdn: pool.fqdn, externalFqdn: pool.externalWebFqdn ?? pool.fqdn }
  }
  const frontEnd = web('frontend')
  if (frontEnd === undefined) throw new Error('the lab needs a pool with role: frontend')
  const director = web('director')
  const owas = web('owas')
  return {
    sipDomain: config.lab?.sipDomain ?? 'contoso.com',
    frontEnd,
    ...(director === undefined ? {} : { director }),
    ...(owas === undefined ? {} : { owas }),
    users: (config.lab?.users ?? []).map((u) => ({ ...u })),
    ...(config.lab?.sipAccess === undefined ? {} : { sipAccess: { ...config.lab.sipAccess } }),
    ...(config.lab?.ucwa === undefined ? {} : { ucwa: { ...config.lab.ucwa } }),
    ...(config.lab?.crossDomainAuthorizationList === undefined ? {} : { crossDomainOrigins: config.lab.crossDomainAuthorizationList.map((o) => new URL(o).origin) }),
  }
}

export function standInSpecs (config: ResolvedConfig, certs: LabCertificates): StandInSpec[] {
  const topology = labTopology(config)
  const specs: StandInSpec[] = []
  for (const server of config.lab?.servers ?? []) {
    const pool = config.pools[server.pool]
    if (pool === undefined) throw new Error(`lab server ${server.name} names pool ${server.pool}, which is not defined`)
    const role = pool.role === 'director' ? 'director' : pool.role === 'owas' ? 'owas' : 'frontend'
    const cert = certs.internal.get(server.pool)
    // Behind a members pool each server has its own address; behind a vip pool it is the pool's.
    const member = pool.kind === 'members' ? pool.members.find((m) => m.name === server.name) : undefined
    const sites: SiteSpec[] = role === 'owas'
      ? [{ kind: 'external', protocol: 'http', port: pool.httpPort }, { kind: 'external', protocol: 'https', port: pool.httpsPort }]
      : [
          // Lync's two IIS sites: internal on 80/443, external (what the reverse proxy reaches) on 8080/4443.
          { kind: 'internal', protocol: 'http', port: 80 },
          { kind: 'internal', protocol: 'https', port: 443 },
          { kind: 'external', protocol: 'http', port: member?.httpPort ?? pool.httpPort },
          { kind: 'external', protocol: 'https', port: member?.httpsPort ?? pool.httpsPort },
        ]
    specs.push({
      member: server.name,
      role,
      serverFqdn: server.fqdn ?? `${server.name}.${pool.fqdn.split('.').slice(1).join('.')}`,
      address: member?.address ?? pool.address,
      sites,
      ...(cert === undefined ? {} : { tls: { cert: cert.cert, key: cert.key } }),
      topology,
    })
  }
  return specs
}

// For a Front End server run alone (`lyncproxy standin`): the server of its pool that holds the
// pool's UCWA state, the pool's first in lab.servers, unless that is the server itself. Only a
// members pool has one: each member has an address of its own to be reached at. In one lab
// process the servers of a pool share that state directly and need none.
export function ucwaHostOf (config: ResolvedConfig, specs: readonly StandInSpec[], member: string): UcwaHost | undefined {
  const servers = config.lab?.servers ?? []
  const pool = servers.find((s) => s.name === member)?.pool
  const first = servers.find((s) => s.pool === pool)
  const host = specs.find((s) => s.member === first?.name)
  // Behind a vip pool the address is the VIP's, which may lead back to this very server.
  if (pool === undefined || config.pools[pool]?.kind !== 'members') return undefined
  if (host === undefined || host.member === member || host.role !== 'frontend') return undefined
  return { member: host.member, address: host.address, sites: host.sites }
}
