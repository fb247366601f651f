// What `lyncproxy check` warns a Lync admin about: settings that are valid, and that the proxy will
// happily run, but that break a Lync feature in a way that is hard to trace from the client side.
// Each lint says what it found, where in the config, and why it matters. They read the compiled
// table, so they judge the bridging, rule order and redirects the data plane would apply. Only the
// reverse proxy's external listeners are judged: an internal listener is an HLB VIP, where 80/443
// to the servers' internal site is exactly right.
import type { ResolvedConfig, ResolvedRule } from '../config/defaults.js'
import { lookupHost, matchPath } from '../routing/match.js'
import { hostEntries, type Route, type RoutingTable } from '../routing/table.js'
import { upstreamTargets } from '../routing/upstream-targets.js'

export interface Lint {
  id: string
  // Where in the config, as a JSON pointer.
  path: string
  message: string
  why: string
}

// UCWA event channels and Mcx hold a GET open for up to 900 s.
const LONG_POLL_SECONDS = 900

export function lintConfig (config: ResolvedConfig, table: RoutingTable): Lint[] {
  return [
    ...bridgeToInternalSite(config, table),
    ...lyncdiscoverRedirected(config, table),
    ...simpleUrlsMissing(config, table),
    ...adminPublished(config, table),
    ...longPollTimeouts(config, table),
    ...longPollUnmarked(config, table),
    ...adminPlaneExposed(config),
    ...oldTlsProfile(config),
  ]
}

// The old profile is a deliberate choice for old clients; an audit will flag it all the same.
function oldTlsProfile (config: ResolvedConfig): Lint[] {
  return config.listeners.flatMap((l, index) => l.protocol !== 'https' || l.tlsProfile !== 'old' ? [] : [{
    id: 'tls-old-profile',
    path: `/listeners/${index}/tlsProfile`,
    message: `listener ${l.name} accepts TLS 1.0 and 1.1 and CBC suites (tlsProfile: old)`,
    why: 'only Lync Phone Edition (TLS 1.0) and Windows 7 clients (no ECDHE-RSA with GCM) need it, and a TLS audit (testssl, SSL Labs) rates it down; put those clients on a listener of their own, or drop old once they are gone',
  }])
}

function external (config: ResolvedConfig, protocol?: 'http' | 'https'): ResolvedConfig['listeners'] {
  return config.listeners.filter((l) => l.interface === 'external' && (protocol === undefined || l.protocol === protocol))
}

function ruleIndex (config: ResolvedConfig, name: string): number {
  return config.rules.findIndex((r) => r.name === name)
}

function forwardRoutes (table: RoutingTable, listener: string): Route[] {
  const routes = table.listeners.get(listener)
  if (routes === undefined) return []
  const out = new Set<Route>()
  for (const entry of hostEntries(routes)) for (const r of entry.routes) if (r.action === 'forward') out.add(r)
  return [...out]
}

// The seed: 443 on the external interface goes to the pool's 4443, and 80 to its 8080, "so that the
// pool web services can distinguish it from internal web traffic". 443/80 are the internal site.
function bridgeToInternalSite (config: ResolvedConfig, table: RoutingTable): Lint[] {
  const out: Lint[] = []
  const seen = new Set<string>()
  for (const listener of external(config)) {
    const internalPort = listener.protocol === 'https' ? 443 : 80
    const externalPort = listener.protocol === 'https' ? 4443 : 8080
    for (const route of forwardRoutes(table, listener.name)) {
      const pool = route.pool!
      const role = config.pools[pool.name]?.role
      if (role === 'owas' || role === 'other') continue
      if (!upstreamTargets(route).some((t) => t.port === internalPort)) continue
      const key = `${route.rule}|${listener.protocol}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push({
        id: listener.protocol === 'https' ? 'bridge-443-to-443' : 'bridge-80-to-80',
        path: `/rules/${ruleIndex(config, route.rule)}`,
        message: `rule ${route.rule} bridges ${listener.protocol.toUpperCase()} from listener ${listener.name} to port ${internalPort} of pool ${pool.name} (role ${role ?? 'not set'})`,
        why: `Lync's external web services listen on ${externalPort}; port ${internalPort} is the pool's internal web site. Microsoft's port summary sends traffic from the ` +
          `reverse proxy to the pool on ${externalPort} "so that the pool web services can distinguish it from internal web traffic". ` +
          `Set pools.${pool.name}.${listener.protocol === 'https' ? 'httpsPort' : 'httpPort'} (or the rule's bridge) to ${externalPort}; only Office Web Apps (role: owas) takes ${internalPort}`,
      })
    }
  }
  return out
}

// Whether the https listeners' certificates are known to cover every published name: only the lab
// certificate is, by construction. PEM and PFX files are not opened by `check`.
function labCertificatesOnly (config: ResolvedConfig): boolean {
  const https = external(config, 'https')
  return https.length > 0 && https.every((l) => (l.certificates ?? []).length > 0 && (l.certificates ?? []).every((c) => 'lab' in c))
}

function lyncdiscoverRedirected (config: ResolvedConfig, table: RoutingTable): Lint[] {
  if (labCertificatesOnly(config)) return []
  const out: Lint[] = []
  for (const listener of external(config, 'http')) {
    const routes = table.listeners.get(listener.name)
    if (routes === undefined) continue
    for (const name of table.publicNames.filter((n) => n.startsWith('lyncdiscover.'))) {
      const entry = lookupHost(routes, name)
      const route = entry === undefined ? undefined : matchPath(entry.routes, '/')
      if (route?.action !== 'redirect') continue
      out.push({
        id: 'lyncdiscover-redirected',
        path: route.implicit ? `/listeners/${config.listeners.indexOf(listener)}/redirectToHttps` : `/rules/${ruleIndex(config, route.rule)}`,
        message: `${name} is redirected to HTTPS on listener ${listener.name} (port ${listener.port})`,
        why: `Lync mobile clients start autodiscover with http://${name} (the "HTTP first hop"). A redirect to HTTPS works only if the certificate on 443 ` +
          `carries ${name} in its SANs, which check cannot see in PEM/PFX files; without it the client drops the connection. ` +
          `Either make sure the certificate names ${name}, or forward it on port 80 to the pool's 8080 with a forward rule on ${listener.name}, listed first`,
      })
    }
  }
  return out
}

// SIP domains of the topology: the lab's, and those that lyncdiscover, meet and dialin names imply.
function sipDomains (config: ResolvedConfig, table: RoutingTable): string[] {
  const domains = new Set<string>()
  if (config.lab !== undefined) domains.add(config.lab.sipDomain.toLowerCase())
  for (const n of table.publicNames) {
    const m = /^(?:lyncdiscover|meet|dialin)\.(.+)$/.exec(n)
    if (m !== null) domains.add(m[1]!)
  }
  return [...domains]
}

function httpsRouteFor (config: ResolvedConfig, table: RoutingTable, name: string, path: string): { listener: string, route: Route } | undefined {
  for (const listener of external(config, 'https')) {
    const routes = table.listeners.get(listener.name)
    const entry = routes === undefined ? undefined : lookupHost(routes, name)
    const route = entry === undefined ? undefined : matchPath(entry.routes, path)
    if (route !== undefined) return { listener: listener.name, route }
  }
  return undefined
}

function simpleUrlsMissing (config: ResolvedConfig, table: RoutingTable): Lint[] {
  const out: Lint[] = []
  for (const domain of sipDomains(config, table)) {
    for (const url of ['meet', 'dialin']) {
      const name = `${url}.${domain}`
      const found = httpsRouteFor(config, table, name, '/')
      if (found?.route.action === 'forward') continue
      out.push({
        id: 'simple-url-missing',
        path: '/rules',
        message: found === undefined
          ? `${name} is not published on an https listener, so no certificate of this proxy serves it`
          : `${name} reaches rule ${found.route.rule} (${found.route.action}) on ${found.listener} instead of a pool`,
        why: `${url === 'meet' ? 'Meeting join links' : 'The dial-in conferencing page'} (https://${name}) must be published on 443 to the Director or Front End pool ` +
          `and be a name of the certificate there (the port summary's 443 row: meeting content and dial-in conferencing). Add ${name} to a forward rule's publicNames and to the certificate's SANs`,
      })
    }
  }
  return out
}

function adminPublished (config: ResolvedConfig, table: RoutingTable): Lint[] {
  const out: Lint[] = []
  for (const domain of sipDomains(config, table)) {
    const name = `admin.${domain}`
    for (const listener of external(config)) {
      const routes = table.listeners.get(listener.name)
      const entry = routes === undefined ? undefined : lookupHost(routes, name)
      const route = entry === undefined ? undefined : matchPath(entry.routes, '/')
      if (route?.action !== 'forward') continue
      out.push({
        id: 'admin-published',
        path: `/rules/${ruleIndex(config, route.rule)}`,
        message: `${name} is forwarded by rule ${route.rule} on listener ${listener.name}`,
        why: `admin.${domain} is the Lync Server Control Panel simple URL, for internal use only: publishing it offers the admin ` +
          'console to the Internet. Remove it from publicNames (and narrow any wildcard), or refuse it with a deny rule listed first',
      })
    }
  }
  return out
}

interface LongPollCarrier {
  index: number
  rule: ResolvedRule
  // What shows that it carries them, for the message.
  detail: string
}

// The forward rules that carry UCWA event channels and Mcx from outside: those that name the paths,
// and the one serving /ucwa or /mcx of a Front End pool's external web services name.
function longPollCarriers (config: ResolvedConfig, table: RoutingTable): LongPollCarrier[] {
  const details = new Map<string, string>()
  const externalNames = new Set(external(config).map((l) => l.name))
  for (const rule of config.rules) {
    if (rule.action !== 'forward' || !rule.listeners.some((l) => externalNames.has(l))) continue
    const longPoll = rule.paths.filter((p) => /^\/(ucwa|mcx)(\/|$)/i.test(p))
    if (longPoll.length > 0) details.set(rule.name, `carries ${longPoll.join(', ')}`)
  }
  // A Front End pool's external web services name also carries them when no dedicated rule exists.
  for (const pool of Object.values(config.pools)) {
    if (pool.role !== 'frontend' || pool.externalWebFqdn === undefined) continue
    for (const path of ['/ucwa/', '/mcx/']) {
      const found = httpsRouteFor(config, table, pool.externalWebFqdn, path)
      if (found === undefined || found.route.action !== 'forward' || details.has(found.route.rule)) continue
      details.set(found.route.rule, `carries ${pool.externalWebFqdn}${path.slice(0, -1)}`)
    }
  }
  return [...details].map(([name, detail]) => {
    const index = ruleIndex(config, name)
    return { index, rule: config.rules[index]!, detail }
  })
}

function longPollTimeouts (config: ResolvedConfig, table: RoutingTable): Lint[] {
  return longPollCarriers(config, table).filter(({ rule }) => rule.timeouts.response < LONG_POLL_SECONDS).map(({ index, rule, detail }) => ({
    id: 'long-poll-timeout',
    path: `/rules/${index}/timeouts/response`,
    message: `rule ${rule.name} ${detail} with a response timeout of ${rule.timeouts.response} s`,
    why: `UCWA event channels and Mcx hold a GET open for up to ${LONG_POLL_SECONDS} s; a shorter timeout cuts them with a 504 and the client ` +
      'reconnects and may sign out. Set timeouts.response to 960 (Microsoft\'s value for ARR) on the rule that carries /ucwa and /mcx',
  }))
}

function longPollUnmarked (config: ResolvedConfig, table: RoutingTable): Lint[] {
  const out: Lint[] = []
  for (const { index, rule, detail } of longPollCarriers(config, table)) {
    if (rule.longPoll || rule.action !== 'forward') continue
    const maxSockets = config.pools[rule.pool]?.maxSockets ?? 0
    out.push({
      id: 'long-poll-unmarked',
      path: `/rules/${index}`,
      message: `rule ${rule.name} ${detail} but is not marked longPoll: true`,
      why: 'every signed-in UCWA or mobile client keeps one event-channel GET waiting on the pool, each on its own upstream connection. ' +
        `Unmarked, those polls share the ${maxSockets} connections per server of pools.${rule.pool}.maxSockets with all other requests, ` +
        `and past ${maxSockets} clients every other request to pool ${rule.pool} waits behind them and ends in 503. ` +
        'Set longPoll: true on the rule that carries /ucwa and /mcx; give everything else a rule of its own',
    })
  }
  return out
}

const LOOPBACK = /^(127\.|::1$|localhost$)/

function adminPlaneExposed (config: ResolvedConfig): Lint[] {
  const admin = config.admin
  if (!admin.enabled || LOOPBACK.test(admin.address) || admin.tokenEnv !== undefined || admin.tokenFile !== undefined) return []
  return [{
    id: 'admin-exposed',
    path: '/admin/address',
    message: `the admin plane listens on ${admin.address}:${admin.port} without a token`,
    why: 'it shows request headers and the running configuration and can reload it; bind it to 127.0.0.1, or set admin.tokenEnv or admin.tokenFile',
  }]
}
