// Which lab certificates a config needs, derived from the config alone: the external certificate
// names every published name; each pool's internal certificate names the pool FQDN (the name the
// proxy verifies), the public names forwarded to it (as Lync's own certificates carry them) and the
// lab servers behind it. Front End and Director pools also carry the names Microsoft's certificate
// requirements for internal servers list for automatic sign-in: sip.<SIP domain>,
// lyncdiscoverinternal.<SIP domain> and lyncdiscover.<SIP domain>, so that an internal client that
// finds the pool by those names accepts its certificate.
import type { ResolvedConfig } from '../config/defaults.js'
import type { LabCertificateOptions } from '../tls/lab-certs.js'

export function needsLabCertificates (config: ResolvedConfig): boolean {
  const listenerCert = config.listeners.some((l) => (l.certificates ?? []).some((c) => 'lab' in c || 'labInternal' in c))
  const poolCa = Object.values(config.pools).some((p) => p.tls.ca.includes('lab'))
  return listenerCert || poolCa || config.lab !== undefined
}

export function labCertificateRequest (config: ResolvedConfig): LabCertificateOptions {
  const external = new Set<string>()
  for (const rule of config.rules) for (const n of rule.publicNames) if (n !== '*') external.add(n.toLowerCase())
  const internal = Object.entries(config.pools).map(([id, pool]) => {
    const names = new Set<string>([pool.fqdn.toLowerCase()])
    if (pool.externalWebFqdn !== undefined) names.add(pool.externalWebFqdn.toLowerCase())
    for (const rule of config.rules) {
      if (rule.pool === id) for (const n of rule.publicNames) if (n !== '*') names.add(n.toLowerCase())
    }
    const sipDomain = config.lab?.sipDomain.toLowerCase()
    if (sipDomain !== undefined && (pool.role === 'frontend' || pool.role === 'director')) {
      for (const n of [`sip.${sipDomain}`, `lyncdiscoverinternal.${sipDomain}`, `lyncdiscover.${sipDomain}`]) names.add(n)
    }
    for (const server of config.lab?.servers ?? []) {
      if (server.pool === id && server.fqdn !== undefined) names.add(server.fqdn.toLowerCase())
    }
    return { id, names: [...names] }
  })
  return { dir: config.certs.dir, externalNames: [...external], internal }
}
