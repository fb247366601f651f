// The autodiscover resources (MS-OCDISCWS Root, User, Domain, and the Redirect answer) with the links
// a Lync 2013 pool hands out. The root links to the answering pool's own user resource (a Director's
// to the Director); every service link points at the Front End pool's web services, where users are
// homed.
import { XFRAME } from '../rewrite.js'
import { accessLocation, sipAccessOf, webFqdn } from '../topology.js'
import type { LabTopology, SiteKind, WebPool } from '../types.js'
import type { Discovery, SipAccessEntry } from './document.js'

export const SERVICE = '/Autodiscover/AutodiscoverService.svc'

function https (fqdn: string, path: string): string {
  return `https://${fqdn}${path}`
}

export function rootDiscovery (own: WebPool, kind: SiteKind, sipDomain: string): Discovery {
  const host = webFqdn(own, kind)
  const original = `?originalDomain=${encodeURIComponent(sipDomain)}`
  return {
    accessLocation: accessLocation(kind),
    element: 'Root',
    links: [
      { token: 'Domain', href: https(host, `${SERVICE}/root/domain`) },
      { token: 'User', href: https(host, `${SERVICE}/root/user`) },
      { token: 'OAuth', href: https(host, `${SERVICE}/root/oauth/user`) },
    ],
    hal: {
      self: https(host, `${SERVICE}/root${original}`),
      user: https(host, `${SERVICE}/root/oauth/user${original}`),
      xframe: https(host, XFRAME),
    },
  }
}

// MS-OCDISCWS answers "go elsewhere" with 200 and a single Redirect link, never with a 3xx, because
// clients treat a cross-domain 3xx as a failed attempt.
export function redirectDiscovery (element: Discovery['element'], kind: SiteKind, href: string): Discovery {
  return { accessLocation: accessLocation(kind), element, links: [{ token: 'Redirect', href }], hal: { redirect: href } }
}

export function rootUrl (fe: WebPool, kind: SiteKind, query = ''): string {
  return https(webFqdn(fe, kind), `${SERVICE}/root${query}`)
}

// Both Internal/ and External/ variants are listed whatever the access location, as Lync does; the
// unprefixed Ucwa and XFrame are external because the Mobility URL is always the external one.
function serviceLinks (fe: WebPool): Discovery['links'] {
  const pairs: Array<[string, string]> = [
    ['Autodiscover', `${SERVICE}/root`],
    ['AuthBroker', '/Reach/sip.svc'],
    ['WebScheduler', '/Scheduler'],
    ['Mcx', '/Mcx/McxService.svc'],
    ['Ucwa', '/ucwa/oauth/v1/applications'],
    ['XFrame', XFRAME],
  ]
  const links: Discovery['links'] = []
  for (const [token, path] of pairs) {
    links.push({ token: `Internal/${token}`, href: https(fe.internalFqdn, path) })
    links.push({ token: `External/${token}`, href: https(fe.externalFqdn, path) })
  }
  links.push({ token: 'Ucwa', href: https(fe.externalFqdn, '/ucwa/oauth/v1/applications') })
  links.push({ token: 'XFrame', href: https(fe.externalFqdn, XFRAME) })
  return links
}

// Where the user's client registers, inside and outside, as "Understanding Autodiscover in Lync
// Server 2013" shows the User document: both pairs whatever the access location, the client picks.
// Servers reach the pool on 5061 from inside, and the Edge's access service on 5061 from outside;
// clients use the configured locations (SIPE reads SipClientInternalAccess and
// SipClientExternalAccess, by the document's AccessLocation).
function sipAccessEntries (topology: LabTopology): SipAccessEntry[] {
  const { internal, external } = sipAccessOf(topology)
  return [
    { element: 'SipServerInternalAccess', fqdn: topology.frontEnd.internalFqdn, port: 5061 },
    { element: 'SipClientInternalAccess', ...internal },
    { element: 'SipServerExternalAccess', fqdn: external.fqdn, port: 5061 },
    { element: 'SipClientExternalAccess', ...external },
  ]
}

export function userDiscovery (topology: LabTopology, kind: SiteKind, selfPath: string): Discovery {
  const fe = topology.frontEnd
  const host = webFqdn(fe, kind)
  return {
    accessLocation: accessLocation(kind),
    element: 'User',
    sipAccess: sipAccessEntries(topology),
    links: [...serviceLinks(fe), { token: 'Self', href: https(host, selfPath) }],
    hal: {
      self: https(host, selfPath),
      applications: https(host, '/ucwa/oauth/v1/applications'),
      xframe: https(host, XFRAME),
    },
  }
}

export function domainDiscovery (fe: WebPool, kind: SiteKind): Discovery {
  const host = webFqdn(fe, kind)
  return {
    accessLocation: accessLocation(kind),
    element: 'Domain',
    links: [...serviceLinks(fe), { token: 'Self', href: https(host, `${SERVICE}/root/domain`) }],
    hal: { self: https(host, `${SERVICE}/root/domain`), xframe: https(host, XFRAME) },
  }
}
