// An autodiscover answer in the abstract (where the client is, which element, which links) and its
// three wire forms. Building the answer once and rendering it three ways keeps the representations
// from drifting apart.
import { escapeMarkup } from '../markup.js'
import type { AccessLocation } from '../topology.js'
import type { Representation } from './negotiate.js'

export interface DiscoveryLink { token: string; href: string }

// One of the User element's SIP access locations (SipServerInternalAccess, SipClientExternalAccess, ...).
export interface SipAccessEntry { element: string; fqdn: string; port: number }

export interface Discovery {
  accessLocation: AccessLocation
  element: 'Root' | 'User' | 'Domain'
  // MS-OCDISCWS tokens (Domain, User, OAuth, Redirect, External/Ucwa, ...), in document order.
  links: DiscoveryLink[]
  // Before the links, in the User answer only.
  sipAccess?: SipAccessEntry[]
  // The UCWA (HAL) form of the same answer: relation name → href.
  hal: Record<string, string>
}

export interface Rendered { contentType: string; body: string }

function renderXml (doc: Discovery): string {
  const access = (doc.sipAccess ?? []).map((a) => `<${a.element} fqdn="${escapeMarkup(a.fqdn)}" port="${a.port}"/>`).join('')
  const links = access + doc.links.map((l) => `<Link token="${escapeMarkup(l.token)}" href="${escapeMarkup(l.href)}"/>`).join('')
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<AutodiscoverResponse xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
    ` AccessLocation="${doc.accessLocation}"><${doc.element}>${links}</${doc.element}></AutodiscoverResponse>`
}

// The service is WCF, whose JSON serializer escapes every '/' as '\/'. A '/' can only occur inside
// JSON strings, so replacing it after stringify is exact.
function wcfJson (value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/')
}

function renderOcdiscJson (doc: Discovery): string {
  return wcfJson({
    AccessLocation: doc.accessLocation,
    [doc.element]: {
      ...Object.fromEntries((doc.sipAccess ?? []).map((a) => [a.element, { fqdn: a.fqdn, port: String(a.port) }])),
      Links: doc.links.map((l) => ({ href: l.href, token: l.token })),
    },
  })
}

function renderHal (doc: Discovery): string {
  const links: Record<string, { href: string }> = {}
  for (const [rel, href] of Object.entries(doc.hal)) links[rel] = { href }
  return JSON.stringify({ _links: links })
}

export function renderDiscovery (doc: Discovery, representation: Representation): Rendered {
  switch (representation) {
    case 'xml':
      return { contentType: 'application/vnd.microsoft.rtc.autodiscover+xml; v=1; charset=utf-8', body: renderXml(doc) }
    case 'ucwa':
      return { contentType: 'application/json; charset=utf-8', body: renderHal(doc) }
    case 'ocdisc':
      return { contentType: 'application/vnd.microsoft.rtc.autodiscover+json; charset=utf-8', body: renderOcdiscJson(doc) }
  }
}
