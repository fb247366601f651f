// @ts-check
// Both sides of one exchange: the request as received from the client and as forwarded, the
// response as received from the server and as sent to the client, with every field the proxy
// added, replaced or removed marked and, beside it, the header policy's reason (the record's
// requestChanges and responseChanges, the same words `explain` gives). The feed's table and the
// flow view both show an exchange this way.
import { byId, el } from './dom.js'
import { answeredByProxy } from './flow-groups.js'

/** @typedef {import('./api.js').FlowRecord} FlowRecord */
/** @typedef {FlowRecord['requestChanges'][number]} HeaderChange */
/** @typedef {{ change: string, why: string, from?: string }} Mark */

/**
 * The marks of one way through the proxy, by field name: the server's record of what the proxy
 * changed (header-changes.ts, the same words `explain` gives). A record without them (another
 * tool's HAR file) has nothing marked: what the proxy did is not for the page to guess.
 * @param {HeaderChange[]} changes
 * @returns {{ before: Map<string, Mark>, after: Map<string, Mark> }}
 */
export function marksOf (changes) {
  /** @type {Map<string, Mark>} */
  const before = new Map()
  /** @type {Map<string, Mark>} */
  const after = new Map()
  for (const c of changes) {
    const mark = { change: c.change, why: c.why, ...(c.from === undefined ? {} : { from: c.from }) }
    if (c.change === 'removed') before.set(c.name.toLowerCase(), mark)
    else after.set(c.name.toLowerCase(), mark)
  }
  return { before, after }
}

/**
 * @param {string} id
 * @param {string} caption
 * @param {Array<[string, string]>} pairs
 * @param {Map<string, Mark>} marks
 * @param {string} empty what an empty side means
 */
function headerTable (id, caption, pairs, marks, empty) {
  const body = el('tbody')
  if (pairs.length === 0) body.append(el('tr', { class: 'none' }, el('td', { colspan: 3, text: empty })))
  for (const [name, value] of pairs) {
    const mark = marks.get(name.toLowerCase())
    const note = mark === undefined
      ? el('td', { class: 'why' })
      : el('td', { class: 'why' },
        el('span', { class: `change-kind ${mark.change}`, text: mark.change }),
        mark.from === undefined ? null : el('span', { class: 'from', text: ` (was ${mark.from})` }),
        mark.why === '' ? null : el('span', { class: 'reason', text: `: ${mark.why}` }))
    body.append(el('tr', { class: mark === undefined ? undefined : 'changed', 'data-change': mark?.change, 'data-name': name.toLowerCase() },
      el('td', { class: 'name', text: name }), el('td', { class: 'value', text: value }), note))
  }
  return el('div', { class: 'side' },
    el('h4', { id: `${id}-title`, text: caption }),
    el('table', { id, class: 'exchange-headers' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Field' }), el('th', { text: 'Value' }), el('th', { text: 'Changed by the proxy' }))),
      body))
}

/**
 * The four sides of one exchange, as a block. `prefix` names its tables: `${prefix}-received`,
 * `-forwarded`, `-upstream-response`, `-response`.
 * @param {FlowRecord} r
 * @param {string} prefix
 */
export function exchangeSides (r, prefix) {
  const proxyAnswered = answeredByProxy(r)
  const forwarded = r.forwardedHeaders ?? []
  const fromServer = r.upstreamResponseHeaders ?? []
  const toClient = r.responseHeaders ?? []
  const req = marksOf(r.requestChanges ?? [])
  const res = marksOf(r.responseChanges ?? [])
  const answered = proxyAnswered ? `(none: the proxy answered this request itself${r.reason ? ': ' + r.reason : ''})` : ''
  const notForwarded = proxyAnswered ? answered : r.upstreamStatus === 0 && r.error !== '' ? `(none recorded: ${r.error})` : '(none recorded)'
  return el('div', { class: 'sides' },
    headerTable(`${prefix}-received`, 'Request as received from the client', r.requestHeaders ?? [], req.before, '(none recorded)'),
    headerTable(`${prefix}-forwarded`, r.upstream ? `Request as forwarded to ${r.upstream}` : 'Request as forwarded', forwarded, req.after, proxyAnswered ? answered : notForwarded),
    headerTable(`${prefix}-upstream-response`, r.upstream ? `Response as received from ${r.member || r.upstream}` : 'Response as received from the server', fromServer, res.before, proxyAnswered ? answered : notForwarded),
    headerTable(`${prefix}-response`, 'Response as sent to the client', toClient, res.after, '(none recorded)'))
}

/** @param {FlowRecord} r */
export const exchangeTitle = (r) => `${r.method} ${r.host}${r.path} → ${r.status}${r.error ? ' ' + r.error : ''}`

/**
 * @param {FlowRecord} r
 * @param {HTMLTableRowElement} row the feed's row of it, marked as selected
 */
export function showDetails (r, row) {
  for (const selected of document.querySelectorAll('#feed tbody tr.selected')) selected.classList.remove('selected')
  row.classList.add('selected')
  const panel = byId('details')
  panel.hidden = false
  panel.replaceChildren(
    el('h3', { id: 'details-title', text: `${exchangeTitle(r)}  (exchange ${r.id})` }),
    exchangeSides(r, 'details'))
}
