// Host header handling. Lync routes simple URLs and autodiscover by host name, so the name is taken
// from the Host header exactly as the reverse proxy forwarded it, minus the port.

export function hostName (host: string | undefined): string {
  if (host === undefined) return ''
  let name = host.trim().toLowerCase()
  if (name.startsWith('[')) {
    // IPv6 literal: [::1]:443
    const end = name.indexOf(']')
    return end === -1 ? name : name.slice(0, end + 1)
  }
  const colon = name.lastIndexOf(':')
  if (colon !== -1) name = name.slice(0, colon)
  return name.endsWith('.') ? name.slice(0, -1) : name
}

export type SimpleUrlHost = 'lyncdiscover' | 'meet' | 'dialin' | undefined

// The host-name prefixes an FE or Director answers for besides its own web FQDNs.
export function simpleUrlHost (host: string | undefined): SimpleUrlHost {
  const name = hostName(host)
  if (name.startsWith('lyncdiscover.') || name.startsWith('lyncdiscoverinternal.')) return 'lyncdiscover'
  if (name.startsWith('meet.')) return 'meet'
  if (name.startsWith('dialin.')) return 'dialin'
  return undefined
}

// The domain part of a simple URL (meet.contoso.com → contoso.com), used for the conference URI.
export function simpleUrlDomain (host: string | undefined): string | undefined {
  const name = hostName(host)
  const dot = name.indexOf('.')
  return dot === -1 ? undefined : name.slice(dot + 1)
}
