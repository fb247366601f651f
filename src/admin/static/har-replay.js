// @ts-check
// A HAR file turned back into the flow feed's records, so that a lesson exported from
// /api/flows.har (or kept from a browser's developer tools) is shown by the same flow view, without
// a lab. lyncproxy's own export carries what HAR has no field for in `_` fields (src/admin/har.ts);
// an entry without them is drawn as well as its standard fields allow: the server is the one HAR
// names (serverIPAddress) or else the URL's host, and the proxy's side of it is unknown. Nothing of
// the file is trusted: every field is checked for its type, and an entry that is not one is
// skipped and counted. Another tool's file carries credentials in clear (a browser's devtools
// export keeps Authorization and Cookie): they are masked on reading, as the server masks its feed
// and its export, so that a lesson on the projector shows no more of a replay than of the live feed.

/** @typedef {import('./api.js').FlowRecord} FlowRecord */
/** @typedef {FlowRecord['requestChanges'][number]} HeaderChange */

/** @param {unknown} v @returns {v is Record<string, unknown>} */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
/** @param {unknown} v @param {string} [fallback] */
const str = (v, fallback = '') => typeof v === 'string' ? v : fallback
/** @param {unknown} v @param {number} [fallback] */
const num = (v, fallback = 0) => typeof v === 'number' && Number.isFinite(v) ? v : fallback

// The fields whose values are credentials: the server's list (SECRET_HEADERS in
// src/admin/flow-record.ts; test/flow-groups.test.ts checks the two are the same).
export const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-ms-webticket'])

// What a masked secret reads, the server's words. A piece that reads exactly so (lyncproxy's own
// export, masked already) is kept as it is rather than counted again; anything else is a secret,
// even if it begins with those words, so a value cannot smuggle its tail past the mask. A raw
// secret that happens to read "[12 characters hidden]" is kept too: it shows nothing.
const MASKED = /^\[\d+ characters hidden\]$/
// A change of a repeated Authorization, each value masked by the server and joined:
// "NTLM [40 characters hidden], Negotiate [8 characters hidden]".
const MASKED_JOINED = /^(\S+ )?\[\d+ characters hidden\](, (\S+ )?\[\d+ characters hidden\])*$/
/** @param {string} secret */
const hidden = (secret) => MASKED.test(secret) ? secret : `[${secret.length} characters hidden]`
/** @param {string} pair a cookie's name=value */
function maskCookie (pair) {
  const eq = pair.indexOf('=')
  return eq < 0 ? hidden(pair) : `${pair.slice(0, eq + 1)}${hidden(pair.slice(eq + 1))}`
}

/**
 * A header's value as the server's feed shows it (maskHeaderValue in src/admin/flow-record.ts):
 * the scheme of an Authorization kept ("NTLM", "Bearer": which handshake step a request is), the
 * names of cookies and a Set-Cookie's attributes kept, every secret replaced by its length.
 * @param {string} name
 * @param {string} value
 */
export function maskHeaderValue (name, value) {
  const lower = name.toLowerCase()
  if (!SECRET_HEADERS.has(lower)) return value
  if (lower === 'cookie') return value.split(';').map((pair) => { const lead = pair.length - pair.trimStart().length; return pair.slice(0, lead) + maskCookie(pair.trimStart()) }).join(';')
  if (lower === 'set-cookie') {
    const semi = value.indexOf(';')
    return semi < 0 ? maskCookie(value) : maskCookie(value.slice(0, semi)) + value.slice(semi)
  }
  const authorization = lower.endsWith('authorization')
  if (authorization && MASKED_JOINED.test(value)) return value
  const space = value.indexOf(' ')
  const scheme = authorization && space > 0 ? value.slice(0, space) + ' ' : ''
  return scheme + hidden(value.slice(scheme.length))
}

/**
 * HAR's {name, value} headers as the feed's [name, value] pairs, credentials masked.
 * @param {unknown} list
 * @returns {Array<[string, string]>}
 */
function pairs (list) {
  if (!Array.isArray(list)) return []
  /** @type {Array<[string, string]>} */
  const out = []
  for (const h of list) if (isObject(h) && typeof h.name === 'string') out.push([h.name, maskHeaderValue(h.name, str(h.value))])
  return out
}

const CHANGES = new Set(['added', 'removed', 'replaced'])

/**
 * @param {unknown} list
 * @returns {HeaderChange[]}
 */
function changes (list) {
  if (!Array.isArray(list)) return []
  /** @type {HeaderChange[]} */
  const out = []
  for (const c of list) {
    if (!isObject(c) || typeof c.name !== 'string' || !CHANGES.has(String(c.change))) continue
    /** @type {HeaderChange} */
    const change = { name: c.name, change: /** @type {HeaderChange['change']} */ (c.change), value: maskHeaderValue(c.name, str(c.value)), why: str(c.why) }
    if (typeof c.from === 'string') change.from = maskHeaderValue(c.name, c.from)
    out.push(change)
  }
  return out
}

const STOPS = new Set(['listener', 'rule', 'pool'])

/**
 * @param {Record<string, unknown>} e one HAR entry
 * @param {number} i its place in the file, for an id when it has none
 * @returns {FlowRecord | undefined}
 */
export function recordOfEntry (e, i) {
  const request = e.request
  const response = e.response
  if (!isObject(request) || !isObject(response)) return undefined
  /** @type {URL} */
  let url
  try { url = new URL(str(request.url)) } catch { return undefined }
  const time = Date.parse(str(e.startedDateTime))
  if (Number.isNaN(time)) return undefined
  const requestHeaders = pairs(request.headers)
  const hostHeader = requestHeaders.find(([n]) => n.toLowerCase() === 'host')?.[1]
  const ours = typeof e._rule === 'string' || typeof e._upstream === 'string'
  const defaultPort = url.protocol === 'https:' ? 443 : 80
  const urlPort = url.port === '' ? defaultPort : Number(url.port)
  const server = str(e.serverIPAddress) || url.hostname
  const member = ours ? str(e._member) : server
  const upstream = ours ? str(e._upstream) : `${server}:${urlPort}`
  const content = isObject(response.content) ? response.content : {}
  const status = num(response.status)
  const stop = String(e._stop)
  return {
    id: str(e._id) || `har-${i + 1}`,
    time,
    listener: str(e._listener, url.protocol.replace(':', '')),
    client: str(e._client) || 'the HAR\'s client',
    method: str(request.method, 'GET'),
    host: hostHeader ?? url.host,
    publicName: '',
    path: url.pathname + url.search,
    rule: str(e._rule),
    pool: str(e._pool),
    upstream,
    status,
    statusText: str(response.statusText),
    upstreamStatus: num(e._upstreamStatus, ours ? 0 : status),
    bytesIn: Math.max(0, num(request.bodySize)),
    bytesOut: Math.max(0, num(content.size, num(response.bodySize))),
    durationMs: Math.max(0, num(e.time)),
    error: str(e._error),
    aborted: e._aborted === true,
    member,
    listenerPort: num(e._listenerPort, ours ? 0 : urlPort),
    reason: str(e._reason),
    // Missing from an export older than the field (then pairHops goes by the ports); another
    // tool's file holds only the client's own requests.
    relayedBy: typeof e._relayedBy === 'string' ? e._relayedBy : ours ? undefined : '',
    // An export older than _stop: where the server's stopOf (src/observe/exchange.ts) would put it.
    stop: STOPS.has(stop) ? /** @type {FlowRecord['stop']} */ (stop) : member !== '' || upstream !== '' ? 'pool' : str(e._rule) !== '' ? 'rule' : 'listener',
    requestHeaders,
    forwardedHeaders: pairs(e._forwardedHeaders),
    upstreamResponseHeaders: ours ? pairs(e._upstreamResponseHeaders) : pairs(response.headers),
    responseHeaders: pairs(response.headers),
    requestChanges: changes(e._requestChanges),
    responseChanges: changes(e._responseChanges),
  }
}

/**
 * The records of a HAR file's text, in the file's order.
 * @param {string} text
 * @returns {{ records: FlowRecord[], skipped: number, creator: string }}
 */
export function recordsOfHar (text) {
  /** @type {unknown} */
  let har
  try { har = JSON.parse(text) } catch (err) { throw new Error(`not a HAR file: ${err instanceof Error ? err.message : String(err)}`) }
  const log = isObject(har) ? har.log : undefined
  if (!isObject(log) || !Array.isArray(log.entries)) throw new Error('not a HAR file: it has no log.entries')
  /** @type {FlowRecord[]} */
  const records = []
  let skipped = 0
  // A flow is known by its first exchange's id: a hand-edited file that repeats an _id would make
  // two flows one in the list. A repeat gets the entry's place added.
  const ids = new Set()
  log.entries.forEach((e, i) => {
    const r = isObject(e) ? recordOfEntry(e, i) : undefined
    if (r === undefined) { skipped++; return }
    if (ids.has(r.id)) r.id = `${r.id}#${i + 1}`
    ids.add(r.id)
    records.push(r)
  })
  const creator = isObject(log.creator) ? `${str(log.creator.name, 'an unknown tool')} ${str(log.creator.version)}`.trim() : 'an unknown tool'
  return { records, skipped, creator }
}
