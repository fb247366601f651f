// @ts-check
// The publishing diagram, drawn from /api/routes in the zones of Microsoft's drawing: Internet
// clients → the external interface (listeners) → publishing rules → the internal network (pools,
// and an HLB VIP of this proxy with the servers behind it). dagre places the boxes and the count
// labels (graph-layout.js). Each listener's rules go top to bottom in the order they are tried,
// because the first that matches wins. What the proxy refused is drawn where it stopped: a red
// marker hanging off the listener, the rule or the pool, with its count and its reason, so that
// "nothing unpublished is forwarded" can be seen.
import { byId, svg } from './dom.js'
import { countReserve, countRoom, currentTraffic, edge, highlightEdges, onTraffic, overflows, updateCounts, vipOfListener } from './edge-counts.js'
import { box, BOX_PAD, drawBox, drawingRoot, fit, layout, LINE_GAP, lineMetrics, ROLE_ORDER, ROLE_TEXT, route, textWidth, titleBand, wrap, ZONE_PAD } from './graph-layout.js'

/** @typedef {import('./api.js').RoutesView} RoutesView */
/** @typedef {import('./api.js').RouteView} RouteView */
/** @typedef {import('./api.js').Ports} Ports */
/** @typedef {import('./api.js').TrafficEntry} TrafficEntry */
/** @typedef {RoutesView['listeners'][number]} ListenerView */
/** @typedef {RoutesView['pools'][number]} PoolView */
/** @typedef {import('./graph-layout.js').Box} Box */
/** @typedef {import('./graph-layout.js').GraphNode} GraphNode */
/** @typedef {import('./graph-layout.js').GraphEdge} GraphEdge */
/** @typedef {import('./graph-layout.js').PlacedNode} PlacedNode */

// The widest a box grows before its text is clipped (the whole text is then its tooltip).
const MAX = { client: 240, listener: 300, rule: 340, pool: 340, refusal: 260 }
// Between the stacked boxes under the layout (the HLB VIPs and what they balance).
const STACK_GAP = 28

// A listener's rules, each once with the names it is published under, in rule order.
/**
 * @param {ListenerView} listener
 * @returns {Array<RouteView & { names: string[] }>}
 */
function rulesOf (listener) {
  const byKey = new Map()
  for (const entry of listener.names) {
    for (const r of entry.rules) {
      const key = r.implicit ? '(implicit)' : r.rule
      let rule = byKey.get(key)
      if (!rule) { rule = { ...r, names: [] }; byKey.set(key, rule) }
      rule.names.push(entry.name)
    }
  }
  return [...byKey.values()].sort((a, b) => (a.implicit ? 1e9 : a.index) - (b.implicit ? 1e9 : b.index))
}

/**
 * @typedef {{ key: string, stop: 'listener' | 'rule' | 'pool', listener: string, rule: string, pool: string,
 *   code: string, status: number, requests: number, reason: string }} Refusal
 */

// The requests the proxy answered itself with an error, by where they stopped and their code.
// The HLB VIP's own refusals are its business, not the reverse proxy's publishing.
/**
 * @param {TrafficEntry[]} entries
 * @returns {Map<string, Refusal>}
 */
export function refusalsOf (entries) {
  /** @type {Map<string, Refusal>} */
  const out = new Map()
  for (const e of entries) {
    const code = e.refusal
    if (code === '' || vipOfListener.has(e.listener)) continue
    const stop = e.stop === 'pool' && e.pool !== '' ? 'pool' : e.stop === 'rule' && e.rule !== '' ? 'rule' : 'listener'
    const at = stop === 'pool' ? `pool:${e.pool}` : stop === 'rule' ? `rule:${e.listener}/${e.rule}` : `listener:${e.listener}`
    const key = `${at}:${code}`
    const r = out.get(key) ?? { key, stop, listener: e.listener, rule: stop === 'listener' ? '' : e.rule, pool: stop === 'pool' ? e.pool : '', code, status: e.lastStatus, requests: 0, reason: e.reason }
    r.requests += e.requests
    if (e.reason !== '') r.reason = e.reason
    out.set(key, r)
  }
  return out
}

/** @param {Refusal} r */
const refusalText = (r) => `${r.status} ${r.code.replace(/_/g, ' ')} ×${r.requests}`

/** @type {{ routes: RoutesView | null, portData: Ports | null, refusals: string, highlight: [string, string] | null }} */
const state = { routes: null, portData: null, refusals: '', highlight: null }
/** @type {Map<string, SVGTextElement>} */
const refusalCounts = new Map()

onTraffic((entries) => {
  const refusals = refusalsOf(entries)
  // A new kind of refusal is a new box: lay out again. A count that moved is new text in its box.
  if ([...refusals.keys()].sort().join('\n') !== state.refusals) { drawDiagram(state.routes, state.portData); return }
  for (const [key, r] of refusals) {
    const text = refusalCounts.get(key)
    if (text) { text.textContent = refusalText(r); text.parentElement?.setAttribute('data-count', String(r.requests)) }
  }
  if (overflows(byId('diagram'))) drawDiagram(state.routes, state.portData)
})

/**
 * @param {RoutesView | null} routes
 * @param {Ports | null} portData the Director rows not served here are drawn too
 */
export function drawDiagram (routes, portData) {
  state.routes = routes
  state.portData = portData
  const host = byId('diagram')
  host.replaceChildren()
  refusalCounts.clear()
  if (!routes) return
  const listeners = routes.listeners.filter((l) => l.interface !== 'internal').map((l) => ({ ...l, rules: rulesOf(l) }))
  const internal = routes.listeners.filter((l) => l.interface === 'internal')
  vipOfListener.clear()
  for (const l of internal) vipOfListener.set(l.name, l.address)
  const refusals = refusalsOf(currentTraffic())
  state.refusals = [...refusals.keys()].sort().join('\n')
  const pools = [...routes.pools].sort((a, b) => (ROLE_ORDER[a.role ?? ''] ?? 4) - (ROLE_ORDER[b.role ?? ''] ?? 4))
  const directorRows = (portData?.tables.find((t) => t.id === 'director')?.rows ?? []).filter((r) => !r.served)

  // The HLB VIPs of this proxy (internal listeners, layer-4 frontends) and the pools they balance.
  /** @type {Map<string, { address: string, listeners: ListenerView[], tcp: RoutesView['tcp'], pools: string[] }>} */
  const vips = new Map()
  /** @param {string} address */
  const vipOf = (address) => {
    let v = vips.get(address)
    if (!v) { v = { address, listeners: [], tcp: [], pools: [] }; vips.set(address, v) }
    return v
  }
  for (const l of internal) {
    const v = vipOf(l.address)
    v.listeners.push(l)
    for (const entry of l.names) for (const r of entry.rules) if (r.pool !== null && !v.pools.includes(r.pool)) v.pools.push(r.pool)
  }
  for (const f of routes.tcp ?? []) {
    const v = vipOf(f.address)
    v.tcp.push(f)
    if (!v.pools.includes(f.pool)) v.pools.push(f.pool)
  }
  const behindVip = new Set([...vips.values()].flatMap((v) => v.pools))
  const reached = new Set(listeners.flatMap((l) => l.rules.map((r) => r.pool)).filter((p) => p !== null))
  // The pools a rule reaches are in the layout; the ones only a VIP reaches are under it.
  const laidOut = pools.filter((p) => reached.has(p.name))
  const zoneTitles = {
    internet: ['Internet'],
    external: ['External interface'],
    rules: ['Publishing rules'],
    internal: ['Internal network', 'behind the internal interface'],
  }

  /** @type {GraphNode[]} */
  const nodes = []
  /** @type {GraphEdge[]} */
  const edges = []
  /** @type {Map<string, { box: Box, rectClass: string, attrs: Record<string, string> }>} */
  const drawn = new Map()
  /** @type {Map<string, { v: string, w: string, key: string, prefix: string }>} */
  const arrows = new Map()
  /** @type {Map<string, { box: Box, attrs: Record<string, string>, anchor: string, key: string }>} */
  const markers = new Map()
  const reserve = (/** @type {string} */ prefix) => {
    const r = countReserve(prefix)
    return box([{ text: r.first, cls: 'edge-count' }, { text: r.second, cls: 'edge-count' }], { padX: 0, padY: 0 })
  }
  /**
   * @param {string} id
   * @param {Box} b
   * @param {number} key
   * @param {string} rectClass
   * @param {Record<string, string>} attrs
   */
  const addNode = (id, b, key, rectClass, attrs) => {
    nodes.push({ id, box: b, key })
    drawn.set(id, { box: b, rectClass, attrs })
  }
  /**
   * @param {string} v
   * @param {string} w
   * @param {string} key the count label's key
   * @param {string} [prefix]
   */
  const addEdge = (v, w, key, prefix = '') => {
    const name = `${v}>${w}`
    edges.push({ v, w, name, label: reserve(prefix) })
    arrows.set(name, { v, w, key, prefix })
  }
  // Where the boxes hanging off a listener or a rule go in the next column: after the listener's
  // rules; among the pools, level with the rule.
  /** @type {Map<string, number>} */
  const nextKey = new Map()
  /** @param {string} id @param {Refusal} r @param {number} n */
  const addRefusal = (id, r, n) => {
    const reason = r.reason === '' ? [] : wrap(r.reason, 'refusal-reason', MAX.refusal - 28, 3).map((t) => ({ text: t, cls: 'refusal-reason' }))
    // The count line is rewritten as the count moves: whole, with room for a larger count.
    const b = box([{ text: refusalText(r), cls: 'refusal-label', reserve: refusalText({ ...r, requests: countRoom() }), keep: true }, ...reason], { max: MAX.refusal })
    const first = b.lines[0]
    if (first) first.attrs = { 'data-room': Math.ceil(b.width - 2 * b.padX) }
    if (r.reason !== '' && !b.clipped.includes(r.reason)) b.clipped.push(r.reason)
    const attrs = { class: 'refusal', 'data-refusal': r.code, 'data-stop': r.stop, 'data-listener': r.listener, 'data-rule': r.rule, 'data-pool': r.pool, 'data-count': String(r.requests) }
    const anchor = r.stop === 'pool' ? `pool:${r.pool}` : r.stop === 'rule' ? `rule:${r.listener}/${r.rule}` : `listener:${r.listener}`
    // The marker is the label of an arrow to an empty box in the next column: dagre gives it its
    // own slot in the column right after the box it hangs off, the one between two columns of boxes.
    const ghost = `ghost:${id}`
    nodes.push({ id: ghost, box: { lines: [], width: 0, height: 0, clipped: [], padX: 0, padY: 0 }, key: (nextKey.get(anchor) ?? 1e6) + n * 1e-3 })
    const name = `${anchor}>${id}`
    edges.push({ v: anchor, w: ghost, name, label: { width: b.width, height: b.height } })
    markers.set(name, { box: b, attrs, anchor, key: r.key })
  }

  addNode('clients', box([{ text: 'Clients', cls: 'label' }, { text: 'Lync, mobile, browsers', cls: 'sublabel' }], { max: MAX.client }), 0, '', { class: 'client' })
  let ruleKey = 0
  // Pool → the places of the rules that reach it.
  /** @type {Map<string, number[]>} */
  const reachedFrom = new Map()
  listeners.forEach((l, li) => {
    const id = `listener:${l.name}`
    addNode(id, box([{ text: `${l.protocol.toUpperCase()} :${l.port}`, cls: 'label' }, { text: `${l.name} ${l.address}`, cls: 'sublabel' }], { max: MAX.listener }),
      li, '', { class: 'listener', 'data-listener': l.name })
    addEdge('clients', id, `listener:${l.name}`)
    for (const r of l.rules) {
      const rid = `rule:${l.name}/${r.rule}`
      const kind = r.action === 'deny' ? 'deny' : r.action === 'redirect' ? 'redirect' : ''
      const what = r.action === 'forward' ? `→ ${r.pool}` : r.action === 'redirect' ? `→ ${r.redirect?.status ?? 301}` : '→ 403'
      const names = r.implicit ? 'names no http rule forwards' : r.names.join(', ')
      const paths = r.paths.length === 1 && r.paths[0] === '/' ? '' : ` ${r.paths.join(' ')}`
      // A long name is clipped before its arrow: where the rule sends a request is the point.
      const name = fit(r.rule, 'label', MAX.rule - BOX_PAD - textWidth(`  ${what}`, 'label'))
      const b = box([{ text: `${name}  ${what}`, cls: 'label' }, { text: names + paths, cls: 'sublabel' }], { max: MAX.rule })
      if (name !== r.rule) b.clipped.unshift(`${r.rule}  ${what}`)
      addNode(rid, b, ruleKey, kind, { class: 'rule', 'data-listener': l.name, 'data-rule': r.rule })
      if (r.pool !== null) reachedFrom.set(r.pool, [...(reachedFrom.get(r.pool) ?? []), ruleKey])
      addEdge(id, rid, `rule:${l.name}/${r.rule}`)
      nextKey.set(rid, ruleKey + 0.5)
      ruleKey++
    }
    nextKey.set(id, ruleKey - 0.5)
  })
  // A pool sits level with the rules that reach it.
  laidOut.forEach((p, i) => {
    const from = reachedFrom.get(p.name) ?? []
    const key = from.reduce((sum, k) => sum + k, 0) / Math.max(1, from.length) + i * 1e-3
    addNode(`pool:${p.name}`, poolBox(p, behindVip.has(p.name)), key, 'pool', { class: 'pool', 'data-pool': p.name })
    nextKey.set(`pool:${p.name}`, key)
  })
  for (const l of listeners) {
    for (const r of l.rules) {
      if (r.pool !== null && reached.has(r.pool)) addEdge(`rule:${l.name}/${r.rule}`, `pool:${r.pool}`, `pool:${l.name}/${r.rule}`, `:${r.ports.join('/')} `)
    }
  }
  let n = 0
  for (const r of refusals.values()) {
    const at = r.stop === 'pool' ? `pool:${r.pool}` : r.stop === 'rule' ? `rule:${r.listener}/${r.rule}` : `listener:${r.listener}`
    if (drawn.has(at)) addRefusal(`refusal:${r.key}`, r, n++)
  }

  const placed = layout({ nodes, edges })
  const columns = placed.columns

  // Under the layout, in the internal network's column: each VIP with the pools it balances, then
  // the pools no rule reaches, then the Director rows this proxy does not carry. Each knows its
  // size now and is drawn once the title band above everything has its height.
  const poolColumn = laidOut.length > 0 ? placed.nodes.get(`pool:${laidOut[0]?.name}`)?.column : undefined
  const stackLeft = poolColumn?.left ?? (columns.length > 0 ? (columns[columns.length - 1]?.right ?? 0) + 70 : 0)
  let stackRight = poolColumn?.right ?? stackLeft
  /** @type {Array<{ height: number, draw: (front: SVGGElement, y: number) => void }>} */
  const stack = []
  for (const v of vips.values()) {
    const web = v.listeners.map((l) => `:${l.port}`).join(' ')
    const l4 = v.tcp.map((f) => `:${f.port}`).join(' ')
    const under = v.pools.map((name) => pools.find((p) => p.name === name)).filter((p) => p !== undefined && !reached.has(p.name))
    const vipBox = box([{ text: `HLB VIP ${v.address} (lyncproxy)`, cls: 'label', keep: true }, { text: `web ${web || '–'}`, cls: 'sublabel' }, { text: `layer 4 ${l4 || '–'}`, cls: 'sublabel' }], { max: MAX.pool })
    // The VIP over what it balances, laid out top to bottom.
    /** @type {GraphNode[]} */
    const sn = [{ id: 'vip', box: vipBox, key: 0 }]
    /** @type {GraphEdge[]} */
    const se = []
    /** @type {Map<string, Box>} */
    const boxes = new Map()
    under.forEach((p, i) => {
      if (p === undefined) return
      const b = poolBox(p, true)
      boxes.set(p.name, b)
      sn.push({ id: `pool:${p.name}`, box: b, key: i })
      se.push({ v: 'vip', w: `pool:${p.name}`, name: p.name, label: reserve('') })
    })
    const sub = layout({ nodes: sn, edges: se, rankdir: 'TB', ranksep: 56 })
    const vipRect = /** @type {PlacedNode} */ (sub.nodes.get('vip')).rect
    // A pool whose member is this VIP is reached through this very proxy again: a dashed link down
    // the right-hand side of the pools, where nothing else is drawn.
    const linked = laidOut.filter((p) => p.members.some((m) => m.address === v.address))
    const linkX = Math.max(poolColumn?.right ?? 0, stackLeft + vipRect.x + vipRect.width) + 18
    stackRight = Math.max(stackRight, stackLeft + sub.width, linked.length > 0 ? linkX + 8 : 0)
    stack.push({
      height: sub.height,
      draw (front, dy) {
        const dx = stackLeft
        /** @param {PlacedNode} p @returns {PlacedNode} */
        const move = (p) => ({ rect: { ...p.rect, x: p.rect.x + dx, y: p.rect.y + dy }, column: { left: p.column.left + dy, right: p.column.right + dy } })
        const vipAt = move(/** @type {PlacedNode} */ (sub.nodes.get('vip')))
        drawBox(front, vipBox, vipAt.rect.x, vipAt.rect.y, 'vip', { class: 'vip', 'data-vip': v.address })
        for (const p of under) {
          const b = p === undefined ? undefined : boxes.get(p.name)
          const placedPool = p === undefined ? undefined : sub.nodes.get(`pool:${p.name}`)
          if (p === undefined || b === undefined || placedPool === undefined) continue
          const at = move(placedPool)
          drawBox(front, b, at.rect.x, at.rect.y, 'pool', { class: 'pool', 'data-pool': p.name })
          const e = sub.edges.get(p.name)
          const lane = e?.lane ? { left: e.lane.left + dy, right: e.lane.right + dy, at: e.lane.at + dx } : null
          const label = e?.label ? countAt(e.label.x + dx, e.label.y + dy, e.label.width) : null
          edge(front, route(vipAt, at, lane, true), `hlb:${v.address}/${p.name}`, label, '')
        }
        for (const p of linked) {
          const from = placed.nodes.get(`pool:${p.name}`)
          if (from === undefined) continue
          const f = shift(from)
          const x = linkX
          const y0 = f.rect.y + f.rect.height / 2
          const y1 = vipAt.rect.y + vipAt.rect.height / 2
          front.append(svg('path', { class: 'edge vip-link', d: `M ${f.rect.x + f.rect.width} ${y0} H ${x - 10} Q ${x} ${y0} ${x} ${y0 + 10} V ${y1 - 10} Q ${x} ${y1} ${x - 10} ${y1} H ${vipAt.rect.x + vipAt.rect.width}`, 'marker-end': 'url(#arrow-diagram)', 'stroke-dasharray': '6 5' }))
        }
      },
    })
  }
  for (const p of pools) {
    if (reached.has(p.name) || behindVip.has(p.name)) continue
    const b = poolBox(p, false)
    stack.push({ height: b.height, draw: (front, y) => drawBox(front, b, stackLeft, y, 'pool', { class: 'pool', 'data-pool': p.name }) })
    stackRight = Math.max(stackRight, stackLeft + b.width)
  }
  if (directorRows.length > 0) {
    const ports = directorRows.map((r) => r.protocol.replace(/^.*\//, '')).join(', ')
    const room = Math.max(stackRight - stackLeft, MAX.pool) - 30
    const b = box([
      ...wrap('Director HLB rows not served here', 'label', room, 2).map((text) => ({ text, cls: 'label' })),
      ...[`TCP ${ports}`, 'layer 4 (SIP, 444, CLS) and internal clients: the HLB\'s, not the reverse proxy\'s'].flatMap((t) => wrap(t, 'sublabel', room, 3)).map((text) => ({ text, cls: 'sublabel' })),
    ], { min: Math.max(0, stackRight - stackLeft), max: room + 30 })
    stack.push({ height: b.height, draw: (front, y) => drawBox(front, b, stackLeft, y, 'redirect', { class: 'director-rows' }) })
    stackRight = Math.max(stackRight, stackLeft + b.width)
  }
  const width = Math.max(placed.width, stackRight) + ZONE_PAD + 2

  // The zones behind the columns: each reaches to the next one's columns, so the labels and
  // markers between are its own; the last reaches to the drawing's edge.
  /** @param {string} prefix */
  const colOf = (prefix) => {
    const spans = [...placed.nodes.entries()].filter(([id]) => id.startsWith(prefix)).map(([, p]) => p.column)
    return spans.length === 0 ? null : { left: Math.min(...spans.map((x) => x.left)), right: Math.max(...spans.map((x) => x.right)) }
  }
  const internalSpan = laidOut.length > 0 || stack.length > 0 ? { left: stackLeft, right: Math.max(stackRight, poolColumn?.right ?? 0) } : null
  /** @type {Array<[keyof typeof zoneTitles, { left: number, right: number } | null]>} */
  const spans = [['internet', colOf('clients')], ['external', colOf('listener:')], ['rules', colOf('rule:')], ['internal', internalSpan]]
  /** @type {Array<{ key: keyof typeof zoneTitles, left: number, right: number }>} */
  const zones = []
  spans.forEach(([key, span], i) => {
    if (span === null) return
    const next = spans.slice(i + 1).map(([, x]) => x).find((x) => x !== null)
    const between = columns.filter((c) => c.left > span.right && (next === undefined || c.right < next.left))
    const right = next === undefined ? width - ZONE_PAD - 2 : Math.max(span.right, ...between.map((c) => c.right))
    zones.push({ key, left: span.left - ZONE_PAD, right: right + ZONE_PAD })
  })
  const band = titleBand(zones.map((z) => ({ lines: zoneTitles[z.key], left: z.left, right: z.right })))
  const top = band.height
  /** @param {PlacedNode} p @returns {PlacedNode} */
  const shift = (p) => ({ rect: { ...p.rect, y: p.rect.y + top }, column: p.column })
  const height = top + placed.height + stack.reduce((h, x) => h + STACK_GAP + x.height, 0) + ZONE_PAD + 2

  const root = drawingRoot(width, height, 'Publishing diagram: clients, listeners, rules, pools', 'arrow-diagram')
  const back = svg('g', { class: 'zones' })
  const front = svg('g')
  root.append(back, front)
  for (const z of zones) back.append(svg('rect', { class: `box zone${z.key === 'internal' ? ' internal' : ''}`, x: z.left, y: 2, width: z.right - z.left, height: height - 4, rx: 10 }))
  band.draw(back)

  for (const [id, d] of drawn) {
    const p = placed.nodes.get(id)
    if (p !== undefined) drawBox(front, d.box, p.rect.x, p.rect.y + top, d.rectClass, d.attrs)
  }
  for (const [name, m] of markers) {
    const e = placed.edges.get(name)
    const from = placed.nodes.get(m.anchor)
    if (e?.label == null || e.lane === null || from === undefined) continue
    const at = { rect: { ...e.label, y: e.label.y + top }, column: { left: e.lane.left, right: e.lane.right } }
    front.append(svg('path', { class: 'edge refusal-link', d: route(shift(from), at, null), 'marker-end': 'url(#arrow-diagram)' }))
    const text = drawBox(front, m.box, at.rect.x, at.rect.y, 'refusal', m.attrs).querySelector('text')
    if (text) refusalCounts.set(m.key, text)
  }
  for (const [name, a] of arrows) {
    const from = placed.nodes.get(a.v)
    const to = placed.nodes.get(a.w)
    const e = placed.edges.get(name)
    if (from === undefined || to === undefined || e === undefined) continue
    const lane = e.lane ? { ...e.lane, at: e.lane.at + top } : null
    edge(front, route(shift(from), shift(to), lane), a.key, e.label ? countAt(e.label.x, e.label.y + top, e.label.width) : null, a.prefix)
  }
  let y = top + placed.height + STACK_GAP
  for (const item of stack) {
    item.draw(front, y)
    y += item.height + STACK_GAP
  }
  host.append(root)
  updateCounts()
  if (state.highlight) highlightRule(...state.highlight)
}

// A count label's two baselines, its box's top left at (x, y), and its width.
/** @param {number} x @param {number} y @param {number} room */
function countAt (x, y, room) {
  const m = lineMetrics('edge-count')
  return { x, y1: y + m.ascent, y2: y + m.height + LINE_GAP + m.ascent, room }
}

/**
 * @param {PoolView} p
 * @param {boolean} behind the servers an HLB VIP balances
 */
function poolBox (p, behind) {
  const title = behind ? `${p.name}: ${p.role === 'director' ? 'Director servers' : 'servers'}` : `${p.name}: ${ROLE_TEXT[p.role ?? ''] ?? p.description ?? 'pool'}`
  const members = p.kind === 'vip'
    ? p.members.map((m) => `VIP ${m.address} :${m.httpPort}/:${m.httpsPort}`).join(', ')
    : p.members.map((m) => `${m.name} ${m.address}${m.up ? '' : ' (down)'}`).join(', ')
  return box([{ text: title, cls: 'label' }, { text: p.fqdn, cls: 'sublabel' }, { text: members, cls: 'sublabel', attrs: { 'data-members': p.name } }], { max: MAX.pool })
}

// The rule a "try it" request took, and its arrows.
/**
 * @param {string} listener
 * @param {string | null} rule
 */
export function highlightRule (listener, rule) {
  for (const n of document.querySelectorAll('#diagram .highlight')) n.classList.remove('highlight')
  state.highlight = rule ? [listener, rule] : null
  if (!rule) return
  const rect = document.querySelector(`#diagram g.rule[data-listener="${CSS.escape(listener)}"][data-rule="${CSS.escape(rule)}"] rect`)
  rect?.classList.add('highlight')
  highlightEdges(listener, rule)
}
