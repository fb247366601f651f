// @ts-check
// The diagram's arrows and their labels: requests seen since the proxy started and the last status,
// from /api/traffic, and a flash when the feed reports an exchange that took the arrow. Keys name
// what an arrow stands for: listener:<listener>, rule:<listener>/<rule>, pool:<listener>/<rule>,
// and hlb:<VIP address>/<pool> for the pools an HLB VIP of this proxy balances.
import { getTraffic } from './api.js'
import { statusClass, svg } from './dom.js'

/** @typedef {import('./api.js').TrafficEntry} TrafficEntry */

/** @type {Map<string, { label: SVGTextElement, path: SVGPathElement }>} */
const edgeLabels = new Map()
// Internal listener name → the VIP address it belongs to, for the HLB edges' counts.
/** @type {Map<string, string>} */
export const vipOfListener = new Map()
/** @type {TrafficEntry[]} */
let traffic = []
/** @type {Array<(entries: TrafficEntry[]) => void>} */
const watchers = []

// The largest count a drawing keeps room for: well above all the requests seen so far. A count
// that outgrows it makes its drawing lay itself out again (overflows()).
export function countRoom () {
  const all = traffic.reduce((n, e) => n + e.requests, 0)
  return Number('9'.repeat(Math.max(3, String(all).length + 1)))
}

// The widest text a count label is expected to show, for the room its layout keeps.
/** @param {string} prefix */
export const countReserve = (prefix) => ({ first: `${prefix}${countRoom()} req`, second: 'last 000' })

// Whether a text under `root` now needs more room than its layout kept (its data-room).
/** @param {Element} root */
export function overflows (root) {
  for (const t of root.querySelectorAll('text[data-room]')) {
    if (t instanceof SVGTextContentElement && t.getComputedTextLength() > Number(t.getAttribute('data-room'))) return true
  }
  return false
}

/**
 * An arrow along `d`, and its count label in two lines at `at` (the baselines `y1`, `y2`), unless
 * `at` is null. The label's text reads `<prefix>N req · last S`; the separator is not drawn.
 * @param {Element} parent
 * @param {string} d
 * @param {string} key
 * @param {{ x: number, y1: number, y2: number, room: number } | null} at
 * @param {string} [prefix] written before the count (the bridged ports)
 * @param {string} [cls] more classes for the arrow
 */
export function edge (parent, d, key, at, prefix = '', cls = '') {
  const path = svg('path', { class: `edge ${cls}`.trim(), d, 'marker-end': 'url(#arrow-diagram)', 'data-edge': key })
  parent.append(path)
  if (at === null) return path
  const label = svg('text', { class: 'edge-count', 'data-key': key, 'data-room': Math.ceil(at.room) + 1 })
  label.append(svg('tspan', { x: at.x, y: at.y1 }), svg('tspan', { class: 'sep' }), svg('tspan', { x: at.x, y: at.y2 }))
  label.dataset.prefix = prefix
  parent.append(label)
  edgeLabels.set(key, { label, path })
  return path
}

// What the drawings show from the traffic, besides the counts (refusal markers, lit firewall
// rows): `watch` is called with every new tally.
/** @param {(entries: TrafficEntry[]) => void} watch */
export function onTraffic (watch) { watchers.push(watch) }
export const currentTraffic = () => traffic

export function updateCounts () {
  /** @type {Map<string, { requests: number, lastStatus: number, lastTime: number }>} */
  const sums = new Map()
  /**
   * @param {string} key
   * @param {TrafficEntry} e
   */
  const add = (key, e) => {
    const s = sums.get(key) ?? { requests: 0, lastStatus: 0, lastTime: 0 }
    s.requests += e.requests
    if (e.lastTime >= s.lastTime) { s.lastTime = e.lastTime; s.lastStatus = e.lastStatus }
    sums.set(key, s)
  }
  for (const e of traffic) {
    const vip = vipOfListener.get(e.listener)
    if (vip !== undefined) { if (e.pool !== '') add(`hlb:${vip}/${e.pool}`, e); continue }
    add(`listener:${e.listener}`, e)
    if (e.rule !== '') {
      add(`rule:${e.listener}/${e.rule}`, e)
      if (e.pool !== '') add(`pool:${e.listener}/${e.rule}`, e)
    }
  }
  for (const [key, { label, path }] of edgeLabels) {
    if (!label.isConnected) { edgeLabels.delete(key); continue }
    const s = sums.get(key)
    const prefix = label.dataset.prefix ?? ''
    const [first, sep, second] = label.children
    if (first) first.textContent = `${prefix}${s?.requests ?? 0} req`
    if (sep) sep.textContent = s ? ' · ' : ''
    if (second) second.textContent = s ? `last ${s.lastStatus}` : ''
    label.setAttribute('class', `edge-count ${s ? statusClass(s.lastStatus) : ''}`)
    label.dataset.requests = String(s?.requests ?? 0)
    path.classList.toggle('active', Boolean(s))
  }
}

/** @param {TrafficEntry[]} entries */
export function showTraffic (entries) {
  traffic = entries
  updateCounts()
  for (const watch of watchers) watch(entries)
}

/** @param {{ listener: string, rule: string, pool: string }} record */
export function flashEdges (record) {
  const vip = vipOfListener.get(record.listener)
  const keys = vip !== undefined ? [`hlb:${vip}/${record.pool}`] : [`listener:${record.listener}`, `rule:${record.listener}/${record.rule}`, `pool:${record.listener}/${record.rule}`]
  for (const key of keys) {
    const e = edgeLabels.get(key)
    if (!e) continue
    e.path.classList.remove('flash')
    // Reading the layout restarts the CSS animation.
    void e.path.getBBox()
    e.path.classList.add('flash')
  }
}

// The arrows a request for this listener and rule takes.
/**
 * @param {string} listener
 * @param {string} rule
 */
export function highlightEdges (listener, rule) {
  for (const key of [`listener:${listener}`, `rule:${listener}/${rule}`, `pool:${listener}/${rule}`]) edgeLabels.get(key)?.path.classList.add('highlight')
}

/** @type {ReturnType<typeof setTimeout> | null} */
let trafficTimer = null
// Events come in bursts; one fetch for a burst.
export function refreshTrafficSoon () {
  if (trafficTimer) return
  trafficTimer = setTimeout(async () => {
    trafficTimer = null
    try { showTraffic(await getTraffic()) } catch { /* the next event retries */ }
  }, 200)
}
