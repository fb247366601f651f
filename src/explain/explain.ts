// "Where would this request go?" answered by the data plane's own code: the edge guard and routing
// decision (resolveRoute), the header policy (buildUpstreamHeaders) and the local answers
// (sendRedirect, sendFailure) run on a request that never touches a socket. This module only adds
// the reasons why each rule did or did not match; what each header change is for is the header
// policy's own word (forward/header-policy.ts).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedConfig, ResolvedListener } from '../config/defaults.js'
import { DEFAULT_HEADER_COUNT_LIMIT, DEFAULT_TARGET_LENGTH_LIMIT } from '../control/proxy.js'
import type { ListenerState } from '../edge/listener-state.js'
import { isRefusal, prepareForward } from '../edge/prepare-forward.js'
import { isFailure, resolveRoute } from '../edge/resolve.js'
import { Exchange, ExchangeBus } from '../observe/exchange.js'
import { requestChanges } from '../forward/header-changes.js'
import type { Failure } from '../respond/failure.js'
import { EdgeFailures } from '../respond/failure.js'
import { sendFailure, sendRedirect } from '../respond/local-response.js'
import { hasPathPrefix } from '../config/name-match.js'
import { lookupHost } from '../routing/match.js'
import type { Route, RoutingTable } from '../routing/table.js'
import { portTables, rowsCrossed } from '../ports/ports.js'
import { upstreamTargets } from '../routing/upstream-targets.js'
import type { ExplainResult, RuleTrace } from './explain-schema.js'

export interface ExplainRequest {
  url: string
  // 'http', 'https' or a listener name; by default the URL's scheme.
  listener?: string
  // The client address the upstream would see in X-Forwarded-For.
  client?: string
  method?: string
  // Extra request header fields, to see what the policy does with them.
  headers?: ReadonlyArray<readonly [string, string]>
}

export interface ExplainContext {
  config: ResolvedConfig
  table: RoutingTable
  // Ports actually bound, when they differ from the config.
  boundPorts?: ReadonlyMap<string, number>
}

// The result's shape is a schema (explain-schema.ts) shared with the admin API; the types are derived from it.
export type { ExplainResult, HeaderChange, HeaderReplacement, RuleTrace, RuleVerdict } from './explain-schema.js'

export class ExplainError extends Error {
  override readonly name = 'ExplainError'
}

// What the forwarded Via names. The running proxy adds a random suffix per process, so that its own
// requests are recognised if they come back.
const VIA_PLACEHOLDER = 'lyncproxy-xxxxxx'
const DEFAULT_CLIENT = '192.0.2.10'

export function explainRequest (input: ExplainRequest, ctx: ExplainContext): ExplainResult {
  const parsed = parseUrl(input.url, input.listener)
  const listener = chooseListener(ctx.config, input.listener, parsed.scheme)
  const routes = ctx.table.listeners.get(listener.name)
  const method = (input.method ?? 'GET').toUpperCase()
  const client = input.client ?? DEFAULT_CLIENT

  const raw: string[] = []
  const extra = input.headers ?? []
  if (!extra.some(([n]) => n.toLowerCase() === 'host')) raw.push('Host', parsed.authority)
  for (const [n, v] of extra) raw.push(n, v)

  const ex = new Exchange(listener.name, client, method)
  const state: ListenerState = {
    name: listener.name,
    protocol: listener.protocol,
    tables: { current: ctx.table },
    // Certificates are not consulted: explain answers for a client whose SNI matches its Host.
    coverage: undefined,
    via: VIA_PLACEHOLDER,
    bus: new ExchangeBus(),
    limits: { maxHeaderCount: DEFAULT_HEADER_COUNT_LIMIT, maxTargetLength: DEFAULT_TARGET_LENGTH_LIMIT },
    tunnels: new Set(),
  }
  const req = { httpVersionMajor: 1, httpVersionMinor: 1, rawHeaders: raw, url: parsed.target, method, headers: {}, socket: {} } as unknown as IncomingMessage
  const decision = resolveRoute(state, req, ex)

  const entry = routes === undefined || ex.host === '' ? undefined : lookupHost(routes, ex.host)
  const winner = isFailure(decision) ? undefined : decision
  const trace = traceRules(ctx.config, listener.name, entry?.routes ?? [], ex.target, parsed.host, winner)
  const port = ctx.boundPorts?.get(listener.name) ?? listener.port

  const result: ExplainResult = {
    url: input.url,
    method,
    listener: { name: listener.name, protocol: listener.protocol, address: listener.address, port },
    host: ex.host,
    path: ex.target,
    publicName: ex.publicName === '' ? null : ex.publicName,
    rules: trace,
    outcome: { action: 'refused', rule: null, status: 0, code: null, reason: '' },
    redirect: null,
    upstream: null,
    headers: null,
    timeouts: {
      connectSeconds: null,
      responseSeconds: null,
      clientIdleSeconds: ctx.config.defaults.clientIdleTimeout,
      requestHeadersSeconds: ctx.config.defaults.headersTimeout,
    },
    seedRows: [],
  }

  if (isFailure(decision)) {
    refuse(result, decision, undefined)
  } else if (decision.action === 'deny') {
    refuse(result, EdgeFailures.denied, decision)
    result.outcome.action = 'deny'
  } else if (decision.action === 'redirect') {
    const answer = localAnswer((res) => sendRedirect(res, decision, ex.publicName, ex.target))
    const location = headerValue(answer.headers, 'location')
    result.outcome = { action: 'redirect', rule: decision.rule, status: answer.status, code: null, reason: decision.implicit ? 'no http rule forwards this name: the listener redirects it to HTTPS' : `rule ${decision.rule} redirects` }
    result.redirect = { status: answer.status, location }
  } else {
    forward(result, decision, raw, { client, proto: listener.protocol, host: ex.host }, ctx)
  }

  const tables = portTables({ config: ctx.config, table: ctx.table, ...(ctx.boundPorts === undefined ? {} : { boundPorts: ctx.boundPorts }) })
  const forwarded = result.outcome.action === 'forward' ? result.outcome.rule ?? undefined : undefined
  result.seedRows = rowsCrossed(tables, listener.name, forwarded).map(({ table, row }) => ({
    table: table.title, protocol: row.protocol, source: row.source, destination: row.destination, description: row.description, served: row.served,
  }))
  return result
}

// The edge handler's own checks (prepareForward), so explain predicts what the proxy does.
function forward (result: ExplainResult, route: Route, raw: string[], hctx: { client: string, proto: 'http' | 'https', host: string }, ctx: ExplainContext): void {
  const expectContinue = raw.some((v, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'expect' && v.toLowerCase() === '100-continue')
  const built = prepareForward(route, raw, { ...hctx, via: VIA_PLACEHOLDER, expectContinue }, ctx.table.forwarding)
  if (isRefusal(built)) { refuse(result, built, route); return }
  const pool = route.pool!
  const scheme = route.upstreamTls ? 'https' : 'http'
  result.outcome = { action: 'forward', rule: route.rule, status: 0, code: null, reason: `rule ${route.rule} forwards to pool ${pool.name}` }
  result.upstream = {
    pool: pool.name,
    role: ctx.config.pools[pool.name]?.role ?? null,
    fqdn: pool.fqdn,
    scheme,
    targets: upstreamTargets(route).map((t) => ({
      member: t.member.name,
      address: t.member.address,
      port: t.port,
      url: `${scheme}://${t.member.address.includes(':') ? `[${t.member.address}]` : t.member.address}:${t.port}${result.path}`,
    })),
    servername: route.upstreamTls ? pool.servername : null,
    verifyTls: route.upstreamTls && pool.verify,
  }
  result.headers = headerChanges(raw, built.headers)
  result.timeouts.connectSeconds = route.timeouts.connectMs / 1000
  result.timeouts.responseSeconds = route.timeouts.responseMs / 1000
}

function refuse (result: ExplainResult, failure: Failure, route: Route | undefined): void {
  const answer = localAnswer((res) => sendFailure(res, failure, route))
  result.outcome = { action: 'refused', rule: route?.rule ?? null, status: answer.status, code: failure.code, reason: failure.reason }
}

// sendRedirect and sendFailure write to a response; this one records what they wrote.
function localAnswer (write: (res: ServerResponse) => void): { status: number, headers: string[], body: string } {
  const answer = { status: 0, headers: [] as string[], body: '' }
  const recorder = {
    writeHead (status: number, headers: string[]) { answer.status = status; answer.headers = headers; return recorder },
    end (body?: string) { answer.body = body ?? ''; return recorder },
  }
  write(recorder as unknown as ServerResponse)
  return answer
}

function headerValue (raw: readonly string[], name: string): string {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1]!
  return ''
}

interface ParsedUrl { scheme: 'http' | 'https', authority: string, host: string, target: string }

// The URL split as a client would put it on the wire: authority into Host, the rest as the request
// target, byte for byte, so that the proxy's own target normalization is what gets explained.
function parseUrl (url: string, listenerHint: string | undefined): ParsedUrl {
  const trimmed = url.trim()
  let text = trimmed
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
    if (text.startsWith('/')) throw new ExplainError(`'${url}' has no host: give a full URL such as https://webext.contoso.com${text}`)
    text = (listenerHint === 'http' ? 'http' : 'https') + '://' + text
  }
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(text)
  if (m === null) throw new ExplainError(`'${url}' is not a URL`)
  const scheme = m[1]!.toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') throw new ExplainError(`'${url}' uses ${scheme}: a reverse proxy for Lync serves http and https only`)
  const authority = m[2]!
  if (authority === '' || authority.includes('@')) throw new ExplainError(`'${url}' has no usable host`)
  const rest = m[3]!
  const target = rest === '' ? '/' : rest.startsWith('?') ? '/' + rest : rest
  const host = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : authority.replace(/:\d*$/, '')
  return { scheme, authority, host: host.toLowerCase(), target }
}

function chooseListener (config: ResolvedConfig, hint: string | undefined, scheme: 'http' | 'https'): ResolvedListener {
  const byName = hint === undefined ? undefined : config.listeners.find((l) => l.name === hint)
  if (byName !== undefined) return byName
  if (hint !== undefined && hint !== 'http' && hint !== 'https') {
    throw new ExplainError(`no listener '${hint}': use http, https or one of ${config.listeners.map((l) => l.name).join(', ')}`)
  }
  const protocol = hint ?? scheme
  // The reverse proxy's own side first; an HLB VIP listener is asked for by name.
  const listener = config.listeners.find((l) => l.protocol === protocol && l.interface === 'external') ?? config.listeners.find((l) => l.protocol === protocol)
  if (listener === undefined) throw new ExplainError(`the configuration has no ${protocol} listener`)
  return listener
}

const IMPLICIT_WHY = 'the listener redirects every published name that no http rule forwards to HTTPS (redirectToHttps)'

// Every rule of the config, and the listener's implicit redirect, with the reason it did or did not
// take the request. Matching itself is the routing code's: lookupHost found the rules published for
// the name, hasPathPrefix compares paths exactly as the data plane does.
function traceRules (config: ResolvedConfig, listener: string, routes: readonly Route[], target: string, host: string, winner: Route | undefined): RuleTrace[] {
  const out: RuleTrace[] = []
  const explainRoute = (route: Route, base: Omit<RuleTrace, 'verdict' | 'why'>): RuleTrace => {
    const prefix = route.prefixes.find((p) => hasPathPrefix(target, p))
    if (prefix === undefined) {
      return { ...base, verdict: 'other-path', why: `the path ${pathOnly(target)} is under none of its paths (${route.prefixes.join(', ')})` }
    }
    const under = prefix === '/' ? 'every path' : `the path is under ${prefix}`
    if (route === winner) return { ...base, verdict: 'matched', why: `${under}: the first rule that matches wins` }
    return { ...base, verdict: 'shadowed', why: `${under}, but rule ${winner?.rule ?? '?'} comes first` }
  }
  config.rules.forEach((rule, index) => {
    const base = { rule: rule.name, index, implicit: false, action: rule.action }
    if (!rule.listeners.includes(listener)) {
      out.push({ ...base, verdict: 'other-listener', why: `published on ${rule.listeners.join(', ')} only` })
      return
    }
    const route = routes.find((r) => r.ruleIndex === index && !r.implicit)
    if (route === undefined) {
      out.push({ ...base, verdict: 'other-name', why: `${host || 'this host'} is not among its public names (${rule.publicNames.join(', ')})` })
      return
    }
    out.push(explainRoute(route, base))
  })
  const implicit = routes.find((r) => r.implicit)
  if (implicit !== undefined) out.push({ ...explainRoute(implicit, { rule: implicit.rule, index: -1, implicit: true, action: 'redirect' }), why: IMPLICIT_WHY })
  return out
}

function pathOnly (target: string): string {
  const q = target.indexOf('?')
  return q < 0 ? target : target.slice(0, q)
}

// What the header policy did to each field, with its reasons (header-changes.ts, which the flow feed
// uses too), in the explain answer's groups.
function headerChanges (received: readonly string[], forwarded: readonly string[]): NonNullable<ExplainResult['headers']> {
  const changes: NonNullable<ExplainResult['headers']> = {
    received: pairs(received), forwarded: pairs(forwarded), added: [], replaced: [], removed: [], kept: [],
  }
  for (const c of requestChanges(received, forwarded)) {
    if (c.change === 'replaced') changes.replaced.push({ name: c.name, from: c.from ?? '', to: c.value, why: c.why })
    else changes[c.change].push({ name: c.name, value: c.value, why: c.why })
  }
  return changes
}

function pairs (raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!])
  return out
}
