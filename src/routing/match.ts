// Request → route. Map lookups and a short prefix scan; nothing is built per request except for
// wildcard and any-Host ('*') names, whose matched name comes from the client.
import { hasPathPrefix, normalizeHost, parentDomain } from '../config/name-match.js'
import type { HostEntry, ListenerRoutes, Route } from './table.js'

export function lookupHost (listener: ListenerRoutes, rawHost: string): HostEntry | undefined {
  const exact = listener.hosts.get(rawHost)
  if (exact !== undefined) return exact
  const name = normalizeHost(rawHost)
  if (name === '') return undefined
  const entry = listener.hosts.get(name)
  if (entry !== undefined) return entry
  const wildcard = listener.wildcards.size === 0 ? undefined : listener.wildcards.get(parentDomain(name))
  // normalizeHost allows '_' for lookups; a name put into a redirect must be a plain DNS name. A
  // wildcard covers one label, and '.lab.contoso.com' has an empty one where that label should be.
  if (wildcard !== undefined && !name.includes('_') && name.charCodeAt(0) !== 46 /* . */) return { name, routes: wildcard.routes }
  // '*' publishes the name the client asked for, as a wildcard does: a redirect and the SNI check
  // need that name, and an empty one makes the Location 'https:///path', which browsers read as
  // a redirect to the host named by the path's first segment.
  const any = listener.anyHost
  return any === undefined ? undefined : { name, routes: any.routes }
}

// First rule in config order whose path prefixes match; rules for one host are already in order.
export function matchPath (routes: readonly Route[], target: string): Route | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!
    const prefixes = route.prefixes
    for (let j = 0; j < prefixes.length; j++) {
      if (hasPathPrefix(target, prefixes[j]!)) return route
    }
  }
  return undefined
}
