// Config → routing table. Everything the data plane will ask is decided here, once: which names each
// listener publishes, the rules for each name in order, the bridged upstream port, the timeouts in
// milliseconds, the redirect target port. Upstream pools (and their agents) are built here too.
import fs from 'node:fs'
import { BlockList, isIPv6 } from 'node:net'
import path from 'node:path'
import type { ResolvedConfig, ResolvedListener, ResolvedPool, ResolvedRule } from '../config/defaults.js'
import { LyncProxyError } from '../errors.js'
import type { ProxyCounters } from '../upstream/proxy-counters.js'
import { UpstreamPool } from '../upstream/pool.js'
import type { ForwardingChoices, HostEntry, InjectedFault, ListenerRoutes, Route, RoutingTable, Timeouts } from './table.js'

export interface CompileContext {
  baseDir: string
  // The lab CA, for pools whose tls.ca lists 'lab'.
  labCaPem?: string
  generation: number
  // Ports actually bound, by listener name, when they differ from the config (port 0 in tests).
  boundPorts?: ReadonlyMap<string, number>
  // The running proxy's counters, shared by every pool it compiles; omitted outside a running proxy.
  counters?: ProxyCounters
}

export const IMPLICIT_REDIRECT_RULE = '(redirect to https)'

export function compileTable (config: ResolvedConfig, ctx: CompileContext): RoutingTable {
  const pools = new Map<string, UpstreamPool>()
  for (const [name, pool] of Object.entries(config.pools)) pools.set(name, buildPool(name, pool, ctx))
  const tcpPools = new Map<string, UpstreamPool>()
  for (const frontend of config.tcp) {
    const pool = config.pools[frontend.pool]
    if (pool !== undefined) tcpPools.set(frontend.name, buildPool(frontend.pool, pool, ctx))
  }
  const { listeners, publicNames } = compileListeners(config, pools, ctx.boundPorts)
  return { generation: ctx.generation, listeners, pools, tcpPools, publicNames, forwarding: forwardingChoices(config) }
}

function forwardingChoices (config: ResolvedConfig): ForwardingChoices {
  const { underscoreHeaders, trustedProxies } = config.defaults
  let trusted: BlockList | undefined
  if (trustedProxies.length > 0) {
    trusted = new BlockList()
    for (const entry of trustedProxies) {
      const [address, bits] = entry.split('/') as [string, string | undefined]
      const family = isIPv6(address) ? 'ipv6' : 'ipv4'
      if (bits === undefined) trusted.addAddress(address, family)
      else trusted.addSubnet(address, Number(bits), family)
    }
  }
  return { underscoreHeaders: underscoreHeaders === 'refuse' ? undefined : underscoreHeaders, trustedProxies: trusted }
}

// The same table with its redirects naming the ports actually bound (port 0): the listeners' routes
// are derived again over the pools already built, which stay the same objects. Nothing here reads a
// file or can fail that compileTable did not already pass.
export function withBoundPorts (table: RoutingTable, config: ResolvedConfig, boundPorts: ReadonlyMap<string, number>): RoutingTable {
  const { listeners } = compileListeners(config, table.pools, boundPorts)
  return { ...table, listeners }
}

function compileListeners (config: ResolvedConfig, pools: ReadonlyMap<string, UpstreamPool>, boundPorts: ReadonlyMap<string, number> | undefined): Pick<RoutingTable, 'listeners' | 'publicNames'> {
  const publicNames = new Set<string>()
  for (const rule of config.rules) for (const n of rule.publicNames) if (n !== '*') publicNames.add(publicNameKey(n))

  const listeners = new Map<string, ListenerRoutes>()
  for (const listener of config.listeners) {
    const hosts = new Map<string, Route[]>()
    const https = httpsListenerFor(config, listener)
    const redirectPort = https === undefined ? 443 : (https.publicPort ?? boundPorts?.get(https.name) ?? https.port)
    config.rules.forEach((rule, index) => {
      if (!rule.listeners.includes(listener.name)) return
      const route = buildRoute(rule, index, listener, pools, redirectPort)
      for (const n of rule.publicNames) appendRoute(hosts, publicNameKey(n), route)
    })
    if (listener.protocol === 'http' && listener.redirectToHttps) {
      if (https !== undefined) {
        const redirect = implicitRedirect(config, redirectPort)
        for (const name of publicNames) appendRoute(hosts, name, redirect)
      }
    }
    listeners.set(listener.name, splitWildcards(listener, hosts))
  }
  return { listeners, publicNames: [...publicNames] }
}

// Lower case, no trailing dot: the form normalizeHost produces from a Host header.
export function publicNameKey (name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function buildPool (name: string, pool: ResolvedPool, ctx: CompileContext): UpstreamPool {
  const ca: string[] = []
  for (const file of pool.tls.ca) {
    if (file === 'lab') {
      if (ctx.labCaPem === undefined) {
        throw new LyncProxyError('LRP_ERR_CERT_LOAD', `pool ${name} trusts the lab CA, but no lab CA was created`, {
          location: { path: `/pools/${name}/tls/ca` },
          fix: 'run `lyncproxy lab`, or `lyncproxy certs` to create the lab CA, or list the internal CA\'s PEM file in tls.ca',
        })
      }
      ca.push(ctx.labCaPem)
      continue
    }
    const file2 = path.resolve(ctx.baseDir, file)
    try {
      ca.push(fs.readFileSync(file2, 'utf8'))
    } catch (err) {
      throw new LyncProxyError('LRP_ERR_CERT_LOAD', `cannot read the CA file ${file2} of pool ${name}: ${(err as Error).message}`, {
        location: { path: `/pools/${name}/tls/ca` },
        fix: 'export the internal CA certificate (Base-64 .cer / PEM) to that path, or correct the path',
        cause: err,
      })
    }
  }
  return new UpstreamPool({
    name,
    kind: pool.kind,
    fqdn: pool.fqdn,
    address: pool.address,
    httpPort: pool.httpPort,
    httpsPort: pool.httpsPort,
    members: pool.members,
    balance: pool.balance,
    affinity: pool.affinity,
    passive: { failures: pool.passive.failures, backoffMs: pool.passive.backoff * 1000 },
    ca: ca.length > 0 ? ca : undefined,
    verify: pool.tls.verify,
    servername: pool.tls.servername,
    maxSockets: pool.maxSockets,
    ...(ctx.counters === undefined ? {} : { counters: ctx.counters }),
  })
}

function compileFault (fault: ResolvedRule['fault']): InjectedFault | undefined {
  if (fault === undefined) return undefined
  return Object.freeze({
    percent: fault.percent ?? 100,
    delayMs: Math.round((fault.delay ?? 0) * 1000),
    abortStatus: fault.abort ?? 0,
    reset: fault.reset === true,
    stall: fault.stall === true,
    truncateAfter: fault.truncateAfter ?? -1,
    cutAfterMs: Math.round((fault.cutAfter ?? 0) * 1000),
  })
}

function buildRoute (rule: ResolvedRule, index: number, listener: ResolvedListener, pools: ReadonlyMap<string, UpstreamPool>, redirectPort: number): Route {
  const pool = rule.pool === undefined ? undefined : pools.get(rule.pool)
  const tls = listener.protocol === 'https'
  // Bridging as TMG does it: a request that came in on HTTPS goes to the member's HTTPS port (4443),
  // one that came in on HTTP to its HTTP port (8080), unless the rule names another port.
  const bridge = tls ? rule.bridge?.https : rule.bridge?.http
  // TLS offload sends an HTTPS request on in the clear, to the member's HTTP port by default.
  const upstreamTls = tls && rule.bridge?.offloadTls !== true
  return Object.freeze({
    rule: rule.name,
    ruleIndex: index,
    action: rule.action,
    prefixes: Object.freeze(rule.paths.map((p) => p.toLowerCase())),
    pool,
    upstreamTls,
    bridgePort: bridge ?? 0,
    timeouts: compileTimeouts(rule.timeouts),
    longPoll: rule.longPoll,
    fault: compileFault(rule.fault),
    upstreamHost: rule.preserveHost === false && pool !== undefined ? pool.fqdn : undefined,
    pinConnectionAuth: rule.pinConnectionAuth !== false,
    redirectStatus: rule.redirectStatus,
    maxBodyBytes: rule.maxBodyBytes,
    requestBufferBytes: rule.requestBufferBytes,
    hsts: tls && rule.hstsMaxAge !== undefined ? `max-age=${rule.hstsMaxAge}` : '',
    redirectPortSuffix: portSuffix(redirectPort),
    implicit: false,
  })
}

// The https listener that redirects land on: the one on the same address, else the first.
function httpsListenerFor (config: ResolvedConfig, from: ResolvedListener): ResolvedListener | undefined {
  const https = config.listeners.filter((l) => l.protocol === 'https')
  return https.find((l) => l.address === from.address) ?? https[0]
}

function compileTimeouts (t: { connect: number, response: number }): Timeouts {
  return Object.freeze({ connectMs: t.connect * 1000, responseMs: t.response * 1000, queueMs: 2 * t.connect * 1000 })
}

function portSuffix (port: number): string {
  return port === 443 ? '' : ':' + port
}

function implicitRedirect (config: ResolvedConfig, port: number): Route {
  return Object.freeze({
    rule: IMPLICIT_REDIRECT_RULE,
    ruleIndex: -1,
    action: 'redirect',
    prefixes: Object.freeze(['/']),
    pool: undefined,
    upstreamTls: false,
    bridgePort: 0,
    timeouts: compileTimeouts(config.defaults.timeouts),
    longPoll: false,
    fault: undefined,
    upstreamHost: undefined,
    pinConnectionAuth: true,
    redirectStatus: 301,
    maxBodyBytes: 0,
    requestBufferBytes: 0,
    hsts: '',
    redirectPortSuffix: portSuffix(port),
    implicit: true,
  })
}

function appendRoute (hosts: Map<string, Route[]>, name: string, route: Route): void {
  const list = hosts.get(name)
  if (list === undefined) hosts.set(name, [route])
  else if (!list.includes(route)) list.push(route)
}

function splitWildcards (listener: ResolvedListener, all: Map<string, Route[]>): ListenerRoutes {
  const hosts = new Map<string, HostEntry>()
  const wildcards = new Map<string, HostEntry>()
  let anyHost: HostEntry | undefined
  for (const [name, routes] of all) {
    const frozen = Object.freeze(routes)
    if (name === '*') {
      anyHost = Object.freeze({ name: '', routes: frozen })
    } else if (name.startsWith('*.')) {
      const parent = name.slice(2)
      wildcards.set(parent, Object.freeze({ name: parent, routes: frozen }))
    } else {
      hosts.set(name, Object.freeze({ name, routes: frozen }))
    }
  }
  // An exact name also answers to the rules of a wildcard that covers it, after its own rules.
  for (const [name, entry] of hosts) {
    const dot = name.indexOf('.')
    const wildcard = dot < 0 ? undefined : wildcards.get(name.slice(dot + 1))
    if (wildcard === undefined) continue
    const merged = [...entry.routes, ...wildcard.routes.filter((r) => !entry.routes.includes(r))].sort(byConfigOrder)
    hosts.set(name, Object.freeze({ name, routes: Object.freeze(merged) }))
  }
  return { name: listener.name, protocol: listener.protocol, hosts, wildcards, anyHost }
}

// Rules in config order; the implicit port-80 redirect always comes last.
function byConfigOrder (a: Route, b: Route): number {
  const ai = a.implicit ? Number.MAX_SAFE_INTEGER : a.ruleIndex
  const bi = b.implicit ? Number.MAX_SAFE_INTEGER : b.ruleIndex
  return ai - bi
}
