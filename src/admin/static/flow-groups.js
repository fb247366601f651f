// @ts-check
// Exchanges grouped into client flows, each step named, for the flow view. Pure: no DOM, so the
// same code groups the live feed, a replayed HAR file, and node's unit tests
// (test/flow-groups.test.ts).
//
// THE GROUPING RULE. A flow is one client address plus the request that began it. Records are taken
// in the order they came (the feed's order, which is also the HAR export's), and each one joins the
// flow open for its client, unless it begins a new one:
//   (a) the client has no open flow;
//   (b) the exchange is a flow's first step:
//       - a discovery root (GET on a lyncdiscover. or lyncdiscoverinternal. name, or
//         /Autodiscover/AutodiscoverService.svc/root), except while the open sign-in or meeting join
//         is still discovering (its last step was a root, the user resource, a token or the meeting
//         page) and this root is one it has not asked yet: a root's or the user resource's answer
//         names the next root to ask (the Director sends the client on to its home pool), and a
//         client that asks the same root again is starting over;
//       - the start of an address book or group expansion download (/abs/, /GroupExpansion/), unless
//         the open flow is already one: desktop clients fetch the files one after another, each
//         with its own NTLM handshake;
//       - a meeting or dial-in page (the meet. and dialin. names, /meet/, /dialin/): a join begins
//         where the attendee opens the link, whatever the client did before;
//       - a refusal of a name nothing publishes, when the open flow never used that name: a name
//         nobody published is somebody else's mistake, not the next step of this flow;
//   (c) the client was silent for longer than IDLE_MS since the flow's last exchange ended: a
//       signed-in Lync client always has an event channel or a keep-alive going, so a silence
//       longer than their period means the session is over, and what comes next is a new one.
// Exchanges that are a hop of another one are not steps of their own: where lyncproxy is also the
// Director pool's HLB (the lab), a request forwarded to the VIP comes back to lyncproxy as a second
// exchange, which the proxy marks with the listener that sent it (relayedBy), for the same method,
// name and path, begun and ended while the first one waits. That hop is drawn inside the first
// one's step (client → lyncproxy → VIP → dir02), not as a request of the client's.

/** @typedef {import('./api.js').FlowRecord} FlowRecord */

/**
 * What kind of step an exchange is, which decides whether it begins a flow. `refused` and
 * `redirect` are answers the proxy gave itself instead of forwarding; `answered` its other ones
 * (OPTIONS *, a client that left before any answer).
 * @typedef {'discovery' | 'user' | 'token' | 'ucwa' | 'address-book' | 'meeting' | 'xframe' | 'refused' | 'redirect' | 'answered' | 'other'} Category
 */

/**
 * One exchange of a flow. `chain` is the exchange and its hops, outermost first: the client's
 * request, then the one lyncproxy's VIP listener received for it, and so on.
 * @typedef {{ index: number, record: FlowRecord, chain: FlowRecord[], name: string, category: Category }} Step
 */

/**
 * @typedef {{
 *   key: string, client: string, kind: Category, name: string,
 *   steps: Step[], records: FlowRecord[], start: number, end: number
 * }} Flow
 */

/**
 * A lifeline right of lyncproxy's: a server that answered in the flow; `vip` when lyncproxy reached
 * it through a VIP of its own.
 * @typedef {{ key: string, name: string, sub: string, vip: boolean }} Lane
 */

export const IDLE_MS = 60_000

// How far apart, in records, an exchange and its hop may arrive: other clients' exchanges finish in
// between, and the hop is published first (it ends before the exchange that waits for it).
const HOP_WINDOW = 64
// A hop begins after its exchange and ends before it, by one clock; but the start is kept in whole
// milliseconds (Date.now(), and a HAR file's startedDateTime), so either end may read up to one
// millisecond past the exchange's.
const CLOCK_MS = 1

/** @param {FlowRecord} r */
const pathOnly = (r) => {
  const p = (r.path ?? '').toLowerCase()
  const q = p.search(/[?#]/)
  return q < 0 ? p : p.slice(0, q)
}
/** @param {FlowRecord} r */
const hostOnly = (r) => (r.host ?? '').toLowerCase().replace(/:\d+$/, '')
/**
 * Whether the proxy answered the client itself: the exchange stopped at the listener or the rule.
 * A record without `stop` (made by hand, or by a proxy older than the field) is judged by whether
 * it names a server, which is what the server's stopOf (src/observe/exchange.ts) derives it from.
 * @param {FlowRecord} r
 */
export const answeredByProxy = (r) => r.stop === undefined ? (r.member ?? '') === '' && (r.upstream ?? '') === '' : r.stop !== 'pool'

/**
 * The proxy's own refusal of the request (its failure code), '' when it forwarded it, redirected it
 * or answered it otherwise (OPTIONS *), or the client left before an answer: the server's
 * refusalOf (src/observe/exchange.ts), which the diagram's refusal markers count.
 * @param {FlowRecord} r
 */
export const refusalOf = (r) => r.error === '' || r.error === 'client_aborted' || !answeredByProxy(r) ? '' : r.error
/** @param {string} upstream */
const portOf = (upstream) => {
  const colon = upstream.lastIndexOf(':')
  const port = colon < 0 ? NaN : Number(upstream.slice(colon + 1))
  return Number.isInteger(port) ? port : 0
}

const STATIC_RESOURCE = /\.(js|css|png|gif|jpe?g|ico|svg|woff2?|ttf|map)$/

/**
 * The step's name and category, from its method, name, path and status.
 * @param {FlowRecord} r
 * @returns {{ name: string, category: Category }}
 */
export function classify (r) {
  const p = pathOnly(r)
  const host = hostOnly(r)
  if (answeredByProxy(r)) {
    const refusal = refusalOf(r)
    if (refusal === 'not_published') return { name: 'refused: unpublished name', category: 'refused' }
    if (refusal === 'path_not_published') return { name: 'refused: unpublished path', category: 'refused' }
    if (refusal === 'denied') return { name: 'refused: deny rule', category: 'refused' }
    if (refusal === 'misdirected') return { name: 'refused: misdirected (421)', category: 'refused' }
    if (refusal !== '') return { name: `refused: ${refusal}`, category: 'refused' }
    if (r.error === 'client_aborted') return { name: 'client left before the answer', category: 'answered' }
    if (r.status >= 300 && r.status < 400) {
      const location = (r.responseHeaders ?? []).find(([n]) => n.toLowerCase() === 'location')?.[1] ?? ''
      return { name: location.toLowerCase().startsWith('https://') ? 'redirect to HTTPS' : 'redirect by the proxy', category: 'redirect' }
    }
    // OPTIONS * asks about the proxy itself; a HAR file's URL reads its target as the path /*.
    return { name: r.method === 'OPTIONS' && (r.path === '*' || r.path === '/*') ? 'OPTIONS * (answered by the proxy)' : 'answered by the proxy', category: 'answered' }
  }
  const lyncdiscover = host.startsWith('lyncdiscover.') || host.startsWith('lyncdiscoverinternal.')
  if (p.includes('/xframe')) return { name: 'XFrame', category: 'xframe' }
  if (lyncdiscover && (p === '/' || p === '')) return { name: 'lyncdiscover', category: 'discovery' }
  if (p === '/autodiscover/autodiscoverservice.svc/root') return { name: 'autodiscover root', category: 'discovery' }
  if (p.startsWith('/autodiscover/autodiscoverservice.svc/root/')) return { name: 'user resource', category: 'user' }
  if (p === '/webticket/oauthtoken') return { name: 'OAuth token', category: 'token' }
  if (p.startsWith('/webticket/')) return { name: 'web ticket', category: 'token' }
  if (p.startsWith('/ucwa/')) return { name: ucwaName(p), category: 'ucwa' }
  if (p === '/mcx' || p.startsWith('/mcx/')) return { name: 'Mcx (mobility)', category: 'ucwa' }
  if (p === '/abs' || p.startsWith('/abs/')) return { name: (/^\/abs\/handler\/[^/]+$/.test(p) ? 'address book file' : 'address book') + ntlmMessage(r), category: 'address-book' }
  if (p.startsWith('/groupexpansion')) return { name: 'group expansion' + ntlmMessage(r), category: 'address-book' }
  if (p.startsWith('/certprov')) return { name: 'certificate provisioning', category: 'other' }
  if (p.startsWith('/rgsclients')) return { name: 'Response Group', category: 'other' }
  if (p.startsWith('/requesthandlerext')) return { name: 'device update', category: 'other' }
  if (host.startsWith('meet.') || p.startsWith('/meet/') || p === '/meet') {
    return STATIC_RESOURCE.test(p) ? { name: 'meeting page resource', category: 'other' } : { name: 'meeting page', category: 'meeting' }
  }
  if (host.startsWith('dialin.') || p.startsWith('/dialin/') || p === '/dialin') {
    return STATIC_RESOURCE.test(p) ? { name: 'dial-in page resource', category: 'other' } : { name: 'dial-in page', category: 'meeting' }
  }
  if (p.startsWith('/hosting/discovery')) return { name: 'Office Web Apps discovery', category: 'other' }
  if (/^\/(wv|we|x|p|op|m|wopi)\//.test(p)) return { name: 'Office Web Apps', category: 'other' }
  const first = p.split('/').find((s) => s !== '')
  return { name: `${r.method} /${first ?? ''}`, category: 'other' }
}

// A type 1 (negotiate) message is a few dozen bytes, a type 3 (authenticate) carries the NTLMv2
// response and names, several hundred: the length is all the masked feed keeps, and it is enough to
// tell the handshake's steps apart.
const NTLM_TYPE3_CHARS = 100

/**
 * Which NTLM message the request carried, as a suffix for its step's name; '' without one.
 * @param {FlowRecord} r
 */
function ntlmMessage (r) {
  const auth = (r.requestHeaders ?? []).find(([n]) => n.toLowerCase() === 'authorization')?.[1] ?? ''
  const m = /^NTLM\s+(?:\[(\d+) characters hidden\]|(\S+))$/i.exec(auth)
  if (m === null) return ''
  const length = m[1] === undefined ? (m[2] ?? '').length : Number(m[1])
  return length < NTLM_TYPE3_CHARS ? ' (type 1)' : ' (type 3)'
}

/** @param {string} p a lower-case path */
function ucwaName (p) {
  if (/\/applications$/.test(p)) return 'applications'
  if (p.includes('/events')) return 'event channel'
  if (p.endsWith('/makemeavailable')) return 'makeMeAvailable'
  if (p.includes('/joinonlinemeeting') || p.includes('/onlinemeetinginvitations')) return 'meeting join (UCWA)'
  if (p.includes('/onlinemeetings')) return 'online meeting'
  if (p.endsWith('/batch')) return 'batch'
  const last = p.split('/').filter((s) => s !== '').pop() ?? ''
  return `UCWA ${last}`
}

/**
 * Which record is a hop of which: exchange index → its hop's index. The proxy says of every request
 * which of its own listeners relayed it (relayedBy), '' for a client's request: that is the answer
 * wherever it is there. Only a record without the field (a HAR file of an export older than it) is
 * paired by the port instead: its listener's port is the one the other exchange's upstream names.
 * Either way the hop is the same request (method, name, path), begun and ended while its exchange
 * waited; and no record is the hop of its own hop, however far down, so that every chain has an
 * outermost exchange, a step of its flow.
 * @param {readonly FlowRecord[]} records
 * @returns {Map<number, number>}
 */
export function pairHops (records) {
  /** @type {Map<number, number>} */
  const hopOf = new Map()
  /** @type {Map<number, number>} hop index → the exchange it serves */
  const servedBy = new Map()
  /**
   * @param {FlowRecord} a the exchange
   * @param {FlowRecord} b a candidate for its hop
   */
  const hopFits = (a, b) => {
    // By the port, the hop came in on another listener than its exchange: one listener twice is a
    // loop (refused with 508), and Office Web Apps is published on the port it listens on.
    const relayed = typeof b.relayedBy === 'string' ? b.relayedBy !== '' && b.relayedBy === a.listener : b.listenerPort === portOf(a.upstream ?? '') && b.listener !== a.listener
    return relayed && b.method === a.method && hostOnly(b) === hostOnly(a) && b.path === a.path &&
      b.time >= a.time - CLOCK_MS && b.time + (b.durationMs ?? 0) <= a.time + (a.durationMs ?? 0) + CLOCK_MS
  }
  /** Whether `j` is `i` or serves it, however far up. @param {number} j @param {number} i */
  const above = (j, i) => {
    for (let at = /** @type {number | undefined} */ (i); at !== undefined; at = servedBy.get(at)) if (at === j) return true
    return false
  }
  records.forEach((a, i) => {
    if (portOf(a.upstream ?? '') === 0) return
    let best = -1
    for (let d = 1; d <= HOP_WINDOW && best < 0; d++) {
      for (const j of [i - d, i + d]) {
        const b = records[j]
        if (b === undefined || best >= 0 || servedBy.has(j) || above(j, i)) continue
        if (hopFits(a, b)) best = j
      }
    }
    if (best >= 0) { hopOf.set(i, best); servedBy.set(best, i) }
  })
  return hopOf
}

/**
 * @typedef {{ flow: Flow, urls: Set<string>, hosts: Set<string>, last: Category }} Open
 */

/** @param {FlowRecord} r */
const urlKey = (r) => hostOnly(r) + pathOnly(r)

/**
 * Whether `step` begins a new flow for a client whose open flow is `open`.
 * @param {Step} step
 * @param {Open | undefined} open
 * @param {number} idleMs
 */
function begins (step, open, idleMs) {
  if (open === undefined) return true
  const r = step.record
  if (r.time - open.flow.end > idleMs) return true
  switch (step.category) {
    case 'discovery': {
      const discovering = ['discovery', 'user', 'token', 'meeting'].includes(open.flow.kind) &&
        ['discovery', 'user', 'token', 'meeting'].includes(open.last)
      return !discovering || open.urls.has(urlKey(r))
    }
    case 'address-book': return open.flow.kind !== 'address-book'
    case 'meeting': return true
    case 'refused': return r.error === 'not_published' && !open.hosts.has(hostOnly(r))
    default: return false
  }
}

/**
 * The flows of `records`, in the order they began. Every record is in exactly one flow, and each
 * flow's records keep the order they were given in.
 * @param {readonly FlowRecord[]} records
 * @param {{ idleMs?: number }} [options]
 * @returns {Flow[]}
 */
export function groupFlows (records, options = {}) {
  const idleMs = options.idleMs ?? IDLE_MS
  const hopOf = pairHops(records)
  const hops = new Set(hopOf.values())
  /** @type {Map<Flow, number[]>} */
  const indexes = new Map()
  /** @type {Flow[]} */
  const flows = []
  /** @type {Map<string, Open>} */
  const open = new Map()

  for (let i = 0; i < records.length; i++) {
    if (hops.has(i)) continue
    const chain = [i]
    for (let at = hopOf.get(i); at !== undefined && !chain.includes(at); at = hopOf.get(at)) chain.push(at)
    const record = /** @type {FlowRecord} */ (records[i])
    const { name, category } = classify(record)
    const client = record.client ?? ''
    let current = open.get(client)
    const step = { index: 0, record, chain: chain.map((c) => /** @type {FlowRecord} */ (records[c])), name, category }
    if (begins(step, current, idleMs)) {
      const flow = { key: record.id, client, kind: category, name: '', steps: [], records: [], start: record.time, end: record.time }
      flows.push(flow)
      indexes.set(flow, [])
      current = { flow, urls: new Set(), hosts: new Set(), last: category }
      open.set(client, current)
    }
    const state = /** @type {Open} */ (current)
    const { flow } = state
    step.index = flow.steps.length
    flow.steps.push(step)
    indexes.get(flow)?.push(...chain)
    for (const r of step.chain) {
      flow.start = Math.min(flow.start, r.time)
      flow.end = Math.max(flow.end, r.time + (r.durationMs ?? 0))
    }
    state.urls.add(urlKey(record))
    state.hosts.add(hostOnly(record))
    state.last = category
  }

  for (const flow of flows) {
    const order = (indexes.get(flow) ?? []).sort((a, b) => a - b)
    flow.records = order.map((i) => /** @type {FlowRecord} */ (records[i]))
    // The key is the flow's earliest record, which regrouping does not change when a hop that came
    // first is later found to belong to the exchange after it.
    flow.key = flow.records[0]?.id ?? flow.key
    flow.name = flowName(flow)
  }
  return flows
}

/**
 * The flow's name, from its first step (and the scheme an address book download authenticated with).
 * @param {Flow} flow
 */
export function flowName (flow) {
  const first = flow.steps[0]
  if (first === undefined) return 'Empty flow'
  const host = hostOnly(first.record)
  switch (first.category) {
    case 'discovery':
      if (host.startsWith('lyncdiscoverinternal.')) return 'Mobile sign-in (internal)'
      if (host.startsWith('lyncdiscover.')) return 'Mobile sign-in'
      return 'Sign-in (autodiscover)'
    case 'user': case 'token': return 'Sign-in (continued)'
    case 'ucwa': return 'UCWA session'
    case 'address-book': {
      const what = first.name.startsWith('group expansion') ? 'Group expansion' : 'Address book download'
      const scheme = authScheme(flow)
      return scheme === '' ? what : `${what} (${scheme})`
    }
    case 'meeting': return first.name === 'dial-in page' ? 'Dial-in page' : 'Meeting join'
    case 'xframe': return 'Cross-domain frame (XFrame)'
    case 'refused':
      return first.record.error === 'not_published' ? 'Refused: unpublished name' : `Refused: ${first.name.replace(/^refused: /, '')}`
    case 'redirect': return 'Redirected by the proxy'
    case 'answered': return first.name.charAt(0).toUpperCase() + first.name.slice(1)
    default: return `Requests to ${host || 'an unnamed host'}`
  }
}

const WINDOWS_SCHEMES = /^(NTLM|Negotiate|Kerberos)$/i

// The Windows scheme the client answered with, or else the ones the server offered.
/** @param {Flow} flow */
function authScheme (flow) {
  for (const r of flow.records) {
    const auth = (r.requestHeaders ?? []).find(([n]) => n.toLowerCase() === 'authorization')?.[1] ?? ''
    const scheme = auth.split(' ')[0] ?? ''
    if (WINDOWS_SCHEMES.test(scheme)) return scheme
  }
  /** @type {string[]} */
  const offered = []
  for (const r of flow.records) {
    for (const [n, v] of [...(r.responseHeaders ?? []), ...(r.upstreamResponseHeaders ?? [])]) {
      if (n.toLowerCase() !== 'www-authenticate') continue
      for (const part of v.split(',')) {
        const s = part.trim().split(' ')[0] ?? ''
        if (WINDOWS_SCHEMES.test(s) && !offered.includes(s)) offered.push(s)
      }
    }
  }
  return offered.length === 0 ? '' : offered.join(' or ') + ' offered'
}

/**
 * The lifelines right of lyncproxy's: one per server that answered in the flow, in the order the
 * flow first reaches them. A VIP that lyncproxy itself serves (the lab's Director HLB) is not one:
 * it is lyncproxy's lifeline again, and its hop is drawn on the arrow to the server behind it.
 * @param {Flow} flow
 * @returns {Lane[]}
 */
export function lanesOf (flow) {
  /** @type {Lane[]} */
  const lanes = []
  for (const step of flow.steps) {
    const r = answeringHop(step)
    const key = r === undefined ? '' : laneKey(r)
    if (r === undefined || key === '' || lanes.some((l) => l.key === key)) continue
    const viaVip = step.chain.indexOf(r) > 0
    lanes.push({ key, name: r.member || r.upstream || r.pool, sub: r.pool ? `pool ${r.pool}` : 'server', vip: viaVip })
  }
  return lanes
}

/**
 * The exchange of a step's chain whose upstream answered it: the innermost hop that reached a
 * server; undefined when the proxy answered the client itself.
 * @param {Step} step
 */
export function answeringHop (step) {
  let found
  for (const r of step.chain) {
    if (answeredByProxy(r)) break
    found = r
  }
  return found
}

/**
 * The lane an exchange's upstream answered on; '' when the proxy answered itself.
 * @param {FlowRecord} r
 */
export function laneKey (r) {
  if (answeredByProxy(r)) return ''
  return `${r.pool ?? ''}/${r.member || r.upstream}`
}
