// @ts-check
// The diagram, drawn from /api/routes. Columns as in Microsoft's drawing: Internet clients →
// external interface (listeners) → publishing rules → internal interface → pools.
import { clip, byId, svg } from './dom.js'
import { edge, highlightEdges, updateCounts, vipOfListener } from './edge-counts.js'

/** @typedef {import('./api.js').RoutesView} RoutesView */
/** @typedef {import('./api.js').RouteView} RouteView */
/** @typedef {import('./api.js').Ports} Ports */
/** @typedef {RoutesView['listeners'][number]} ListenerView */
/** @typedef {RoutesView['pools'][number]} PoolView */

const COL = { client: [10, 240], listener: [290, 540], rule: [610, 1050], iface: 1250, pool: [1300, 1700] }
const WIDTH = 1720
const RULE_H = 74
const RULE_GAP = 16
const TOP = 70
const VIP_H = 96

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

/** @type {Record<string, number>} */
const ROLE_ORDER = { frontend: 0, director: 1, owas: 2, other: 3 }
/** @type {Record<string, string>} */
const ROLE_TEXT = { frontend: 'Front End pool', director: 'Director pool (HLB VIP)', owas: 'Office Web Apps', other: 'Other servers' }

/**
 * @param {RoutesView | null} routes
 * @param {Ports | null} portData the Director rows not served here are drawn too
 */
export function drawDiagram (routes, portData) {
  const host = byId('diagram')
  host.replaceChildren()
  if (!routes) return
  const listeners = routes.listeners.filter((l) => l.interface !== 'internal').map((l) => ({ ...l, rules: rulesOf(l) }))
  const internal = routes.listeners.filter((l) => l.interface === 'internal')
  vipOfListener.clear()
  const totalRules = listeners.reduce((n, l) => n + Math.max(l.rules.length, 1), 0)
  const rulesHeight = totalRules * (RULE_H + RULE_GAP) + (listeners.length - 1) * 30
  const pools = [...routes.pools].sort((a, b) => (ROLE_ORDER[a.role ?? ''] ?? 4) - (ROLE_ORDER[b.role ?? ''] ?? 4))
  const directorRows = (portData?.tables.find((t) => t.id === 'director')?.rows ?? []).filter((r) => !r.served)
  const poolBoxH = 96
  const vipCount = new Set([...internal.map((l) => l.address), ...(routes.tcp ?? []).map((f) => f.address)]).size
  const poolsHeight = pools.length * (poolBoxH + 40) + vipCount * (VIP_H + 40) + (directorRows.length > 0 ? 150 : 0)
  const height = TOP + Math.max(rulesHeight, poolsHeight, 300) + 30

  const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': 'Publishing diagram: clients, listeners, rules, pools' })
  const defs = svg('defs')
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' })
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#222' }))
  defs.append(marker)
  root.append(defs)

  // Zones and their titles.
  root.append(svg('rect', { class: 'box zone', x: COL.listener[0] - 20, y: 10, width: COL.listener[1] - COL.listener[0] + 40, height: height - 20, rx: 10 }))
  root.append(svg('rect', { class: 'box zone', x: COL.pool[0] - 20, y: 10, width: COL.pool[1] - COL.pool[0] + 40, height: height - 20, rx: 10 }))
  /** @type {Array<[number, string]>} */
  const titles = [
    [(COL.client[0] + COL.client[1]) / 2, 'Internet'],
    [(COL.listener[0] + COL.listener[1]) / 2, 'External interface'],
    [(COL.rule[0] + COL.rule[1]) / 2, 'Publishing rules'],
    [(COL.pool[0] + COL.pool[1]) / 2, 'Internal network'],
  ]
  for (const [x, t] of titles) root.append(svg('text', { class: 'zone-title', x, y: 40, 'text-anchor': 'middle' }, t))
  root.append(svg('line', { x1: COL.iface, y1: 50, x2: COL.iface, y2: height - 15, stroke: '#222', 'stroke-width': 3, 'stroke-dasharray': '10 6' }))
  // Written along the dashed line: the column is too narrow for it across.
  const ifaceY = height - 30
  root.append(svg('text', { class: 'zone-title', x: COL.iface + 22, y: ifaceY, 'text-anchor': 'start', transform: `rotate(-90 ${COL.iface + 22} ${ifaceY})` }, 'Internal interface'))

  // Pools on the right. The pools an HLB VIP of this proxy balances (internal listeners, layer-4
  // frontends) sit under that VIP; the others are what the reverse proxy's rules reach.
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
    vipOfListener.set(l.name, l.address)
    for (const entry of l.names) for (const r of entry.rules) if (r.pool !== null && !v.pools.includes(r.pool)) v.pools.push(r.pool)
  }
  for (const f of routes.tcp ?? []) {
    const v = vipOf(f.address)
    v.tcp.push(f)
    if (!v.pools.includes(f.pool)) v.pools.push(f.pool)
  }
  const behindVip = new Set([...vips.values()].flatMap((v) => v.pools))
  const frontPools = pools.filter((p) => !behindVip.has(p.name))

  /** @type {Map<string, { x: number, y: number, top: number, bottom: number }>} */
  const poolPos = new Map()
  let py = TOP + 20
  /** @param {PoolView} p */
  const drawPool = (p) => {
    const g = svg('g', { class: 'pool', 'data-pool': p.name })
    g.append(svg('rect', { class: 'box pool', x: COL.pool[0], y: py, width: COL.pool[1] - COL.pool[0], height: poolBoxH, rx: 8 }))
    const title = behindVip.has(p.name) ? `${p.name}: ${p.role === 'director' ? 'Director servers' : 'servers'}` : `${p.name}: ${ROLE_TEXT[p.role ?? ''] ?? p.description ?? 'pool'}`
    g.append(svg('text', { class: 'label', x: COL.pool[0] + 14, y: py + 28 }, title))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 54 }, p.fqdn))
    const members = p.kind === 'vip'
      ? p.members.map((m) => `VIP ${m.address} :${m.httpPort}/:${m.httpsPort}`).join(', ')
      : p.members.map((m) => `${m.name} ${m.address}${m.up ? '' : ' (down)'}`).join(', ')
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 78, 'data-members': p.name }, clip(members, 46)))
    root.append(g)
    const at = { x: COL.pool[0], y: py + poolBoxH / 2, top: py, bottom: py + poolBoxH }
    poolPos.set(p.name, at)
    py += poolBoxH + 40
    return at
  }
  for (const p of frontPools) drawPool(p)
  for (const v of vips.values()) {
    const web = v.listeners.map((l) => `:${l.port}`).join(' ')
    const l4 = v.tcp.map((f) => `:${f.port}`).join(' ')
    const g = svg('g', { class: 'vip', 'data-vip': v.address })
    const top = py
    g.append(svg('rect', { class: 'box vip', x: COL.pool[0], y: py, width: COL.pool[1] - COL.pool[0], height: VIP_H, rx: 8 }))
    g.append(svg('text', { class: 'label', x: COL.pool[0] + 14, y: py + 28 }, `HLB VIP ${v.address} (lyncproxy)`))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 54 }, clip(`web ${web || '–'}`, 46)))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 78 }, clip(`layer 4 ${l4 || '–'}`, 46)))
    root.append(g)
    // A pool whose VIP is this address is reached through this very listener set.
    for (const p of frontPools) {
      if (!p.members.some((m) => m.address === v.address)) continue
      // Every front pool is drawn above.
      const at = poolPos.get(p.name)
      if (at === undefined) continue
      root.append(svg('path', { class: 'edge vip-link', d: `M ${COL.pool[1] - 30} ${at.bottom} C ${COL.pool[1] + 10} ${at.bottom + 30}, ${COL.pool[1] + 10} ${top - 30}, ${COL.pool[1] - 30} ${top}`, 'stroke-dasharray': '6 5' }))
    }
    py += VIP_H + 40
    for (const name of v.pools) {
      const p = pools.find((x) => x.name === name)
      if (!p || poolPos.has(name)) continue
      const fromY = top + VIP_H
      const to = drawPool(p)
      edge(root, COL.pool[0] + 40, fromY, COL.pool[0] + 40, to.top, `hlb:${v.address}/${name}`, COL.pool[0] + 52, (fromY + to.top) / 2 + 6, 'start', '', 'vertical')
    }
  }
  if (directorRows.length > 0) {
    const g = svg('g', { class: 'director-rows' })
    g.append(svg('rect', { class: 'box redirect', x: COL.pool[0], y: py, width: COL.pool[1] - COL.pool[0], height: 120, rx: 8 }))
    g.append(svg('text', { class: 'label', x: COL.pool[0] + 14, y: py + 28 }, 'Director HLB rows not served here'))
    const ports = directorRows.map((r) => r.protocol.replace(/^.*\//, '')).join(', ')
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 56 }, `TCP ${ports}`))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 82 }, 'layer 4 (SIP, 444, CLS) and internal clients:'))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 104 }, 'the HLB\'s, not the reverse proxy\'s'))
    root.append(g)
  }

  // Listeners and their rules.
  const clientY = TOP + rulesHeight / 2
  const client = svg('g', { class: 'client' })
  client.append(svg('rect', { class: 'box', x: COL.client[0], y: clientY - 45, width: COL.client[1] - COL.client[0], height: 90, rx: 45 }))
  client.append(svg('text', { class: 'label', x: (COL.client[0] + COL.client[1]) / 2, y: clientY - 4, 'text-anchor': 'middle' }, 'Clients'))
  client.append(svg('text', { class: 'sublabel', x: (COL.client[0] + COL.client[1]) / 2, y: clientY + 22, 'text-anchor': 'middle' }, 'Lync, mobile, browsers'))
  root.append(client)

  let y = TOP
  for (const l of listeners) {
    const count = Math.max(l.rules.length, 1)
    const groupH = count * (RULE_H + RULE_GAP) - RULE_GAP
    const ly = y + groupH / 2
    const lg = svg('g', { class: 'listener', 'data-listener': l.name })
    lg.append(svg('rect', { class: 'box', x: COL.listener[0], y: ly - 40, width: COL.listener[1] - COL.listener[0], height: 80, rx: 8 }))
    lg.append(svg('text', { class: 'label', x: COL.listener[0] + 14, y: ly - 10 }, `${l.protocol.toUpperCase()} :${l.port}`))
    lg.append(svg('text', { class: 'sublabel', x: COL.listener[0] + 14, y: ly + 18 }, `${l.name} ${l.address}`))
    root.append(lg)
    edge(root, COL.client[1], clientY, COL.listener[0], ly, `listener:${l.name}`, (COL.client[1] + COL.listener[0]) / 2, (clientY + ly) / 2 - 8)

    l.rules.forEach((r, i) => {
      const ry = y + i * (RULE_H + RULE_GAP)
      const cy = ry + RULE_H / 2
      const kind = r.action === 'deny' ? 'deny' : r.action === 'redirect' ? 'redirect' : ''
      const g = svg('g', { class: 'rule', 'data-listener': l.name, 'data-rule': r.rule })
      g.append(svg('rect', { class: `box ${kind}`, x: COL.rule[0], y: ry, width: COL.rule[1] - COL.rule[0], height: RULE_H, rx: 6 }))
      const what = r.action === 'forward' ? `→ ${r.pool}` : r.action === 'redirect' ? `→ ${r.redirect?.status ?? 301}` : '→ 403'
      g.append(svg('text', { class: 'label', x: COL.rule[0] + 12, y: ry + 27 }, clip(`${r.rule}  ${what}`, 30)))
      const names = r.implicit ? 'names no http rule forwards' : r.names.join(', ')
      const paths = r.paths.length === 1 && r.paths[0] === '/' ? '' : ` ${r.paths.join(' ')}`
      g.append(svg('text', { class: 'sublabel', x: COL.rule[0] + 12, y: ry + 54 }, clip(names + paths, 48)))
      root.append(g)
      // The rule's own count sits inside its box, top right: the gap to the listener is too narrow.
      edge(root, COL.listener[1], ly, COL.rule[0], cy, `rule:${l.name}/${r.rule}`, COL.rule[1] - 10, ry + 27, 'end')
      const target = r.pool === null ? undefined : poolPos.get(r.pool)
      if (target) {
        edge(root, COL.rule[1], cy, target.x, target.y, `pool:${l.name}/${r.rule}`, COL.rule[1] + 10, cy - 8, 'start', `:${r.ports.join('/')} `)
      }
    })
    y += groupH + RULE_GAP + 30
  }
  host.append(root)
  updateCounts()
}

// The rule a "try it" request took, and its arrows.
/**
 * @param {string} listener
 * @param {string | null} rule
 */
export function highlightRule (listener, rule) {
  for (const n of document.querySelectorAll('#diagram .highlight')) n.classList.remove('highlight')
  if (!rule) return
  const box = document.querySelector(`#diagram g.rule[data-listener="${CSS.escape(listener)}"][data-rule="${CSS.escape(rule)}"] rect`)
  box?.classList.add('highlight')
  highlightEdges(listener, rule)
}
