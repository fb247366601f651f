// Who may talk to the admin plane. With no token it trusts whoever reaches its listener, and on
// loopback a web page in the operator's browser reaches it too: through DNS rebinding (a foreign
// name that resolves to 127.0.0.1, so the page may read the answers) or with a cross-site POST
// (which the browser sends without asking, as long as it looks like a form). So the plane answers
// only to its own names, and changes state only for requests that no other site can make a browser
// send: same-origin, with a JSON body or none.
import os from 'node:os'
import type { FastifyReply, FastifyRequest } from 'fastify'

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']
const WILDCARDS = new Set(['0.0.0.0', '::', '::0', ''])

// The Host values (authorities) the admin listener answers to: its address and port, the loopback
// names when it listens on loopback, and any names it was told about. A name given with a port
// (`name:port`, `[v6]:port`) is taken with that port: what a port forward or a container runtime
// publishes the listener on; without one, with the listener's.
export class AdminHosts {
  private readonly fixed: Set<string>
  private known: Set<string>

  constructor (private readonly addresses: readonly string[], private readonly port: number, names: readonly string[] = []) {
    this.fixed = new Set()
    for (const a of addresses) this.addName(this.fixed, a)
    for (const n of names) {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(n)
      if (m === null) this.addName(this.fixed, n)
      else this.addName(this.fixed, m[1]!.replace(/^\[(.*)\]$/, '$1'), Number(m[2]))
    }
    if (addresses.some(isLoopback)) for (const n of LOOPBACK_NAMES) this.addName(this.fixed, n)
    this.known = this.withInterfaces()
  }

  // `host` is a Host header value or an Origin's authority, as the client sent it.
  accepts (host: string): boolean {
    const h = host.toLowerCase()
    if (this.known.has(h)) return true
    if (!this.addresses.some((a) => WILDCARDS.has(a))) return false
    // On a wildcard address the plane's names are the machine's, and an interface may have gained
    // an address since the last look (DHCP, a VPN coming up).
    this.known = this.withInterfaces()
    return this.known.has(h)
  }

  // What a refusal suggests instead, best first.
  list (): string[] {
    return [...this.known]
  }

  private withInterfaces (): Set<string> {
    if (!this.addresses.some((a) => WILDCARDS.has(a))) return this.fixed
    const all = new Set(this.fixed)
    for (const n of LOOPBACK_NAMES) this.addName(all, n)
    this.addName(all, os.hostname())
    for (const list of Object.values(os.networkInterfaces())) {
      for (const i of list ?? []) this.addName(all, i.address.replace(/%.*$/, ''))
    }
    return all
  }

  private addName (set: Set<string>, name: string, port = this.port): void {
    if (WILDCARDS.has(name)) return
    const n = name.toLowerCase().replace(/\.$/, '')
    const authority = n.includes(':') ? `[${n}]` : n
    set.add(`${authority}:${port}`)
    // Browsers and most clients leave the default port out of Host and Origin.
    if (port === 80) set.add(authority)
  }
}

function isLoopback (address: string): boolean {
  const a = address.toLowerCase()
  return a === 'localhost' || a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.')
}

export interface Refusal { status: number, error: string, message: string }

// A Host the listener does not go by: what DNS rebinding looks like (the browser sends the
// attacker's name). HTTP/1.0 requests may carry no Host at all; no browser sends one without it,
// and load balancers' default health checks (HAProxy's httpchk) do, so that passes.
export function checkHost (hosts: AdminHosts, host: string | undefined): Refusal | undefined {
  if (host === undefined || hosts.accepts(host)) return undefined
  const names = hosts.list()
  const shown = names.slice(0, 6).join(', ') + (names.length > 6 ? ', ...' : '')
  return {
    status: 421,
    error: 'misdirected_host',
    message: `this admin plane answers to Host ${shown}, not '${host.slice(0, 200)}': a page reaching it under another name (DNS rebinding) is refused. Open it by one of those names`,
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])
// none: the user asked for it directly (the address bar, a bookmark), not a page.
const OWN_FETCH_SITES = new Set(['same-origin', 'none'])

// A state change (any method but GET and HEAD) must not come from another site's page. Browsers
// mark every request with Sec-Fetch-Site, which pages cannot forge; older ones without it still send
// Origin on every POST. Clients that are not browsers send neither and pass: they can do what they
// like on this listener anyway, which is what the token is for.
export function checkCrossSite (hosts: AdminHosts, request: FastifyRequest): Refusal | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined
  const site = header(request, 'sec-fetch-site')
  const origin = header(request, 'origin')
  const refuse = (why: string): Refusal => ({
    status: 403,
    error: 'cross_origin',
    message: `${why}: the admin plane changes state only for its own page or for clients that are not browsers`,
  })
  if (site !== undefined && !OWN_FETCH_SITES.has(site.toLowerCase())) return refuse(`a ${site} request (Sec-Fetch-Site)`)
  if (origin === undefined) return undefined
  // A browser says `null` for its own page's request when a referrer policy hides the origin; then
  // only Sec-Fetch-Site can tell, and it must.
  if (origin === 'null') return site?.toLowerCase() === 'same-origin' ? undefined : refuse('a request from an opaque origin (Origin: null)')
  const own = origin.toLowerCase().startsWith('http://') && hosts.accepts(origin.slice('http://'.length))
  return own ? undefined : refuse(`a request from ${origin.slice(0, 200)}`)
}

// A JSON body, or none. Forms and text/plain are what a cross-site page can send without a CORS
// preflight; application/json needs one, and this plane answers none.
export function checkBody (request: FastifyRequest): Refusal | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined
  const type = header(request, 'content-type')
  const length = header(request, 'content-length')
  const hasBody = header(request, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0')
  if (type === undefined ? !hasBody : mediaType(type) === 'application/json') return undefined
  return {
    status: 415,
    error: 'unsupported_media_type',
    message: `the admin API takes Content-Type: application/json or an empty body, not ${type === undefined ? 'a body without a Content-Type' : `'${type.slice(0, 100)}'`}`,
  }
}

function mediaType (contentType: string): string {
  const semi = contentType.indexOf(';')
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

export function refuse (reply: FastifyReply, r: Refusal): FastifyReply {
  return reply.code(r.status).send({ error: r.error, message: r.message })
}
