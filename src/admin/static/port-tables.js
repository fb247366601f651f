// @ts-check
// The firewall port tables from /api/ports, in the columns of Microsoft's port summaries.
import { byId, el } from './dom.js'

/** @param {import('./api.js').Ports} portData */
export function drawPorts (portData) {
  const host = byId('ports')
  host.replaceChildren()
  for (const t of portData.tables) {
    const table = el('table', { 'data-table': t.id })
    table.append(el('thead', {}, el('tr', {}, ...t.columns.map((c) => el('th', { text: c })))))
    const body = el('tbody')
    for (const r of t.rows) {
      body.append(el('tr', { class: r.served ? undefined : 'not-served' },
        el('td', { class: 'mono', text: r.protocol }), el('td', { text: r.source }), el('td', { text: r.destination }),
        el('td', { text: r.description }), el('td', { text: r.lyncproxy })))
    }
    table.append(body)
    host.append(el('h3', { text: t.title }), el('div', { class: 'table-wrap' }, table))
  }
}
