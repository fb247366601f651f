// The compiled routing table: what the data plane reads. Built from a config by compile.ts, never
// mutated afterwards; a reload swaps the whole table. Also the one rule for the port a route bridges
// to (upstreamPort), since bridging is the route's decision.
import type { BlockList } from 'node:net'
import type { Member } from '../upstream/member.js'
import type { UpstreamPool } from '../upstream/pool.js'

export type RuleAction = 'forward' | 'redirect' | 'deny'

export interface Timeouts {
  connectMs: number
  responseMs: number
  // How long a request may wait for one of a member's maxSockets connections (upstream/waiting-requests.ts):
  // twice the connect timeout, since the wait also covers opening a new connection, and undici's own
  // connect timeout must fire first for a member that does not answer.
  queueMs: number
}

// A publishing rule as seen from one listener. Forward routes carry their bridged upstream port.
export interface Route {
  readonly rule: string
  // Position of the rule in the config (0-based); implicit routes get -1.
  readonly ruleIndex: number
  readonly action: RuleAction
  readonly prefixes: readonly string[]
  readonly pool: UpstreamPool | undefined
  readonly upstreamTls: boolean
  // A rule's bridging override; 0 means the member's own port for the scheme (httpsPort on 443,
  // httpPort on 80), which is TMG's bridging.
  readonly bridgePort: number
  readonly timeouts: Timeouts
  // The rule carries long polls: upstream connections outside the pool's maxSockets cap.
  readonly longPoll: boolean
  // Faults to inject on this rule's forwarded requests (rules.<name>.fault); undefined for almost
  // every rule, so the request path pays one comparison.
  readonly fault: InjectedFault | undefined
  // The Host to send instead of the client's (rules.<name>.preserveHost: false); undefined keeps it.
  readonly upstreamHost: string | undefined
  // Whether NTLM/Negotiate ties the client connection to one pool connection (rules.<name>.pinConnectionAuth).
  readonly pinConnectionAuth: boolean
  readonly redirectStatus: number
  // Request bodies above this many bytes are refused with 413.
  readonly maxBodyBytes: number
  // Body bytes received before an upstream connection is taken (0: stream at once).
  readonly requestBufferBytes: number
  // The Strict-Transport-Security value for this rule's HTTPS responses; '' for none.
  readonly hsts: string
  // For redirects: the https port clients are sent to, '' when it is the default 443.
  readonly redirectPortSuffix: string
  // True for routes the compiler added (the port-80 redirect of names no http rule forwards).
  readonly implicit: boolean
}

// The port a forward route reaches a member on: the rule's bridging override, else the member's own
// port for the scheme the route speaks upstream. The forward engines, the upgrade path and explain
// all ask here, so what explain shows is where requests go.
export function upstreamPort (route: Route, member: Member): number {
  if (route.bridgePort === 0) return route.upstreamTls ? member.httpsPort : member.httpPort
  return member.portMap.get(route.bridgePort) ?? route.bridgePort
}

export interface InjectedFault {
  // 0 to 100.
  readonly percent: number
  readonly delayMs: number
  // 0: no abort.
  readonly abortStatus: number
  readonly reset: boolean
  readonly stall: boolean
  // -1: no truncation.
  readonly truncateAfter: number
  // 0: no cut.
  readonly cutAfterMs: number
}

export interface ListenerRoutes {
  readonly name: string
  readonly protocol: 'http' | 'https'
  // Exact public names (normalized) → the routes that publish them, in rule order.
  readonly hosts: ReadonlyMap<string, HostEntry>
  // Wildcard public names, keyed by the parent domain ('*.contoso.com' → 'contoso.com').
  readonly wildcards: ReadonlyMap<string, HostEntry>
  // Rules published for `*`: any Host, as a load balancer VIP takes it.
  readonly anyHost: HostEntry | undefined
}

export interface HostEntry {
  // The published name, normalized; safe to put in a redirect.
  readonly name: string
  readonly routes: readonly Route[]
}

export interface RoutingTable {
  readonly generation: number
  readonly listeners: ReadonlyMap<string, ListenerRoutes>
  readonly pools: ReadonlyMap<string, UpstreamPool>
  // Layer-4 frontends by name: each gets its own copy of its pool's members, because a member's
  // health on 5061 says nothing about its health on 4443.
  readonly tcpPools: ReadonlyMap<string, UpstreamPool>
  // Every published name, for certificates, lints and the port tables.
  readonly publicNames: readonly string[]
  // How request fields are treated where the config lets the operator choose (defaults.*): a name
  // with `_` (undefined: refused), and the proxies whose X-Forwarded-For is kept.
  readonly forwarding: ForwardingChoices
}

export interface ForwardingChoices {
  readonly underscoreHeaders: 'drop' | 'forward' | undefined
  readonly trustedProxies: BlockList | undefined
}

// Exact names, wildcards and the any-Host entry of a listener.
export function hostEntries (routes: ListenerRoutes): HostEntry[] {
  const out = [...routes.hosts.values(), ...routes.wildcards.values()]
  if (routes.anyHost !== undefined) out.push(routes.anyHost)
  return out
}
