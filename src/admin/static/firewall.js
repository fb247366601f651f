// @ts-check
// The firewall picture: the port tables of /api/ports drawn the way Microsoft's reverse proxy
// drawing reads them. The Internet, the external firewall, the perimeter network (DMZ) with
// lyncproxy, the internal firewall, the internal network. Each row is a box on the firewall its
// traffic crosses (the external table's on the external one; the internal table's and the
// Director's rows from the reverse proxy's internal interface on the internal one), with arrows from
// where the traffic comes from to where it goes; grey where this proxy does not serve it, lit once
// traffic has used it. The Director's other rows (internal clients, the Edge Server, the logging
// service) cross neither firewall: they are listed inside the internal network.
import { byId, svg } from './dom.js'
import { countRoom, currentTraffic, onTraffic, overflows } from './edge-counts.js'
import { box, drawBox, drawingRoot, layout, lineMetrics, ROLE_ORDER, ROLE_TEXT, route, textWidth, titleBand, ZONE_PAD } from './graph-layout.js'

/** @typedef {import('./api.js').RoutesView} RoutesView */
/** @typedef {import('./api.js').Ports} Ports */
/** @typedef {import('./api.js').TrafficEntry} TrafficEntry */
/** @typedef {Ports['tables'][number]} PortTable */
/** @typedef {PortTable['rows'][number]} PortRow */
/** @typedef {import('./graph-layout.js').GraphNode} GraphNode */
/** @typedef {import('./graph-layout.js').GraphEdge} GraphEdge */
/** @typedef {import('./graph-layout.js').Box} Box */
/** @typedef {import('./graph-layout.js').PlacedNode} PlacedNode */

const MAX = { end: 300, row: 320, proxy: 300, servers: 320 }
const LIST_GAP = 14
// The Director table's rows sent from the reverse proxy's internal interface (the seed's source):
// they cross the internal firewall like the internal table's.
const FROM_PROXY = new Set(['director-http-8080', 'director-https-4443'])

// The rows drawn, for lighting them: where each is, which traffic crosses it, its arrows.
/** @type {Array<{ g: SVGGElement, count: SVGTextElement | null, row: PortRow, external: boolean, served: boolean, paths: SVGPathElement[] }>} */
let drawnRows = []

/** @type {{ portData: Ports | null, routes: RoutesView | null }} */
const state = { portData: null, routes: null }

onTraffic((entries) => {
  lightRows(entries)
  if (overflows(byId('firewall'))) drawFirewall(state.portData, state.routes)
})

/**
 * @param {Ports | null} portData
 * @param {RoutesView | null} routes
 */
export function drawFirewall (portData, routes) {
  state.portData = portData
  state.routes = routes
  const host = byId('firewall')
  host.replaceChildren()
  drawnRows = []
  if (!portData || !routes) return
  const table = (/** @type {string} */ id) => portData.tables.find((t) => t.id === id)?.rows ?? []
  const director = table('director')
  const outer = table('external')
  const inner = [...table('internal'), ...director.filter((r) => r.seed !== null && FROM_PROXY.has(r.seed))]
  const inside = director.filter((r) => r.seed === null || !FROM_PROXY.has(r.seed))

  const titles = {
    internet: ['Internet'],
    external: ['External firewall'],
    dmz: ['Perimeter network', '(DMZ)'],
    internal: ['Internal firewall'],
    network: ['Internal network'],
  }

  /** @type {GraphNode[]} */
  const nodes = []
  /** @type {GraphEdge[]} */
  const edges = []
  /** @type {Map<string, { box: Box, rectClass: string, attrs: Record<string, string>, row?: PortRow, external?: boolean }>} */
  const drawn = new Map()
  /**
   * @param {string} id
   * @param {Box} b
   * @param {number} key
   * @param {string} rectClass
   * @param {Record<string, string>} attrs
   */
  const addNode = (id, b, key, rectClass, attrs) => { nodes.push({ id, box: b, key }); drawn.set(id, { box: b, rectClass, attrs }) }
  /** @param {string} v @param {string} w */
  const addEdge = (v, w) => edges.push({ v, w, name: `${v}>${w}` })

  addNode('internet', box([{ text: 'Internet', cls: 'label' }, { text: 'Lync clients, mobile, browsers', cls: 'sublabel' }], { max: MAX.end }), 0, '', { class: 'fw-end' })
  const external = routes.listeners.filter((l) => l.interface !== 'internal')
  addNode('proxy', box([
    { text: 'lyncproxy', cls: 'label' },
    { text: 'the reverse proxy', cls: 'sublabel' },
    ...external.map((l) => ({ text: `${l.protocol.toUpperCase()} :${l.port} ${l.name}`, cls: 'sublabel' })),
  ], { max: MAX.proxy }), 0, '', { class: 'fw-proxy' })

  /**
   * @param {string} id
   * @param {PortTable['id']} tableId
   * @param {PortRow} row
   * @param {number} key
   */
  const addRow = (id, tableId, row, key) => {
    const b = rowBox(row, tableId === 'external', 0)
    const port = row.protocol.split('/').pop() ?? ''
    addNode(id, b, key, 'fw-row', {
      class: row.served ? 'fw-row' : 'fw-row not-served', 'data-table': tableId, 'data-seed': row.seed ?? '', 'data-port': port, 'data-protocol': row.protocol, 'data-requests': '0',
    })
    const d = drawn.get(id)
    if (d) { d.row = row; d.external = tableId === 'external' }
  }
  outer.forEach((row, i) => {
    addRow(`row:external:${i}`, 'external', row, i)
    addEdge('internet', `row:external:${i}`)
    addEdge(`row:external:${i}`, 'proxy')
  })

  // Where each internal row goes: the kinds of server its rules' pools are.
  /** @type {Map<string, string>} */
  const roleOfPool = new Map(routes.pools.map((p) => [p.name, p.role ?? 'other']))
  /** @type {Map<string, string>} listener/rule → pool */
  const poolOfRule = new Map()
  for (const l of routes.listeners) for (const n of l.names) for (const r of n.rules) if (r.pool !== null) poolOfRule.set(`${l.name}/${r.rule}`, r.pool)
  /** @param {PortRow} row @param {boolean} fromDirector */
  const rolesOf = (row, fromDirector) => {
    const roles = new Set()
    for (const via of row.via) {
      const pool = poolOfRule.get(via)
      if (pool !== undefined) roles.add(roleOfPool.get(pool) ?? 'other')
    }
    if (fromDirector) return ['director']
    if (roles.size === 0) roles.add(/office web apps/i.test(row.destination) ? 'owas' : 'frontend')
    return [...roles].sort((a, b) => (ROLE_ORDER[a] ?? 4) - (ROLE_ORDER[b] ?? 4))
  }
  /** @type {Map<string, number[]>} */
  const serverKeys = new Map()
  inner.forEach((row, i) => {
    const id = `row:internal:${i}`
    const fromDirector = director.includes(row)
    addRow(id, fromDirector ? 'director' : 'internal', row, i)
    addEdge('proxy', id)
    for (const role of rolesOf(row, fromDirector)) {
      serverKeys.set(role, [...(serverKeys.get(role) ?? []), i])
      addEdge(id, `servers:${role}`)
    }
  })
  if (inside.length > 0 && !serverKeys.has('director')) serverKeys.set('director', [inner.length])
  for (const [role, keys] of serverKeys) {
    const pools = routes.pools.filter((p) => (p.role ?? 'other') === role)
    const lines = pools.slice(0, 4).map((p) => ({ text: `${p.name} ${p.fqdn}`, cls: 'sublabel' }))
    if (pools.length > 4) lines.push({ text: `and ${pools.length - 4} more`, cls: 'sublabel' })
    if (pools.length === 0) lines.push({ text: 'not in this configuration', cls: 'sublabel' })
    const key = keys.reduce((s, k) => s + k, 0) / keys.length + (ROLE_ORDER[role] ?? 4) * 1e-3
    addNode(`servers:${role}`, box([{ text: ROLE_TEXT[role] ?? role, cls: 'label' }, ...lines], { max: MAX.servers }), key, 'pool', { class: 'fw-servers', 'data-role': role })
  }

  const placed = layout({ nodes, edges, ranksep: 48 })
  /** @param {string} prefix */
  const spanOf = (prefix) => {
    const spans = [...placed.nodes.entries()].filter(([id]) => id.startsWith(prefix)).map(([, p]) => p.column)
    return spans.length === 0 ? null : { left: Math.min(...spans.map((s) => s.left)), right: Math.max(...spans.map((s) => s.right)) }
  }
  // A firewall with no row still stands between its neighbours.
  const proxySpan = spanOf('proxy') ?? { left: 0, right: 0 }
  const innerSpan = spanOf('row:internal:') ?? { left: proxySpan.right + 48, right: proxySpan.right + 48 + 2 * ZONE_PAD }
  const serverSpan = spanOf('servers:') ?? { left: innerSpan.right + 48, right: innerSpan.right + 48 + 2 * ZONE_PAD }

  // The Director's own rows, listed under the servers after a heading; y from the layout's top.
  const head = ['Inside: the Director\'s own rows', 'they cross neither firewall']
  const headLines = [lineMetrics('label'), lineMetrics('sublabel')]
  let listTop = placed.height + LIST_GAP * 2
  let listRight = Math.max(serverSpan.right, inside.length > 0 ? serverSpan.left + textWidth(head[0] ?? '', 'label') : 0)
  const headTop = listTop
  if (inside.length > 0) listTop += headLines.reduce((h, m) => h + m.height + 4, 0) + LIST_GAP
  /** @type {Array<{ id: string, b: Box, y: number, row: PortRow }>} */
  const listed = inside.map((row, i) => {
    const b = rowBox(row, false, serverSpan.right - serverSpan.left, true)
    const y = listTop
    listTop += b.height + LIST_GAP
    listRight = Math.max(listRight, serverSpan.left + b.width)
    return { id: `row:inside:${i}`, b, y, row }
  })
  const width = Math.max(placed.width, listRight, serverSpan.right) + ZONE_PAD + 2
  /** @type {Array<{ lines: string[], left: number, right: number, cls: string }>} */
  const zones = /** @type {Array<[string[], { left: number, right: number }, string]>} */ ([
    [titles.internet, spanOf('internet') ?? { left: 0, right: 0 }, 'box zone'],
    [titles.external, spanOf('row:external:') ?? { left: 0, right: 0 }, 'box wall'],
    [titles.dmz, proxySpan, 'box zone dmz'],
    [titles.internal, innerSpan, 'box wall'],
    [titles.network, { left: serverSpan.left, right: Math.max(serverSpan.right, listRight) }, 'box zone internal'],
  ]).map(([lines, span, cls]) => ({ lines, left: span.left - ZONE_PAD, right: span.right + ZONE_PAD, cls }))
  const band = titleBand(zones)
  const top = band.height
  /** @param {PlacedNode} p @returns {PlacedNode} */
  const shift = (p) => ({ rect: { ...p.rect, y: p.rect.y + top }, column: p.column })
  const height = top + Math.max(placed.height, listTop - LIST_GAP) + ZONE_PAD + 2

  const root = drawingRoot(width, height, 'Firewall picture: the Internet, the external firewall, the DMZ with the reverse proxy, the internal firewall, the internal network', 'arrow-firewall')
  const back = svg('g', { class: 'zones' })
  const front = svg('g')
  root.append(back, front)
  for (const z of zones) back.append(svg('rect', { class: z.cls, x: z.left, y: 2, width: z.right - z.left, height: height - 4, rx: z.cls.includes('wall') ? 4 : 10 }))
  band.draw(back)

  /** @type {Map<string, SVGGElement>} */
  const groups = new Map()
  for (const [id, d] of drawn) {
    const p = placed.nodes.get(id)
    if (p === undefined) continue
    const at = shift(p)
    groups.set(id, drawBox(front, d.box, at.rect.x, at.rect.y, d.rectClass, d.attrs))
  }
  /** @type {Map<string, SVGPathElement[]>} */
  const pathsOf = new Map()
  for (const e of edges) {
    const from = placed.nodes.get(e.v)
    const to = placed.nodes.get(e.w)
    if (from === undefined || to === undefined) continue
    const path = svg('path', { class: 'edge', d: route(shift(from), shift(to), null), 'marker-end': 'url(#arrow-firewall)' })
    front.append(path)
    for (const id of [e.v, e.w]) pathsOf.set(id, [...(pathsOf.get(id) ?? []), path])
  }
  if (inside.length > 0) {
    let y = top + headTop
    head.forEach((t, i) => {
      const m = headLines[i] ?? headLines[0]
      if (m === undefined) return
      front.append(svg('text', { class: i === 0 ? 'label' : 'sublabel', x: serverSpan.left, y: y + m.ascent }, t))
      y += m.height + 4
    })
  }
  for (const l of listed) {
    const port = l.row.protocol.split('/').pop() ?? ''
    const cls = l.row.served ? 'fw-row inside' : 'fw-row inside not-served'
    groups.set(l.id, drawBox(front, l.b, serverSpan.left, top + l.y, 'fw-row', { class: cls, 'data-table': 'director', 'data-seed': l.row.seed ?? '', 'data-port': port, 'data-protocol': l.row.protocol, 'data-requests': '0' }))
    drawn.set(l.id, { box: l.b, rectClass: 'fw-row', attrs: {}, row: l.row, external: false })
  }
  for (const [id, d] of drawn) {
    const g = groups.get(id)
    if (g === undefined || d.row === undefined) continue
    const texts = g.querySelectorAll('text')
    drawnRows.push({ g, count: texts[texts.length - 1] ?? null, row: d.row, external: d.external ?? false, served: d.row.served, paths: pathsOf.get(id) ?? [] })
  }
  host.append(root)
  lightRows(currentTraffic())
}

// The row's box: protocol and port, from and to, what carries it here and its traffic, or that
// this proxy does not serve it.
/**
 * @param {PortRow} row
 * @param {boolean} external
 * @param {number} min
 * @param {boolean} [compact] from and to on one line: the rows listed inside the internal network
 */
function rowBox (row, external, min, compact = false) {
  const rules = [...new Set(row.via.map((v) => v.split('/')[1] ?? v))]
  const carried = external ? `listener ${row.via.join(', ')}` : rules.length > 0 ? `rules ${rules.join(', ')}` : row.lyncproxy
  /** @type {import('./graph-layout.js').Line[]} */
  const lines = compact
    ? [{ text: row.protocol, cls: 'label' }, { text: `${row.source} → ${row.destination}`, cls: 'sublabel' }]
    : [{ text: row.protocol, cls: 'label' }, { text: `from ${row.source}`, cls: 'sublabel' }, { text: `to ${row.destination}`, cls: 'sublabel' }]
  if (row.served) lines.push({ text: carried, cls: 'sublabel' }, { text: 'no traffic yet', cls: 'fw-count', reserve: `${countRoom()} requests`, keep: true })
  else lines.push({ text: 'not served by this proxy', cls: 'fw-count' })
  const b = box(lines, { max: MAX.row, min })
  const count = b.lines[b.lines.length - 1]
  if (row.served && count) count.attrs = { 'data-room': Math.ceil(b.width - 2 * b.padX) }
  // The tooltip has all of it: the seed's description and what carries the row here.
  b.clipped = [[row.protocol, `${row.source} → ${row.destination}`, row.description, `lyncproxy: ${row.lyncproxy}`].filter((t) => t !== '').join('\n')]
  return b
}

// A row is lit by the traffic that crossed it: an external row by its listener's requests, an
// internal one by the requests of its listener/rule pairs (or of its VIP listeners) that reached a
// member: one refused at the rule (a body too large, no healthy member) never crossed it. Each
// row's `via` names them, as ports.ts derived them from the listeners' ports and the rules' pools.
/** @param {TrafficEntry[]} entries */
function lightRows (entries) {
  for (const r of drawnRows) {
    let requests = 0
    if (r.served) {
      for (const e of entries) {
        const crossed = r.external ? r.row.via.includes(e.listener) : e.stop === 'pool' && (r.row.via.includes(`${e.listener}/${e.rule}`) || r.row.via.includes(e.listener))
        if (crossed) requests += e.requests
      }
    }
    r.g.classList.toggle('lit', requests > 0)
    r.g.dataset.requests = String(requests)
    for (const p of r.paths) p.classList.toggle('active', requests > 0)
    if (r.count && r.served) r.count.textContent = requests > 0 ? `${requests} request${requests === 1 ? '' : 's'}` : 'no traffic yet'
  }
}
