// DNS names as TLS compares them. Shared by the certificate loader, the lab issuer and the SNI
// selector so that all three agree on what "the same name" means.
import type { X509Certificate } from 'node:crypto'

// Hosts and SNI are case-insensitive, and `meet.contoso.com.` (fully qualified, as some Lync
// clients and resolvers write it) is the same site as `meet.contoso.com`.
export function normalizeName (name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

// Node renders subjectAltName as `DNS:a, DNS:b, IP Address:1.2.3.4`; since the CVE-2021-44532
// fix a value holding a delimiter is JSON-quoted, so a plain split on ", " is not enough.
function splitAltNames (text: string): Array<{ type: string, value: string }> {
  const out: Array<{ type: string, value: string }> = []
  let i = 0
  while (i < text.length) {
    const colon = text.indexOf(':', i)
    if (colon < 0) break
    const type = text.slice(i, colon)
    let value: string
    let next: number
    if (text[colon + 1] === '"') {
      let j = colon + 2
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const quoted = text.slice(colon + 1, j + 1)
      try { value = JSON.parse(quoted) as string } catch { value = quoted }
      next = text.indexOf(', ', j + 1)
    } else {
      next = text.indexOf(', ', colon + 1)
      value = text.slice(colon + 1, next < 0 ? undefined : next)
    }
    out.push({ type, value })
    if (next < 0) break
    i = next + 2
  }
  return out
}

// The names a client will accept the certificate for. The CN is only a fallback: RFC 6125 and
// every current browser ignore it as soon as a SAN is present, so counting it then would make the
// proxy believe it covers a name that clients will reject.
export function certificateNames (cert: X509Certificate): string[] {
  const names = new Set<string>()
  for (const { type, value } of splitAltNames(cert.subjectAltName ?? '')) {
    if (type === 'DNS' && value !== '') names.add(normalizeName(value))
  }
  if (names.size === 0) {
    for (const line of cert.subject.split('\n')) {
      if (line.startsWith('CN=')) {
        let cn = line.slice(3)
        if (cn.startsWith('"')) { try { cn = JSON.parse(cn) as string } catch { /* keep as written */ } }
        if (cn !== '') names.add(normalizeName(cn))
      }
    }
  }
  return [...names]
}
