// @ts-check
// The live feed: one row per finished exchange from /api/flows (Server-Sent Events), newest first;
// each event also flashes the arrows it took and refreshes the counts, and goes to the flow view.
// Paused, the rows and the flow view stand still while the records wait here (the counts and
// arrows above keep moving: they are the proxy's, not the lesson's).
import { withToken } from './api.js'
import { byId, el, one, statusClass } from './dom.js'
import { flashEdges, refreshTrafficSoon } from './edge-counts.js'
import { showDetails } from './headers-panel.js'
import { MAX_LIVE, pushBounded } from './live-window.js'

/** @typedef {import('./api.js').FlowRecord} FlowRecord */

const MAX_ROWS = 200
// The ids seen, far more than the server's history (what a reconnect replays).
const MAX_KNOWN = 5000
// The records shown, by id: a reconnecting EventSource replays the server's recent history.
/** @type {Map<string, FlowRecord>} */
const records = new Map()

/** @param {number} ms */
function timeOf (ms) {
  const d = new Date(ms)
  return d.toTimeString().slice(0, 8)
}

/**
 * @param {HTMLTableSectionElement} feedBody
 * @param {FlowRecord} r
 */
function addRow (feedBody, r) {
  records.set(r.id, r)
  const status = el('td', { class: `status ${statusClass(r.status)}`, text: `${r.status}${r.error ? ' ' + r.error : ''}${r.aborted ? ' (aborted)' : ''}` })
  const row = el('tr', { tabindex: 0, 'data-id': r.id, 'data-rule': r.rule, 'data-listener': r.listener },
    el('td', { text: timeOf(r.time) }),
    el('td', { text: r.client }),
    el('td', { text: r.listener }),
    el('td', { class: 'request', text: `${r.method} ${r.host}${r.path}` }),
    el('td', { text: r.rule || '(none)' }),
    el('td', { text: r.upstream ? `${r.pool} ${r.upstream}` : '(answered by the proxy)' }),
    status,
    el('td', { text: `${r.durationMs.toFixed(1)} ms` }),
  )
  row.addEventListener('click', () => showDetails(r, row))
  row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); showDetails(r, row) } })
  feedBody.prepend(row)
  while (feedBody.rows.length > MAX_ROWS) {
    const last = feedBody.rows[feedBody.rows.length - 1]
    if (last === undefined) break
    records.delete(last.dataset.id ?? '')
    last.remove()
  }
}

/**
 * Each record reaches onRecord once: the feed is the one that knows which it has seen. onWaiting
 * counts what a paused feed holds and the older ones it let go (it holds the newest MAX_LIVE).
 * @typedef {{ onRecord: (r: FlowRecord) => void, onWaiting: (n: number, dropped: number) => void }} FeedHooks
 */

/** @type {FeedHooks} */
const NO_HOOKS = { onRecord: () => {}, onWaiting: () => {} }

/**
 * @param {FeedHooks} [hooks]
 * @returns {{ pause: () => void, resume: () => void }}
 */
export function connectFeed (hooks = NO_HOOKS) {
  let paused = false
  /** @type {FlowRecord[]} */
  let waiting = []
  let dropped = 0
  // Every id seen, not only the rows kept: a reconnect replays the server's whole history, which
  // may be longer than the table. The flow view takes the feed's word for it.
  /** @type {Set<string>} */
  const known = new Set()
  const pill = byId('connection')
  /** @type {HTMLTableSectionElement} */
  const feedBody = one('#feed tbody')
  /** @type {HTMLAnchorElement} */
  const download = one('#download-har')
  download.href = withToken('/api/flows.har')
  const source = new EventSource(withToken('/api/flows'))
  source.addEventListener('open', () => { pill.textContent = 'live'; pill.className = 'pill live' })
  source.addEventListener('error', () => { pill.textContent = 'reconnecting…'; pill.className = 'pill down' })
  source.addEventListener('exchange', (ev) => {
    const record = /** @type {FlowRecord} */ (JSON.parse(/** @type {MessageEvent<string>} */ (ev).data))
    if (records.has(record.id) || known.has(record.id)) return
    known.add(record.id)
    while (known.size > MAX_KNOWN) known.delete(/** @type {string} */ (known.values().next().value))
    flashEdges(record)
    refreshTrafficSoon()
    if (paused) {
      dropped += pushBounded(waiting, record, MAX_LIVE).length
      hooks.onWaiting(waiting.length, dropped)
      return
    }
    addRow(feedBody, record)
    hooks.onRecord(record)
  })
  // What the server let go because this page read too slowly; while paused, told on Resume, above
  // the rows it comes with (told at once, the rows added on Resume would push it out of the table).
  let tooSlow = 0
  /** @param {string} text */
  const notice = (text) => feedBody.prepend(el('tr', { class: 'notice' }, el('td', { colspan: 8, class: 'error', text })))
  const slowText = (/** @type {number} */ n) => `${n} exchanges not shown: this page read too slowly`
  source.addEventListener('dropped', (ev) => {
    const { dropped: n } = /** @type {{ dropped: number }} */ (JSON.parse(/** @type {MessageEvent<string>} */ (ev).data))
    if (paused) tooSlow += n
    else notice(slowText(n))
  })
  return {
    pause () { paused = true },
    resume () {
      paused = false
      const held = waiting
      for (const record of held) { addRow(feedBody, record); hooks.onRecord(record) }
      if (dropped > 0) notice(`${dropped} exchanges not shown: they came while paused, before the newest ${MAX_LIVE}`)
      if (tooSlow > 0) notice(slowText(tooSlow))
      waiting = []
      dropped = 0
      tooSlow = 0
      hooks.onWaiting(0, 0)
    },
  }
}
