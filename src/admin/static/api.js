// @ts-check
// The admin API as the page calls it. A page opened with ?token= passes the token on: as the
// bearer header on fetches, in the query where a browser cannot send a header (EventSource).
// The answers' types are the server's own, derived from the API schemas (src/admin/schemas.ts).

/** @typedef {import('../schemas.js').RoutesView} RoutesView */
/** @typedef {import('../schemas.js').RouteView} RouteView */
/** @typedef {{ tables: import('../../ports/ports.js').PortTable[] }} Ports */
/** @typedef {import('../../observe/traffic.js').TrafficEntry} TrafficEntry */
/** @typedef {import('../../explain/explain-schema.js').ExplainResult} ExplainResult */
/** @typedef {import('../../explain/explain-schema.js').RuleVerdict} RuleVerdict */
// An exchange as the page holds it: the feed's record (src/admin/flow-record.ts), or one read back
// from a HAR file, which may lack relayedBy (an export older than the field) and carries the
// status text the file gave.
/** @typedef {Omit<import('../flow-record.js').FlowRecord, 'relayedBy'> & { relayedBy?: string, statusText?: string }} FlowRecord */

const token = new URLSearchParams(location.search).get('token')
/** @type {Record<string, string>} */
const authHeaders = token ? { Authorization: 'Bearer ' + token } : {}

/** @param {string} url */
export const withToken = (url) => token ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : url

/**
 * @param {string} url
 * @returns {Promise<unknown>}
 */
async function getJson (url) {
  const res = await fetch(url, { headers: authHeaders })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.message || `${url}: ${res.status}`)
  return body
}

export const getRoutes = () => /** @type {Promise<RoutesView>} */ (getJson('/api/routes'))
export const getPorts = () => /** @type {Promise<Ports>} */ (getJson('/api/ports'))
export const getTraffic = () => /** @type {Promise<TrafficEntry[]>} */ (getJson('/api/traffic'))
/** @param {URLSearchParams} query */
export const getExplain = (query) => /** @type {Promise<ExplainResult>} */ (getJson('/api/explain?' + query.toString()))

// What a failed call says, for the page.
/** @param {unknown} err */
export const messageOf = (err) => err instanceof Error ? err.message : String(err)
