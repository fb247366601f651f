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

/**
 * An arrow from (x1, y1) to (x2, y2) with its count label at (lx, ly).
 * @param {SVGSVGElement} root
 * @param {number} x1
 * @param {number} y1
 * @param {number} x2
 * @param {number} y2
 * @param {string} key
 * @param {number} lx
 * @param {number} ly
 * @param {string} [anchor]
 * @param {string} [prefix] written before the count (the bridged ports)
 * @param {'horizontal' | 'vertical'} [direction]
 */
export function edge (root, x1, y1, x2, y2, key, lx, ly, anchor = 'middle', prefix = '', direction = 'horizontal') {
  const mx = (x1 + x2) / 2
  const d = direction === 'vertical' ? `M ${x1} ${y1} L ${x2} ${y2 - 4}` : `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 4} ${y2}`
  const path = svg('path', { class: 'edge', d, 'marker-end': 'url(#arrow)', 'data-edge': key })
  root.append(path)
  const label = svg('text', { class: 'edge-count', x: lx, y: ly, 'text-anchor': anchor, 'data-key': key }, `${prefix}0 req`)
  label.dataset.prefix = prefix
  root.append(label)
  edgeLabels.set(key, { label, path })
}

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
    label.textContent = s ? `${prefix}${s.requests} req · last ${s.lastStatus}` : `${prefix}0 req`
    label.setAttribute('class', `edge-count ${s ? statusClass(s.lastStatus) : ''}`)
    label.dataset.requests = String(s?.requests ?? 0)
    path.classList.toggle('active', Boolean(s))
  }
}

/** @param {TrafficEntry[]} entries */
export function showTraffic (entries) {
  traffic = entries
  updateCounts()
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
