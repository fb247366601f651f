// @ts-check
// "Try it: where would this request go?": the form asks /api/explain and shows the answer, the
// rules in order with why each did or did not match, the header changes and the port summary rows
// crossed; the rule taken is highlighted in the diagram.
import { getExplain, messageOf } from './api.js'
import { byId, el } from './dom.js'
import { highlightRule } from './diagram.js'

/** @type {Record<import('./api.js').RuleVerdict, string>} */
const VERDICT_TEXT = { matched: 'taken', shadowed: 'would match, earlier rule won', 'other-listener': 'other listener', 'other-name': 'other name', 'other-path': 'other path' }

/** @param {SubmitEvent} ev */
async function explain (ev) {
  ev.preventDefault()
  const out = byId('try-result')
  const form = /** @type {HTMLFormElement} */ (ev.target)
  const q = new URLSearchParams({ url: form.url.value.trim() })
  if (form.listener.value) q.set('listener', form.listener.value)
  for (const line of form.headers.value.split('\n')) if (line.trim() !== '') q.append('header', line.trim())
  out.replaceChildren(el('p', { text: 'asking…' }))
  let r
  try {
    r = await getExplain(q)
  } catch (err) {
    out.replaceChildren(el('p', { class: 'error', text: messageOf(err) }))
    return
  }
  const parts = []
  parts.push(el('p', {}, 'Listener ', el('strong', { text: `${r.listener.name} (${r.listener.protocol} :${r.listener.port})` }), `, host ${r.host}, path ${r.path}`))
  const o = r.outcome
  let answer
  // A forward has an upstream and a redirect its location (explain-schema.ts).
  if (o.action === 'forward') answer = `Forwarded by rule ${o.rule} to ${(r.upstream?.targets ?? []).map((t) => t.url).join(' or ')}`
  else if (o.action === 'redirect') answer = `Redirected by ${o.rule}: ${r.redirect?.status} → ${r.redirect?.location}`
  else answer = `Answered by the proxy: ${o.status} ${o.code} (${o.reason})`
  parts.push(el('div', { class: 'answer', 'data-action': o.action, text: answer }))

  const rules = el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: 'Rule' }), el('th', { text: 'Verdict' }), el('th', { text: 'Why' }))))
  const rb = el('tbody')
  for (const t of r.rules) {
    const cls = t.verdict === 'matched' ? 'matched' : t.verdict === 'shadowed' ? 'shadowed' : 'no'
    rb.append(el('tr', { 'data-verdict': t.verdict, 'data-rule': t.rule }, el('td', { text: t.rule }), el('td', { class: `verdict ${cls}`, text: VERDICT_TEXT[t.verdict] }), el('td', { text: t.why })))
  }
  rules.append(rb)
  parts.push(el('h3', { text: 'Rules, in order' }), rules)

  if (r.headers) {
    const ht = el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: 'Change' }), el('th', { text: 'Header' }), el('th', { text: 'Why' }))))
    const hb = el('tbody')
    for (const h of r.headers.added) hb.append(el('tr', {}, el('td', { text: 'added' }), el('td', { class: 'mono', text: `${h.name}: ${h.value}` }), el('td', { text: h.why })))
    for (const h of r.headers.replaced) hb.append(el('tr', {}, el('td', { text: 'replaced' }), el('td', { class: 'mono', text: `${h.name}: ${h.from} → ${h.to}` }), el('td', { text: h.why })))
    for (const h of r.headers.removed) hb.append(el('tr', {}, el('td', { text: 'removed' }), el('td', { class: 'mono', text: `${h.name}: ${h.value}` }), el('td', { text: h.why })))
    for (const h of r.headers.kept) hb.append(el('tr', {}, el('td', { text: 'kept' }), el('td', { class: 'mono', text: `${h.name}: ${h.value}` }), el('td', { text: h.why })))
    ht.append(hb)
    parts.push(el('h3', { text: 'Headers to the upstream' }), ht)
  }
  const t = r.timeouts
  parts.push(el('p', { text: `Timeouts: ${t.connectSeconds === null ? '' : `connect ${t.connectSeconds} s, response ${t.responseSeconds} s; `}client idle ${t.clientIdleSeconds} s, request headers ${t.requestHeadersSeconds} s` }))
  if (r.seedRows.length > 0) {
    const list = el('ul')
    for (const s of r.seedRows) list.append(el('li', { text: `${s.table}: ${s.protocol}, ${s.source} → ${s.destination}` }))
    parts.push(el('h3', { text: 'Port summary rows crossed' }), list)
  }
  out.replaceChildren(...parts)
  highlightRule(r.listener.name, o.rule)
}

export function setUpTryIt () {
  byId('try-form').addEventListener('submit', explain)
}
