// @ts-check
// One flow as a sequence diagram: lifelines for the client, lyncproxy and each server that answered
// (and a VIP a hop went through), one row per exchange. A row's request runs left to right on its
// upper line and the answers come back on its lower one; an exchange the proxy answered itself
// stops at lyncproxy's lifeline, where a box says why.
//
// The columns are fixed and sized to the container, and every label is cut to the room its column
// gives it, with an ellipsis and the whole text in a <title>: a label that cannot grow past its
// column cannot reach another label, a box's edge or an arrow, at any window size. Labels sit
// above their arrows, never on them. The drawing is in CSS pixels (no viewBox scaling), so the
// widths measured are the widths drawn.
import { statusClass, svg } from './dom.js'
import { answeredByProxy, answeringHop, laneKey } from './flow-groups.js'

/** @typedef {import('./api.js').FlowRecord} FlowRecord */
/** @typedef {import('./flow-groups.js').Flow} Flow */
/** @typedef {import('./flow-groups.js').Step} Step */
/** @typedef {import('./flow-groups.js').Lane} Lane */

// The status texts of a live record, which carries only the number (a HAR file's entry has its
// own statusText): the statuses a Lync flow and the proxy's own answers give.
/** @type {Record<number, string>} */
const STATUS_TEXT = {
  200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict',
  413: 'Content Too Large', 414: 'URI Too Long', 421: 'Misdirected Request', 431: 'Header Fields Too Large', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 508: 'Loop Detected',
}

/** @param {FlowRecord} r */
export const statusLine = (r) => {
  const text = r.error || r.statusText || STATUS_TEXT[r.status] || ''
  return `${r.status}${text === '' ? '' : ' ' + text}${r.aborted ? ' (aborted)' : ''}`
}
/** @param {string} upstream */
const portOf = (upstream) => upstream.slice(upstream.lastIndexOf(':') + 1)
/** @param {FlowRecord} r */
const listenerSide = (r) => r.listenerPort > 0 ? String(r.listenerPort) : r.listener

// Text widths, measured on a canvas in the font the drawing's CSS gives each kind of label.
const canvas = document.createElement('canvas')
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'))
/** @type {Map<string, string>} */
const fonts = new Map()

/**
 * @param {SVGTextElement} text
 * @param {string} full
 */
function measure (text, full) {
  const key = text.getAttribute('class') ?? ''
  let font = fonts.get(key)
  if (font === undefined) {
    const style = getComputedStyle(text)
    font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`
    fonts.set(key, font)
  }
  ctx.font = font
  return ctx.measureText(full).width
}

/**
 * @typedef {{ text: SVGTextElement, full: string, max: number }} Fitted
 */

/**
 * A label cut to `max` pixels, its whole text in a <title> when cut.
 * @param {SVGElement} parent
 * @param {Fitted[]} fitted every label, for the check after layout
 * @param {string} full
 * @param {number} x
 * @param {number} y the baseline
 * @param {number} max
 * @param {string} cls
 * @param {'start' | 'end' | 'middle'} [anchor]
 * @param {boolean} [middle] cut in the middle, keeping the end: a path's last segments say most
 * @param {string} [whole] the text for the title, when `full` is already shortened
 */
function label (parent, fitted, full, x, y, max, cls, anchor = 'start', middle = false, whole = full) {
  if (max < 12 || full === '') return undefined
  const g = svg('g', { class: 'label-wrap' })
  const text = svg('text', { x: Math.round(x), y: Math.round(y), class: cls, 'text-anchor': anchor })
  g.append(text)
  parent.append(g)
  text.textContent = middle ? cutMiddle(text, full, max) : cut(text, full, max)
  if (text.textContent !== whole) g.prepend(svg('title', {}, whole))
  fitted.push({ text, full: whole, max })
  return text
}

/**
 * @param {SVGTextElement} text
 * @param {string} full
 * @param {number} max
 */
function cut (text, full, max) {
  if (measure(text, full) <= max) return full
  let lo = 0
  let hi = full.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (measure(text, full.slice(0, mid) + '…') <= max) lo = mid
    else hi = mid - 1
  }
  return lo === 0 ? '' : full.slice(0, lo) + '…'
}

/**
 * @param {SVGTextElement} text
 * @param {string} full
 * @param {number} max
 */
function cutMiddle (text, full, max) {
  if (measure(text, full) <= max) return full
  const head = Math.min(full.length, Math.max(6, full.indexOf('/', full.indexOf(' ') + 2)))
  let lo = 0
  let hi = full.length - head
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (measure(text, full.slice(0, head) + '…' + full.slice(full.length - mid)) <= max) lo = mid
    else hi = mid - 1
  }
  if (lo === 0) return cut(text, full, max)
  // A tail that starts at a segment's boundary reads as a path; one cut inside a name does not.
  let tail = full.slice(full.length - lo)
  const slash = tail.indexOf('/')
  if (slash > 0 && slash < tail.length - 1) tail = tail.slice(slash)
  return full.slice(0, head) + '…' + tail
}

// The browser's own lengths after layout, for the rare label the canvas measured short (a glyph
// from a fallback font): each pass cuts the labels still too long, by 1 character, then 3, 5 and 7
// more, 16 in all at the most: the canvas errs by a glyph or two, not by a word.
/** @param {Fitted[]} fitted */
function settle (fitted) {
  for (let pass = 0; pass < 4; pass++) {
    const over = fitted.filter((f) => f.text.textContent !== '' && f.text.getComputedTextLength() > f.max)
    if (over.length === 0) return
    for (const f of over) {
      const shown = (f.text.textContent ?? '').replace(/…$/, '')
      const shorter = shown.slice(0, Math.max(0, shown.length - 1 - pass * 2))
      f.text.textContent = shorter === '' ? '' : shorter + '…'
      const g = f.text.parentNode
      if (g !== null && g.firstChild?.nodeName !== 'title') g.insertBefore(svg('title', {}, f.full), g.firstChild)
    }
  }
}

/**
 * @param {SVGElement} parent
 * @param {number} x1
 * @param {number} x2
 * @param {number} y
 * @param {string} cls
 * @param {string} name what the collision check calls it
 */
function arrow (parent, x1, x2, y, cls, name) {
  const dir = x2 > x1 ? 1 : -1
  parent.append(svg('path', { class: `edge ${cls}`, d: `M${x1} ${y}H${x2 - dir * 9}`, 'data-edge': name }))
  parent.append(svg('path', { class: `head ${cls}`, d: `M${x2} ${y}l${-dir * 10} -5v10z` }))
}

/**
 * @typedef {{
 *   width: number, fontPx: number, revealed: number, selected: number | null
 * }} DrawOptions
 */

/**
 * Draws `flow` into `host` (which must be in the document: labels are measured there).
 * @param {HTMLElement} host
 * @param {Flow} flow
 * @param {Lane[]} lanes
 * @param {DrawOptions} o
 * @returns {SVGSVGElement}
 */
export function drawSequence (host, flow, lanes, o) {
  const fs = Math.max(11, Math.round(o.fontPx))
  const W = Math.max(360, Math.floor(o.width))
  const M = 8
  const gutter = Math.round(Math.min(260, Math.max(130, W * 0.2)))
  // The client's head may reach over the gutter: the gutter has nothing in the heads' row.
  const clientX = gutter + 16
  const span = (W - M - clientX) * (lanes.length > 0 ? Math.max(0.36, 0.5 - 0.03 * lanes.length) : 0.5)
  const proxyX = Math.round(clientX + span)
  const laneGap = lanes.length > 0 ? (W - M - proxyX) / (lanes.length + 0.5) : 0
  /** @type {Map<string, number>} */
  const laneX = new Map(lanes.map((l, i) => [l.key, Math.round(proxyX + laneGap * (i + 1))]))
  const line = Math.ceil(fs * 1.2)
  const headH = 2 * line + 18
  const rowH = 2 * line + 36
  const top0 = headH + 14
  const steps = flow.steps.slice(0, Math.max(0, o.revealed))
  const H = top0 + Math.max(1, steps.length) * rowH + 12

  fonts.clear()
  const root = svg('svg', { class: 'seq', width: W, height: H, role: 'group', 'aria-label': `Sequence of ${flow.name}`, style: `font-size: ${fs}px` })
  root.dataset.width = String(W)
  host.replaceChildren(root)
  /** @type {Fitted[]} */
  const fitted = []

  // Lifelines and their heads.
  const heads = svg('g', { class: 'heads' })
  root.append(heads)
  /**
   * @param {string} key
   * @param {number} x
   * @param {number} boxW
   * @param {string} name
   * @param {string} sub
   * @param {string} cls
   */
  const lifeline = (key, x, boxW, name, sub, cls) => {
    const g = svg('g', { class: `lifeline ${cls}`, 'data-lane': key, 'data-x': x })
    g.append(svg('line', { class: 'life', x1: x, x2: x, y1: headH - 4, y2: H - 6 }))
    const w = Math.max(16, Math.floor(boxW))
    g.append(svg('rect', { class: `box head ${cls}`, x: Math.round(x - w / 2), y: 4, width: w, height: headH - 8, rx: 4 }))
    heads.append(g)
    label(g, fitted, name, x, 4 + 6 + Math.round(fs * 0.95), w - 14, 'head-name', 'middle')
    label(g, fitted, sub, x, 4 + 6 + Math.round(fs * 0.95) + line, w - 14, 'head-sub', 'middle')
  }
  // Each head box is at most as wide as the room to its neighbours, so that no two heads overlap.
  const heads0 = [
    { key: 'client', x: clientX, name: 'client', sub: flow.client, cls: 'client' },
    { key: 'proxy', x: proxyX, name: 'lyncproxy', sub: 'reverse proxy', cls: 'proxy' },
    ...lanes.map((lane) => ({ key: lane.key, x: /** @type {number} */ (laneX.get(lane.key)), name: lane.name, sub: lane.sub, cls: lane.vip ? 'vip' : 'server' })),
  ]
  heads0.forEach((h, i) => {
    const left = i === 0 ? 2 * (h.x - M) : h.x - /** @type {{ x: number }} */ (heads0[i - 1]).x - 8
    const right = i === heads0.length - 1 ? 2 * (W - M - h.x) : /** @type {{ x: number }} */ (heads0[i + 1]).x - h.x - 8
    lifeline(h.key, h.x, Math.min(180, left, right), h.name, h.sub, h.cls)
  })

  const rows = svg('g', { class: 'rows' })
  root.append(rows)
  if (steps.length === 0) {
    label(rows, fitted, o.revealed === 0 && flow.steps.length > 0 ? 'Step ▶ shows the first exchange' : 'No exchange yet', M, top0 + line, W - 2 * M, 'empty')
  }
  steps.forEach((step, i) => {
    const top = top0 + i * rowH
    const y1 = top + 6 + line + 6
    const y2 = y1 + 6 + line + 8
    const base1 = y1 - 7 - Math.ceil(fs * 0.25)
    const base2 = y2 - 7 - Math.ceil(fs * 0.25)
    const r = step.record
    const g = svg('g', {
      class: `step${o.selected === i ? ' selected' : ''}${step.category === 'refused' ? ' refused' : ''}`,
      tabindex: 0,
      role: 'button',
      'data-step': i,
      'data-name': step.name,
      'data-status': r.status,
      'data-member': answeringHop(step)?.member ?? '',
      'data-stop': r.stop,
      'data-id': r.id,
      'data-method': r.method,
      'data-host': r.host,
      'data-path': r.path,
      'aria-label': `Step ${i + 1}, ${step.name}: ${r.method} ${r.host}${r.path}, ${statusLine(r)}. Enter shows both sides.`,
      'aria-pressed': o.selected === i ? 'true' : 'false',
    })
    g.append(svg('rect', { class: 'row-bg', x: 0, y: top, width: W, height: rowH }))
    rows.append(g)

    label(g, fitted, `${i + 1}. ${step.name}`, M, base1, gutter - 2 * M, 'step-name')
    label(g, fitted, r.host, M, base2, gutter - 2 * M, 'step-host')

    // Client ⇄ lyncproxy.
    const port = `:${listenerSide(r)}`
    const portW = Math.min(measureFor(rows, port, 'port'), (proxyX - clientX) / 3)
    arrow(g, clientX, proxyX, y1, 'req', `request ${i + 1}`)
    // The query goes first when the room is short (it is in the title and the details), then the
    // middle of the path.
    const q = r.path.indexOf('?')
    const request = `${r.method} ${r.path}`
    const reqRoom = proxyX - clientX - 26 - portW
    const shortened = q < 0 ? request : `${r.method} ${r.path.slice(0, q)}`
    label(g, fitted, measureFor(rows, request, 'req-label') <= reqRoom ? request : shortened, clientX + 8, base1, reqRoom, 'req-label', 'start', true, request)
    label(g, fitted, port, proxyX - 10, base1, portW + 2, 'port', 'end')
    arrow(g, proxyX, clientX, y2, `res ${statusClass(r.status)}`, `response ${i + 1}`)
    label(g, fitted, statusLine(r), clientX + 8, base2, proxyX - clientX - 18, `status ${statusClass(r.status)}`)

    const right = W - M
    if (answeredByProxy(r)) {
      const x = proxyX + 12
      const boxW = right - x
      const cls = step.category === 'refused' ? 'refusal' : step.category === 'redirect' ? 'redirect' : 'answer'
      g.append(svg('rect', { class: `box ${cls}`, x, y: top + 3, width: Math.max(20, boxW), height: y2 + 4 - (top + 3), rx: 4 }))
      const where = r.stop === 'rule' ? `rule ${r.rule}` : `the listener ${r.listener}`
      const what = `${cls === 'refusal' ? 'refused' : cls === 'redirect' ? 'redirected' : 'answered'} at ${where}`
      label(g, fitted, what, x + 8, base1, boxW - 16, `stop-label ${cls}`)
      label(g, fitted, r.reason || r.error || `answered ${r.status} by the proxy`, x + 8, base2, boxW - 16, 'reason')
      return
    }

    // lyncproxy → the server that answered, and its answer back. A hop through a VIP of
    // lyncproxy's own is on the same arrow: the ports it crossed say so.
    const answering = answeringHop(step)
    const to = answering === undefined ? undefined : laneX.get(laneKey(answering))
    if (answering === undefined || to === undefined) return
    const hops = step.chain.slice(0, step.chain.indexOf(answering) + 1)
    const crossed = [listenerSide(r), ...hops.map((h, n) => `${portOf(h.upstream)}${n < hops.length - 1 ? ' (VIP)' : ''}`)].join(' → ')
    // Nothing else is right of lyncproxy in this row: a label may run on past a near server's
    // arrowhead to the drawing's edge.
    const room = W - M - proxyX - 16
    const failed = answering.upstreamStatus === 0
    arrow(g, proxyX, to, y1, `fwd${failed ? ' failed' : ''}`, `forward ${i + 1}`)
    label(g, fitted, crossed, proxyX + 8, base1, room, 'port-label')
    if (failed) {
      g.append(svg('path', { class: 'cross', d: `M${to - 6} ${y1 - 6}l12 12m0 -12l-12 12` }))
      label(g, fitted, answering.error ? `no answer: ${answering.error}` : 'no answer', proxyX + 8, base2, room, 'status s5')
      return
    }
    const answered = [...new Set([...hops].reverse().map((h) => h.upstreamStatus))].join(' → ')
    arrow(g, to, proxyX, y2, `res ${statusClass(answering.upstreamStatus)}`, `answer ${i + 1}`)
    label(g, fitted, answered, proxyX + 8, base2, room, `status ${statusClass(answering.upstreamStatus)}`)
  })
  settle(fitted)
  return root
}

/**
 * @param {SVGElement} parent
 * @param {string} text
 * @param {string} cls
 */
function measureFor (parent, text, cls) {
  const probe = svg('text', { class: cls })
  parent.append(probe)
  const w = measure(probe, text)
  probe.remove()
  return Math.ceil(w)
}
