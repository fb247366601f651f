// The teaching page: a diagram drawn from /api/routes with live counts from /api/traffic, the flow
// feed from /api/flows (Server-Sent Events), the "try it" box on /api/explain and the port tables
// from /api/ports. Plain DOM, no framework, no build step. Everything that came from a client
// (hosts, paths, header values) is put into the page as text, never as HTML.

const token = new URLSearchParams(location.search).get('token')
const authHeaders = token ? { Authorization: 'Bearer ' + token } : {}
const withToken = (url) => token ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : url

async function getJson (url) {
  const res = await fetch(url, { headers: authHeaders })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.message || `${url}: ${res.status}`)
  return body
}

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k === 'text') node.textContent = v
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c)
  return node
}

const SVG = 'http://www.w3.org/2000/svg'
function svg (tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

const statusClass = (status) => status >= 200 && status < 600 ? 's' + Math.floor(status / 100) : ''

// ---------------------------------------------------------------------------------------------
// Text size, for projectors.
let scale = Number(localStorage.getItem('lyncproxy.scale') || '1')
function applyScale () {
  document.documentElement.style.setProperty('--scale', String(scale))
  localStorage.setItem('lyncproxy.scale', String(scale))
}
document.getElementById('larger').addEventListener('click', () => { scale = Math.min(2, scale + 0.1); applyScale() })
document.getElementById('smaller').addEventListener('click', () => { scale = Math.max(0.7, scale - 0.1); applyScale() })
applyScale()

// ---------------------------------------------------------------------------------------------
// The diagram. Columns as in Microsoft's drawing: Internet clients → external interface (listeners)
// → publishing rules → internal interface → pools.

let routes = null
let portData = null
let traffic = []

const COL = { client: [10, 240], listener: [290, 540], rule: [610, 1050], iface: 1250, pool: [1300, 1700] }
const WIDTH = 1720
const RULE_H = 74
const RULE_GAP = 16
const TOP = 70
const VIP_H = 96
// Internal listener name → the VIP address it belongs to, for the HLB edges' counts.
const vipOfListener = new Map()

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

const ROLE_ORDER = { frontend: 0, director: 1, owas: 2, other: 3 }
const ROLE_TEXT = { frontend: 'Front End pool', director: 'Director pool (HLB VIP)', owas: 'Office Web Apps', other: 'Other servers' }

function drawDiagram () {
  const host = document.getElementById('diagram')
  host.replaceChildren()
  if (!routes) return
  const listeners = routes.listeners.filter((l) => l.interface !== 'internal').map((l) => ({ ...l, rules: rulesOf(l) }))
  const internal = routes.listeners.filter((l) => l.interface === 'internal')
  vipOfListener.clear()
  const totalRules = listeners.reduce((n, l) => n + Math.max(l.rules.length, 1), 0)
  const rulesHeight = totalRules * (RULE_H + RULE_GAP) + (listeners.length - 1) * 30
  const pools = [...routes.pools].sort((a, b) => (ROLE_ORDER[a.role] ?? 4) - (ROLE_ORDER[b.role] ?? 4))
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
  const vips = new Map()
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

  const poolPos = new Map()
  let py = TOP + 20
  const drawPool = (p) => {
    const g = svg('g', { class: 'pool', 'data-pool': p.name })
    g.append(svg('rect', { class: 'box pool', x: COL.pool[0], y: py, width: COL.pool[1] - COL.pool[0], height: poolBoxH, rx: 8 }))
    const title = behindVip.has(p.name) ? `${p.name}: ${p.role === 'director' ? 'Director servers' : 'servers'}` : `${p.name}: ${ROLE_TEXT[p.role] ?? p.description ?? 'pool'}`
    g.append(svg('text', { class: 'label', x: COL.pool[0] + 14, y: py + 28 }, title))
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 54 }, p.fqdn))
    const members = p.kind === 'vip'
      ? p.members.map((m) => `VIP ${m.address} :${m.httpPort}/:${m.httpsPort}`).join(', ')
      : p.members.map((m) => `${m.name} ${m.address}${m.up ? '' : ' (down)'}`).join(', ')
    g.append(svg('text', { class: 'sublabel', x: COL.pool[0] + 14, y: py + 78, 'data-members': p.name }, clip(members, 46)))
    root.append(g)
    poolPos.set(p.name, { x: COL.pool[0], y: py + poolBoxH / 2, top: py, bottom: py + poolBoxH })
    py += poolBoxH + 40
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
      const at = poolPos.get(p.name)
      root.append(svg('path', { class: 'edge vip-link', d: `M ${COL.pool[1] - 30} ${at.bottom} C ${COL.pool[1] + 10} ${at.bottom + 30}, ${COL.pool[1] + 10} ${top - 30}, ${COL.pool[1] - 30} ${top}`, 'stroke-dasharray': '6 5' }))
    }
    py += VIP_H + 40
    for (const name of v.pools) {
      const p = pools.find((x) => x.name === name)
      if (!p || poolPos.has(name)) continue
      const fromY = top + VIP_H
      drawPool(p)
      const to = poolPos.get(name)
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

function clip (text, n) { return text.length > n ? text.slice(0, n - 1) + '…' : text }

const edgeLabels = new Map()

function edge (root, x1, y1, x2, y2, key, lx, ly, anchor = 'middle', prefix = '', direction = 'horizontal') {
  const mx = (x1 + x2) / 2
  const d = direction === 'vertical' ? `M ${x1} ${y1} L ${x2} ${y2 - 4}` : `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 4} ${y2}`
  const path = svg('path', { class: 'edge', d, 'marker-end': 'url(#arrow)', 'data-edge': key })
  root.append(path)
  const label = svg('text', { class: 'edge-count', x: lx, y: ly, 'text-anchor': anchor, 'data-key': key }, `${prefix}0 req`)
  label.dataset.prefix = prefix
  root.append(label)
  edgeLabels.set(key, { label, path })
}

function updateCounts () {
  const sums = new Map()
  const add = (key, e) => {
    const s = sums.get(key) ?? { requests: 0, lastStatus: 0, lastTime: 0 }
    s.requests += e.requests
    if (e.lastTime >= s.lastTime) { s.lastTime = e.lastTime; s.lastStatus = e.lastStatus }
    sums.set(key, s)
  }
  for (const e of traffic) {
    const vip = vipOfListener.get(e.listener)
    if (vip !== undefined) { if (e.pool !== '') add(`hlb:${vip}/${e.pool}`, e); continue }
    add(`listener:${e.listener}`, e)
    if (e.rule !== '') {
      add(`rule:${e.listener}/${e.rule}`, e)
      if (e.pool !== '') add(`pool:${e.listener}/${e.rule}`, e)
    }
  }
  for (const [key, { label, path }] of edgeLabels) {
    if (!label.isConnected) { edgeLabels.delete(key); continue }
    const s = sums.get(key)
    const prefix = label.dataset.prefix ?? ''
    label.textContent = s ? `${prefix}${s.requests} req · last ${s.lastStatus}` : `${prefix}0 req`
    label.setAttribute('class', `edge-count ${s ? statusClass(s.lastStatus) : ''}`)
    label.dataset.requests = String(s?.requests ?? 0)
    path.classList.toggle('active', Boolean(s))
  }
}

function flashEdges (record) {
  const vip = vipOfListener.get(record.listener)
  const keys = vip !== undefined ? [`hlb:${vip}/${record.pool}`] : [`listener:${record.listener}`, `rule:${record.listener}/${record.rule}`, `pool:${record.listener}/${record.rule}`]
  for (const key of keys) {
    const e = edgeLabels.get(key)
    if (!e) continue
    e.path.classList.remove('flash')
    void e.path.getBBox()
    e.path.classList.add('flash')
  }
}

let trafficTimer = null
function refreshTrafficSoon () {
  if (trafficTimer) return
  trafficTimer = setTimeout(async () => {
    trafficTimer = null
    try { traffic = await getJson('/api/traffic'); updateCounts() } catch { /* the next event retries */ }
  }, 200)
}

// ---------------------------------------------------------------------------------------------
// The live feed.

const MAX_ROWS = 200
const feedBody = document.querySelector('#feed tbody')
const records = new Map()

function timeOf (ms) {
  const d = new Date(ms)
  return d.toTimeString().slice(0, 8)
}

function addRow (r) {
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
  row.addEventListener('click', () => showDetails(r.id, row))
  row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); showDetails(r.id, row) } })
  feedBody.prepend(row)
  while (feedBody.rows.length > MAX_ROWS) {
    const last = feedBody.rows[feedBody.rows.length - 1]
    records.delete(last.dataset.id)
    last.remove()
  }
}

function headerRows (tbody, pairs, other) {
  tbody.replaceChildren()
  const otherSet = new Set((other ?? []).map(([n, v]) => n.toLowerCase() + '\0' + v))
  if (pairs.length === 0) tbody.append(el('tr', {}, el('td', { colspan: 2, text: '(none: the proxy answered this request itself)' })))
  for (const [name, value] of pairs) {
    const changed = other !== undefined && !otherSet.has(name.toLowerCase() + '\0' + value)
    tbody.append(el('tr', { class: changed ? 'changed' : undefined }, el('td', { text: name }), el('td', { text: value })))
  }
}

function showDetails (id, row) {
  const r = records.get(id)
  if (!r) return
  for (const selected of feedBody.querySelectorAll('tr.selected')) selected.classList.remove('selected')
  row.classList.add('selected')
  const details = document.getElementById('details')
  details.hidden = false
  document.getElementById('details-title').textContent = `${r.method} ${r.host}${r.path} → ${r.status}  (exchange ${r.id})`
  document.getElementById('details-forwarded-title').textContent = r.upstream ? `As forwarded to ${r.upstream} (changed fields marked)` : 'As forwarded'
  headerRows(document.querySelector('#details-received tbody'), r.requestHeaders)
  headerRows(document.querySelector('#details-forwarded tbody'), r.forwardedHeaders, r.requestHeaders)
}

function connectFeed () {
  const pill = document.getElementById('connection')
  const source = new EventSource(withToken('/api/flows'))
  source.addEventListener('open', () => { pill.textContent = 'live'; pill.className = 'pill live' })
  source.addEventListener('error', () => { pill.textContent = 'reconnecting…'; pill.className = 'pill down' })
  source.addEventListener('exchange', (ev) => {
    const record = JSON.parse(ev.data)
    if (records.has(record.id)) return
    addRow(record)
    flashEdges(record)
    refreshTrafficSoon()
  })
  source.addEventListener('dropped', (ev) => {
    const { dropped } = JSON.parse(ev.data)
    feedBody.prepend(el('tr', {}, el('td', { colspan: 8, class: 'error', text: `${dropped} exchanges not shown: this page read too slowly` })))
  })
}

// ---------------------------------------------------------------------------------------------
// Try it.

const VERDICT_TEXT = { matched: 'taken', shadowed: 'would match, earlier rule won', 'other-listener': 'other listener', 'other-name': 'other name', 'other-path': 'other path' }

async function explain (ev) {
  ev.preventDefault()
  const out = document.getElementById('try-result')
  const form = ev.target
  const q = new URLSearchParams({ url: form.url.value.trim() })
  if (form.listener.value) q.set('listener', form.listener.value)
  for (const line of form.headers.value.split('\n')) if (line.trim() !== '') q.append('header', line.trim())
  out.replaceChildren(el('p', { text: 'asking…' }))
  let r
  try {
    r = await getJson('/api/explain?' + q.toString())
  } catch (err) {
    out.replaceChildren(el('p', { class: 'error', text: err.message }))
    return
  }
  const parts = []
  parts.push(el('p', {}, 'Listener ', el('strong', { text: `${r.listener.name} (${r.listener.protocol} :${r.listener.port})` }), `, host ${r.host}, path ${r.path}`))
  const o = r.outcome
  let answer
  if (o.action === 'forward') answer = `Forwarded by rule ${o.rule} to ${r.upstream.targets.map((t) => t.url).join(' or ')}`
  else if (o.action === 'redirect') answer = `Redirected by ${o.rule}: ${r.redirect.status} → ${r.redirect.location}`
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

function highlightRule (listener, rule) {
  for (const n of document.querySelectorAll('#diagram .highlight')) n.classList.remove('highlight')
  if (!rule) return
  const box = document.querySelector(`#diagram g.rule[data-listener="${CSS.escape(listener)}"][data-rule="${CSS.escape(rule)}"] rect`)
  box?.classList.add('highlight')
  for (const key of [`listener:${listener}`, `rule:${listener}/${rule}`, `pool:${listener}/${rule}`]) edgeLabels.get(key)?.path.classList.add('highlight')
}

document.getElementById('try-form').addEventListener('submit', explain)

// ---------------------------------------------------------------------------------------------
// Port tables.

function drawPorts () {
  const host = document.getElementById('ports')
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

// ---------------------------------------------------------------------------------------------

async function load () {
  try {
    [routes, portData, traffic] = await Promise.all([getJson('/api/routes'), getJson('/api/ports'), getJson('/api/traffic')])
    drawDiagram()
    drawPorts()
  } catch (err) {
    document.getElementById('diagram').replaceChildren(el('p', { class: 'error', text: err.message }))
  }
}

await load()
connectFeed()
// A reload may change the rules; counts move with every event, and this catches the rest.
setInterval(async () => {
  try {
    const next = await getJson('/api/routes')
    if (next.generation !== routes?.generation) { routes = next; portData = await getJson('/api/ports'); drawDiagram(); drawPorts() }
    traffic = await getJson('/api/traffic')
    updateCounts()
  } catch { /* shown by the connection pill */ }
}, 5000)
document.body.dataset.ready = 'true'
