// @ts-check
// What the publishing diagram and the firewall picture share: text measured as the browser will draw
// it, boxes sized to their text (clipped with an ellipsis past a maximum, the whole text then in a
// tooltip), a dagre layout read back as columns, and arrows routed through the free lanes between
// the columns. dagre (served from its package, see src/admin/static-files.ts) ranks the boxes and
// gives every count label a slot of its own beside its arrow; we then draw each arrow straight along
// that slot's edge and bend it only in the gaps between columns, where no text is, so no arrow can
// cross a label or a box. The order within a column is the caller's: the rules' order is the lesson.
import dagre from './vendor/dagre.js'
import { svg } from './dom.js'

/** @typedef {{ text: string, cls: string, reserve?: string, keep?: boolean, attrs?: Record<string, string | number> }} Line */
/** @typedef {{ lines: Line[], width: number, height: number, clipped: string[], padX: number, padY: number }} Box */
/** @typedef {{ x: number, y: number, width: number, height: number }} Rect */
/** @typedef {{ left: number, right: number }} Span */

const PAD_X = 14
const PAD_Y = 10
// A little room for the glyphs that overhang their advance (bold, italics).
const OVERHANG = 2
// What a box with the usual padding adds to the width of its widest line.
export const BOX_PAD = 2 * PAD_X + OVERHANG
export const LINE_GAP = 4
// Between an arrow and the count label beside it.
export const LABEL_OFFSET = 8
// A zone's background reaches this far past its columns; less than half the gap between columns.
export const ZONE_PAD = 12
const TITLE_TOP = 12
const TITLE_GAP = 18

// The kinds of server a pool is (its role in the configuration), in the order both drawings put
// them, top to bottom, and the name each gives them; an unknown role after them all.
/** @type {Record<string, number>} */
export const ROLE_ORDER = { frontend: 0, director: 1, owas: 2, other: 3 }
/** @type {Record<string, string>} */
export const ROLE_TEXT = { frontend: 'Front End pool', director: 'Director pool (HLB VIP)', owas: 'Office Web Apps', other: 'Other servers' }

/** @type {SVGTextElement | null} */
let probe = null
/** @type {Map<string, number>} */
const widths = new Map()
/** @type {Map<string, { height: number, ascent: number }>} */
const metrics = new Map()

// An invisible text element with the page's styles, to measure with.
function probeText () {
  if (probe?.isConnected) return probe
  const root = svg('svg', { class: 'measure', 'aria-hidden': 'true', width: 1, height: 1 })
  probe = svg('text', { x: 0, y: 0 })
  root.append(probe)
  document.body.append(root)
  return probe
}

/**
 * @param {string} text
 * @param {string} cls
 */
export function textWidth (text, cls) {
  const key = cls + '\0' + text
  let w = widths.get(key)
  if (w === undefined) {
    const p = probeText()
    p.setAttribute('class', cls)
    p.textContent = text
    w = p.getComputedTextLength()
    widths.set(key, w)
  }
  return w
}

// A line's height and where its baseline sits, from the box the browser gives its text.
/** @param {string} cls */
export function lineMetrics (cls) {
  let m = metrics.get(cls)
  if (m === undefined) {
    const p = probeText()
    p.setAttribute('class', cls)
    p.textContent = 'Ág'
    const b = p.getBBox()
    m = { height: Math.ceil(b.height), ascent: -b.y }
    metrics.set(cls, m)
  }
  return m
}

// The longest start of `text` that fits in `max` with an ellipsis.
/**
 * @param {string} text
 * @param {string} cls
 * @param {number} max
 */
export function fit (text, cls, max) {
  if (textWidth(text, cls) <= max) return text
  let lo = 0
  let hi = text.length
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (textWidth(text.slice(0, mid) + '…', cls) <= max) lo = mid
    else hi = mid - 1
  }
  return text.slice(0, lo).trimEnd() + '…'
}

// `text` broken at spaces into at most `lines` lines no wider than `max`; the last one clipped.
/**
 * @param {string} text
 * @param {string} cls
 * @param {number} max
 * @param {number} lines
 * @returns {string[]}
 */
export function wrap (text, cls, max, lines) {
  const out = []
  let rest = text.trim()
  while (rest !== '' && out.length < lines - 1) {
    const words = rest.split(' ')
    let n = words.length
    while (n > 1 && textWidth(words.slice(0, n).join(' '), cls) > max) n--
    out.push(words.slice(0, n).join(' '))
    rest = words.slice(n).join(' ')
  }
  if (rest !== '') out.push(rest)
  return out
}

/**
 * A box sized to its lines. A line wider than `max` is clipped, unless it is to be kept whole (the
 * box then grows for it); `reserve` is a wider text the line may later show (a count that grows),
 * measured so the box already has room for it.
 * @param {Line[]} lines
 * @param {{ min?: number, max?: number, padX?: number, padY?: number }} [o]
 * @returns {Box}
 */
export function box (lines, o = {}) {
  const padX = o.padX ?? PAD_X
  const padY = o.padY ?? PAD_Y
  const room = (o.max ?? Infinity) - 2 * padX - OVERHANG
  /** @type {string[]} */
  const clipped = []
  const fitted = lines.map((l) => {
    const text = l.keep ? l.text : fit(l.text, l.cls, room)
    if (text !== l.text) clipped.push(l.text)
    return { ...l, text }
  })
  const inner = Math.max(0, ...fitted.map((l) => Math.max(textWidth(l.text, l.cls), l.reserve === undefined ? 0 : l.keep ? textWidth(l.reserve, l.cls) : Math.min(room, textWidth(l.reserve, l.cls)))))
  const height = 2 * padY + fitted.reduce((h, l) => h + lineMetrics(l.cls).height, 0) + LINE_GAP * Math.max(0, fitted.length - 1)
  return { lines: fitted, width: Math.ceil(Math.max(o.min ?? 0, inner + 2 * padX + OVERHANG)), height: Math.ceil(height), clipped, padX, padY }
}

/**
 * The box drawn at (x, y): a group with `attrs`, its rectangle (`rectClass`) and its lines.
 * @param {Element} parent
 * @param {Box} b
 * @param {number} x
 * @param {number} y
 * @param {string} rectClass
 * @param {Record<string, string | number | null | undefined>} [attrs]
 * @returns {SVGGElement}
 */
export function drawBox (parent, b, x, y, rectClass, attrs = {}) {
  const g = svg('g', attrs)
  if (b.clipped.length > 0) g.append(svg('title', {}, b.clipped.join('\n')))
  g.append(svg('rect', { class: `box ${rectClass}`.trim(), x, y, width: b.width, height: b.height, rx: 8 }))
  let top = y + b.padY
  for (const l of b.lines) {
    const m = lineMetrics(l.cls)
    g.append(svg('text', { class: l.cls, x: x + b.padX, y: top + m.ascent, ...l.attrs }, l.text))
    top += m.height + LINE_GAP
  }
  parent.append(g)
  return g
}

/** @typedef {{ id: string, box: Box, key: number }} GraphNode */
/** @typedef {{ v: string, w: string, name: string, label?: { width: number, height: number } }} GraphEdge */
/** @typedef {{ rect: Rect, column: Span }} PlacedNode */
/** @typedef {{ label: Rect | null, lane: (Span & { at: number }) | null }} PlacedEdge */

/**
 * Ranks and positions from dagre. `key` orders a column (smaller first); an arrow's slot between
 * its two columns follows its ends' keys. `rankdir` 'TB' lays out top to bottom.
 * @param {{ nodes: GraphNode[], edges: GraphEdge[], rankdir?: 'LR' | 'TB', ranksep?: number, nodesep?: number }} spec
 */
export function layout (spec) {
  const rankdir = spec.rankdir ?? 'LR'
  const g = new dagre.graphlib.Graph({ multigraph: true })
  g.setGraph({ rankdir, ranksep: spec.ranksep ?? 76, nodesep: spec.nodesep ?? 18, edgesep: 14, marginx: 0, marginy: 0 })
  g.setDefaultEdgeLabel(() => ({}))
  /** @type {Map<string, GraphNode>} */
  const byId = new Map()
  for (const n of spec.nodes) {
    byId.set(n.id, n)
    g.setNode(n.id, { width: n.box.width, height: n.box.height })
  }
  for (const e of spec.edges) {
    g.setEdge(e.v, e.w, e.label ? { width: e.label.width, height: e.label.height, labelpos: 'r', labeloffset: LABEL_OFFSET } : {}, e.name)
  }
  /** @param {string} v */
  const keyOf = (v) => byId.get(v)?.key ?? 0
  dagre.layout(g, {
    customOrder: (lg) => {
      /** @type {Map<number, Array<{ v: string, k: number[] }>>} */
      const ranks = new Map()
      for (const v of lg.nodes()) {
        const n = lg.node(v)
        // dagre's own nodes on an arrow between two columns go where the arrow's ends are.
        const k = n.edgeObj ? [keyOf(n.edgeObj.v), keyOf(n.edgeObj.w)] : [keyOf(v)]
        const list = ranks.get(n.rank ?? 0) ?? []
        list.push({ v, k })
        ranks.set(n.rank ?? 0, list)
      }
      for (const list of ranks.values()) {
        list.sort((a, b) => { for (let i = 0; i < Math.max(a.k.length, b.k.length); i++) { const d = (a.k[i] ?? 0) - (b.k[i] ?? 0); if (d !== 0) return d } return 0 })
        list.forEach((item, i) => { lg.node(item.v).order = i })
      }
    },
  })
  const tb = rankdir === 'TB'
  // Columns are ranks: every box of a rank has the same centre on the rank axis.
  /** @type {Map<number, Span>} */
  const columns = new Map()
  /** @param {{ x?: number, y?: number, width?: number, height?: number }} n */
  const rectOf = (n) => {
    const width = n.width ?? 0
    const height = n.height ?? 0
    return { x: (n.x ?? 0) - width / 2, y: (n.y ?? 0) - height / 2, width, height }
  }
  /** @param {Rect} r */
  const columnKey = (r) => Math.round(tb ? r.y + r.height / 2 : r.x + r.width / 2)
  /** @param {Rect} r */
  const widen = (r) => {
    const c = columns.get(columnKey(r)) ?? { left: Infinity, right: -Infinity }
    c.left = Math.min(c.left, tb ? r.y : r.x)
    c.right = Math.max(c.right, tb ? r.y + r.height : r.x + r.width)
    columns.set(columnKey(r), c)
  }
  const nodeRects = new Map(g.nodes().map((v) => [v, rectOf(g.node(v))]))
  /** @type {Map<string, Rect>} */
  const labelRects = new Map()
  for (const e of g.edges()) {
    const l = g.edge(e)
    if (l.x !== undefined && l.width) labelRects.set(e.name ?? '', rectOf(l))
  }
  for (const r of [...nodeRects.values(), ...labelRects.values()]) widen(r)
  /** @param {Rect} r */
  const columnOf = (r) => /** @type {Span} */ (columns.get(columnKey(r)))

  /** @type {Map<string, PlacedNode>} */
  const nodes = new Map()
  for (const [v, rect] of nodeRects) nodes.set(v, { rect, column: columnOf(rect) })
  /** @type {Map<string, PlacedEdge>} */
  const edges = new Map()
  for (const e of g.edges()) {
    const label = labelRects.get(e.name ?? '')
    if (label === undefined) { edges.set(e.name ?? '', { label: null, lane: null }); continue }
    // The arrow passes the label's column on the label's near side, where dagre's slot starts.
    const at = (tb ? label.x : label.y) - LABEL_OFFSET
    edges.set(e.name ?? '', { label, lane: { ...columnOf(label), at } })
  }
  const size = g.graph()
  return { width: size.width ?? 0, height: size.height ?? 0, nodes, edges, columns: [...columns.values()].sort((a, b) => a.left - b.left) }
}

/**
 * The path of an arrow from box `a` to box `b` of a layout: straight out of `a` to the edge of its
 * column, a bend in the gap, straight along its lane past the label's column, a bend in the next
 * gap, straight into `b`. `tb` for a top-to-bottom layout.
 * @param {PlacedNode} a
 * @param {PlacedNode} b
 * @param {(Span & { at: number }) | null} lane
 * @param {boolean} [tb]
 */
export function route (a, b, lane, tb = false) {
  // Rank axis first, cross axis second: x, y left to right; y, x top to bottom.
  /** @param {number} r @param {number} c */
  const pt = (r, c) => tb ? `${c} ${r}` : `${r} ${c}`
  const aEnd = tb ? a.rect.y + a.rect.height : a.rect.x + a.rect.width
  const aMid = tb ? a.rect.x + a.rect.width / 2 : a.rect.y + a.rect.height / 2
  const bStart = tb ? b.rect.y : b.rect.x
  const bMid = tb ? b.rect.x + b.rect.width / 2 : b.rect.y + b.rect.height / 2
  let d = `M ${pt(aEnd, aMid)}`
  let r = aEnd
  let c = aMid
  /** @param {number} r2 */
  const straight = (r2) => { if (Math.abs(r2 - r) > 0.5) d += ` L ${pt(r2, c)}`; r = r2 }
  /** @param {number} r2 @param {number} c2 */
  const bend = (r2, c2) => { const m = (r + r2) / 2; d += ` C ${pt(m, c)} ${pt(m, c2)} ${pt(r2, c2)}`; r = r2; c = c2 }
  straight(a.column.right)
  if (lane) { bend(lane.left, lane.at); straight(lane.right) }
  bend(b.column.left, bMid)
  straight(bStart)
  return d
}

// How far a drawing is scaled to fit its container: below the least, its text is too small to
// read from the back of a room and the container scrolls instead; above the most, a small drawing
// would be blown up.
const MIN_SCALE = 0.6
const MAX_SCALE = 1.25

/**
 * The drawing's root, scaled to its container's width within MIN_SCALE and MAX_SCALE.
 * @param {number} width
 * @param {number} height
 * @param {string} label
 * @param {string} arrowId
 */
export function drawingRoot (width, height, label, arrowId) {
  const root = svg('svg', { viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, role: 'img', 'aria-label': label })
  root.style.minWidth = `${Math.ceil(width * MIN_SCALE)}px`
  root.style.maxWidth = `${Math.ceil(width * MAX_SCALE)}px`
  const defs = svg('defs')
  const marker = svg('marker', { id: arrowId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' })
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))
  defs.append(marker)
  root.append(defs)
  return root
}

// Zone titles, in a band above a drawing: each centred on its zone, its first line the title and
// any others subtitles, each broken into lines that fit the zone.
/** @param {Array<{ lines: string[], left: number, right: number }>} zones */
export function titleBand (zones) {
  const inner = (/** @type {{ left: number, right: number }} */ z) => Math.max(1, z.right - z.left - 2 * ZONE_PAD)
  const laid = zones.map((z) => ({
    x: (z.left + z.right) / 2,
    lines: z.lines.flatMap((t, i) => {
      const cls = i === 0 ? 'zone-title' : 'zone-subtitle'
      return wrap(t, cls, inner(z), 3).map((text) => ({ text: fit(text, cls, inner(z)), cls }))
    }),
  }))
  const heightOf = (/** @type {Array<{ cls: string }>} */ lines) => lines.reduce((h, l) => h + lineMetrics(l.cls).height + 2, 0)
  return {
    height: TITLE_TOP + Math.max(0, ...laid.map((z) => heightOf(z.lines))) + TITLE_GAP,
    /** @param {Element} parent */
    draw (parent) {
      for (const z of laid) {
        let y = TITLE_TOP
        for (const l of z.lines) {
          const m = lineMetrics(l.cls)
          parent.append(svg('text', { class: l.cls, x: z.x, y: y + m.ascent, 'text-anchor': 'middle' }, l.text))
          y += m.height + 2
        }
      }
    },
  }
}
