// Reading autodiscover answers in the forms a Lync pool gives them: MS-OCDISCWS as XML or JSON (the
// JSON with WCF's escaped slashes, which JSON.parse reads as plain ones) and UCWA's HAL `_links`.
// Lenient on purpose: the probe judges a proxy, not the exact bytes of a particular Lync build.

export interface DiscoveryLink { token: string, href: string }

export interface ParsedDiscovery {
  accessLocation?: string
  // Root, User or Domain: the element that holds the links.
  element?: string
  links: DiscoveryLink[]
}

function attribute (tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i').exec(tag)
  return m?.[1]?.replace(/&amp;/g, '&')
}

function parseXml (body: string): ParsedDiscovery | undefined {
  const root = /<AutodiscoverResponse\b[^>]*>/i.exec(body)
  if (root === null) return undefined
  const element = /<(Root|User|Domain)\b/i.exec(body)?.[1]
  const links: DiscoveryLink[] = []
  for (const m of body.matchAll(/<Link\b[^>]*>/gi)) {
    const token = attribute(m[0], 'token')
    const href = attribute(m[0], 'href')
    if (token !== undefined && href !== undefined) links.push({ token, href })
  }
  const accessLocation = attribute(root[0], 'AccessLocation')
  return { ...(accessLocation === undefined ? {} : { accessLocation }), ...(element === undefined ? {} : { element }), links }
}

function parseJson (body: string): ParsedDiscovery | undefined {
  let value: unknown
  try { value = JSON.parse(body) } catch { return undefined }
  if (typeof value !== 'object' || value === null) return undefined
  const doc = value as Record<string, unknown>
  const element = ['Root', 'User', 'Domain'].find((k) => typeof doc[k] === 'object' && doc[k] !== null)
  if (element === undefined && typeof doc.AccessLocation !== 'string') return undefined
  const rawLinks = element === undefined ? [] : (doc[element] as { Links?: unknown }).Links
  const links = Array.isArray(rawLinks)
    ? rawLinks.flatMap((l: { token?: unknown, href?: unknown }) => typeof l?.token === 'string' && typeof l.href === 'string' ? [{ token: l.token, href: l.href }] : [])
    : []
  return {
    ...(typeof doc.AccessLocation === 'string' ? { accessLocation: doc.AccessLocation } : {}),
    ...(element === undefined ? {} : { element }),
    links,
  }
}

export function parseOcdisc (body: string, contentType: string | undefined): ParsedDiscovery | undefined {
  const xml = (contentType ?? '').toLowerCase().includes('xml') || body.trimStart().startsWith('<')
  return xml ? parseXml(body) : parseJson(body)
}

// The UCWA form: relation → href.
export function parseHal (body: string): Record<string, string> | undefined {
  let value: unknown
  try { value = JSON.parse(body) } catch { return undefined }
  const links = (value as { _links?: unknown } | null)?._links
  if (typeof links !== 'object' || links === null) return undefined
  const out: Record<string, string> = {}
  for (const [rel, link] of Object.entries(links as Record<string, { href?: unknown }>)) {
    if (typeof link?.href === 'string') out[rel] = link.href
  }
  return out
}

export function tokens (doc: ParsedDiscovery): string {
  return doc.links.map((l) => l.token).join(', ') || 'no links'
}
