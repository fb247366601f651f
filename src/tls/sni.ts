// Certificate selection by SNI, for a listener that publishes several sites, the way TMG bound
// several certificates to one web listener. All lookups are prepared once, at build time, because
// the callback runs on every handshake and `covers` on every request.
import type tls from 'node:tls'
import type { LoadedCertificate } from './load.js'
import { normalizeName } from './names.js'

export interface SniSelector {
  // Answers clients that send no SNI or a name no certificate covers (the first certificate).
  defaultContext: tls.SecureContext
  // The first certificate itself. Node 20's tls.Server ignores a `secureContext` option and builds
  // its default context from cert/key/pfx, so servers spread `defaultCertificate.secureContextOptions`.
  defaultCertificate: LoadedCertificate
  SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void
  // Whether the certificate chosen for `servername` is valid for `host` (lower-case, no port, no
  // trailing dot). When it is not, the client's Host names a site this TLS session was not
  // authenticated for, and the proxy answers 421 rather than serve it under the wrong certificate.
  covers: (servername: string | undefined | false, host: string) => boolean
}

interface Entry {
  context: tls.SecureContext
  exact: Set<string>
  // `*.contoso.com` is stored as `contoso.com`: a name matches when what follows its first label is here.
  wildcardParents: Set<string>
}

// RFC 6125: the wildcard is the whole leftmost label, and browsers refuse it right under a TLD.
function wildcardParent (name: string): string | undefined {
  if (!name.startsWith('*.')) return undefined
  const parent = name.slice(2)
  return parent.includes('.') && !parent.includes('*') && !parent.startsWith('.') ? parent : undefined
}

// The part after the first label, or undefined for a one-label name or one with an empty label.
function parentOf (name: string): string | undefined {
  const dot = name.indexOf('.')
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1) : undefined
}

function entryCovers (entry: Entry, name: string): boolean {
  if (entry.exact.has(name)) return true
  const parent = parentOf(name)
  return parent !== undefined && entry.wildcardParents.has(parent)
}

export function createSniSelector (certs: LoadedCertificate[]): SniSelector {
  const first = certs[0]
  if (first === undefined) throw new RangeError('createSniSelector needs at least one certificate')

  // Exact names win over wildcards across all certificates; among equals the certificate listed
  // first wins, so the config order is the tie-break an operator can see.
  const exact = new Map<string, Entry>()
  const wildcard = new Map<string, Entry>()
  const entries = certs.map((cert) => {
    const entry: Entry = { context: cert.secureContext, exact: new Set(), wildcardParents: new Set() }
    for (const raw of cert.names) {
      const name = normalizeName(raw)
      const parent = wildcardParent(name)
      if (parent !== undefined) {
        entry.wildcardParents.add(parent)
        if (!wildcard.has(parent)) wildcard.set(parent, entry)
      } else if (!name.includes('*') && name !== '') {
        entry.exact.add(name)
        if (!exact.has(name)) exact.set(name, entry)
      }
    }
    return entry
  })
  const fallback = entries[0] as Entry

  function select (servername: string | undefined | false): Entry {
    if (servername === undefined || servername === false || servername === '') return fallback
    const name = normalizeName(servername)
    const hit = exact.get(name)
    if (hit !== undefined) return hit
    const parent = parentOf(name)
    return (parent === undefined ? undefined : wildcard.get(parent)) ?? fallback
  }

  return {
    defaultContext: first.secureContext,
    defaultCertificate: first,
    SNICallback: (servername, cb) => { cb(null, select(servername).context) },
    covers: (servername, host) => entryCovers(select(servername), host),
  }
}
