// @ts-check
// The headers of one exchange of the feed, as received from the client and as forwarded, with the
// fields the proxy changed marked.
import { byId, el, one } from './dom.js'

/** @typedef {import('./api.js').FlowRecord} FlowRecord */

/**
 * @param {HTMLTableSectionElement} tbody
 * @param {Array<[string, string]>} pairs
 * @param {Array<[string, string]>} [other] the other side: fields not in it are marked as changed
 */
function headerRows (tbody, pairs, other) {
  tbody.replaceChildren()
  const otherSet = new Set((other ?? []).map(([n, v]) => n.toLowerCase() + '\0' + v))
  if (pairs.length === 0) tbody.append(el('tr', {}, el('td', { colspan: 2, text: '(none: the proxy answered this request itself)' })))
  for (const [name, value] of pairs) {
    const changed = other !== undefined && !otherSet.has(name.toLowerCase() + '\0' + value)
    tbody.append(el('tr', { class: changed ? 'changed' : undefined }, el('td', { text: name }), el('td', { text: value })))
  }
}

/**
 * @param {FlowRecord} r
 * @param {HTMLTableRowElement} row the feed's row of it, marked as selected
 */
export function showDetails (r, row) {
  for (const selected of document.querySelectorAll('#feed tbody tr.selected')) selected.classList.remove('selected')
  row.classList.add('selected')
  byId('details').hidden = false
  byId('details-title').textContent = `${r.method} ${r.host}${r.path} → ${r.status}  (exchange ${r.id})`
  byId('details-forwarded-title').textContent = r.upstream ? `As forwarded to ${r.upstream} (changed fields marked)` : 'As forwarded'
  headerRows(one('#details-received tbody'), r.requestHeaders)
  headerRows(one('#details-forwarded tbody'), r.forwardedHeaders, r.requestHeaders)
}
