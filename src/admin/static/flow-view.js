// @ts-check
// The flow view: the feed's exchanges grouped into client flows (flow-groups.js), a list of them
// (newest first) and the chosen one as a sequence diagram (sequence-diagram.js); a click or Enter on
// an exchange opens both of its sides (headers-panel.js). For a lesson: Pause holds the live feed
// (what arrives waits, counted), Step ◀ ▶ walks through the chosen flow one exchange at a time, and
// a HAR file exported by /api/flows.har (or any HAR 1.2) replays in the same view without a lab.
import { byId, el } from './dom.js'
import { answeringHop, groupFlows, lanesOf } from './flow-groups.js'
import { recordsOfHar } from './har-replay.js'
import { exchangeSides, exchangeTitle } from './headers-panel.js'
import { MAX_LIVE, pushBounded, waitingText } from './live-window.js'
import { drawSequence, statusLine } from './sequence-diagram.js'

/** @typedef {import('./api.js').FlowRecord} FlowRecord */
/** @typedef {import('./flow-groups.js').Flow} Flow */
/** @typedef {import('./flow-groups.js').Step} Step */
/** @typedef {{ pause: () => void, resume: () => void }} FeedControl */

// The flows listed before "show older": the list never needs a scroll box of its own, whose
// hidden rows would still be laid out under the drawing.
const LISTED = 8

/** @param {Step} step */
function answeredBy (step) {
  const hop = answeringHop(step)
  if (hop === undefined) return `answered by the proxy itself${step.record.reason ? ' (' + step.record.reason + ')' : ''}`
  const via = hop === step.record ? '' : ` through the VIP ${step.record.upstream}`
  return `answered by ${hop.member || hop.upstream}${hop.pool ? ' (pool ' + hop.pool + ')' : ''}${via}`
}

/** @param {number} ms */
const timeOf = (ms) => new Date(ms).toTimeString().slice(0, 8)

export function setUpFlowView () {
  /** @type {FlowRecord[]} */
  const live = []
  /** @type {{ records: FlowRecord[], file: string, note: string } | null} */
  let replay = null
  /** @type {FeedControl | null} */
  let feed = null
  let paused = false
  // The flow shown: the newest until the user picks one.
  /** @type {string | null} */
  let chosen = null
  // How many of its exchanges are drawn (null: all), and whose sides are open.
  /** @type {number | null} */
  let revealed = null
  /** @type {number | null} */
  let selected = null
  let allListed = false
  /** @type {Flow[]} */
  let flows = []
  let drawnKey = ''
  let listKey = ''
  let detailsKey = ''
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer

  const view = byId('flow-view')
  const list = byId('flow-list')
  const diagram = byId('flow-diagram')
  const details = byId('flow-details')
  const title = byId('flow-title')
  const position = byId('flow-position')
  const waiting = byId('flow-waiting')
  const source = byId('flow-source')
  const pauseButton = /** @type {HTMLButtonElement} */ (byId('flow-pause'))
  const prev = /** @type {HTMLButtonElement} */ (byId('flow-prev'))
  const next = /** @type {HTMLButtonElement} */ (byId('flow-next'))
  const all = /** @type {HTMLButtonElement} */ (byId('flow-all'))
  const back = /** @type {HTMLButtonElement} */ (byId('flow-live'))
  const file = /** @type {HTMLInputElement} */ (byId('flow-har'))

  const schedule = () => {
    // A timer, not an animation frame: a tab in the background gets none of those, and a lesson
    // prepared in another tab must be up to date when it comes back.
    if (timer === undefined) timer = setTimeout(() => { timer = undefined; render() }, 40)
  }

  /** @returns {Flow | undefined} */
  const current = () => flows.find((f) => f.key === chosen) ?? flows[flows.length - 1]

  function render () {
    flows = groupFlows(replay?.records ?? live)
    if (chosen !== null && !flows.some((f) => f.key === chosen)) { chosen = null; revealed = null; selected = null }
    const flow = current()
    renderList(flow)
    const steps = flow?.steps.length ?? 0
    if (revealed !== null) revealed = Math.min(revealed, steps)
    if (selected !== null && selected >= (revealed ?? steps)) selected = null
    title.textContent = flow === undefined ? 'No flow yet: the flows appear here as clients sign in' : `${flow.name} from ${flow.client}`
    position.textContent = flow === undefined ? '' : revealed === null ? `all ${steps} steps` : `step ${revealed} of ${steps}`
    view.dataset.flow = flow?.key ?? ''
    view.dataset.revealed = String(revealed ?? steps)
    prev.disabled = flow === undefined || (revealed !== null && revealed <= 1)
    next.disabled = flow === undefined || (revealed !== null && revealed >= steps)
    all.disabled = revealed === null
    renderDiagram(flow)
    renderDetails(flow)
  }

  // The list's items, by flow key, kept from one render to the next (a render comes up to every
  // 40 ms while exchanges arrive): a step more changes an item's text in place, because a button
  // replaced under the pointer loses the click, and under the keyboard's focus the focus. Only a
  // new order (a flow begun, "show older") puts the items in again, and the focus goes back to
  // the button it was on.
  /** @type {Map<string, { li: HTMLLIElement, button: HTMLButtonElement, name: HTMLElement, meta: HTMLElement }>} */
  const listed = new Map()
  const moreButton = el('button', { type: 'button', class: 'flow-more' })
  moreButton.addEventListener('click', () => { allListed = !allListed; render() })
  const moreItem = el('li', {}, moreButton)
  const noneItem = el('li', { class: 'flow-none' })

  /** @param {string} key */
  function itemOf (key) {
    let item = listed.get(key)
    if (item === undefined) {
      const name = el('span', { class: 'flow-name' })
      const meta = el('span', { class: 'flow-meta' })
      const button = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'flow-item', 'data-flow': key }, name, meta))
      button.addEventListener('click', () => choose(key))
      item = { li: /** @type {HTMLLIElement} */ (el('li', {}, button)), button, name, meta }
      listed.set(key, item)
    }
    return item
  }

  /** @param {Element} node @param {string} text */
  const setText = (node, text) => { if (node.textContent !== text) node.textContent = text }
  /** @param {Element} node @param {string} name @param {string} value */
  const setAttr = (node, name, value) => { if (node.getAttribute(name) !== value) node.setAttribute(name, value) }

  /** @param {Flow | undefined} shown */
  function renderList (shown) {
    const newest = [...flows].reverse()
    const items = allListed ? newest : newest.slice(0, LISTED)
    for (const f of items) {
      const item = itemOf(f.key)
      const last = f.steps[f.steps.length - 1]?.record
      setText(item.name, f.name)
      setText(item.meta, `from ${f.client} · ${f.steps.length} ${f.steps.length === 1 ? 'step' : 'steps'} · ${timeOf(f.start)}${last ? ' · last ' + last.status : ''}`)
      setAttr(item.button, 'data-kind', f.kind)
      setAttr(item.button, 'aria-pressed', f === shown ? 'true' : 'false')
    }
    const more = newest.length > LISTED ? (allListed ? 'Show the newest only' : `Show ${newest.length - LISTED} older flows`) : ''
    const none = items.length > 0 ? '' : replay ? 'This file has no exchange' : 'No exchange has gone through the proxy since this page opened'
    setText(moreButton, more)
    setText(noneItem, none)
    list.dataset.count = String(flows.length)
    const order = JSON.stringify([items.map((f) => f.key), more !== '', none !== ''])
    if (order === listKey) return
    listKey = order
    const focused = document.activeElement instanceof HTMLElement && list.contains(document.activeElement) ? document.activeElement : null
    const keys = new Set(items.map((f) => f.key))
    for (const key of [...listed.keys()]) if (!keys.has(key)) listed.delete(key)
    list.replaceChildren(...items.map((f) => itemOf(f.key).li), ...(more === '' ? [] : [moreItem]), ...(none === '' ? [] : [noneItem]))
    if (focused !== null && list.contains(focused)) focused.focus({ preventScroll: true })
  }

  /** @param {Flow | undefined} flow */
  function renderDiagram (flow) {
    const width = diagram.clientWidth
    const fontPx = parseFloat(getComputedStyle(diagram).fontSize) * 0.8
    const steps = flow?.steps ?? []
    const key = [flow?.key, steps.length, steps[steps.length - 1]?.record.id, steps.map((s) => s.chain.length).join(''), revealed, selected, width, fontPx].join('|')
    if (key === drawnKey) return
    drawnKey = key
    if (flow === undefined) { diagram.replaceChildren(); return }
    const focused = document.activeElement?.closest?.('#flow-diagram g.step')
    const focusedStep = focused instanceof SVGElement ? focused.dataset.step : undefined
    drawSequence(diagram, flow, lanesOf(flow), { width, fontPx, revealed: revealed ?? steps.length, selected })
    for (const g of diagram.querySelectorAll('g.step')) {
      if (!(g instanceof SVGGElement)) continue
      const i = Number(g.dataset.step)
      g.addEventListener('click', () => select(i))
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(i) }
        if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
          ev.preventDefault()
          const to = diagram.querySelector(`g.step[data-step="${i + (ev.key === 'ArrowDown' ? 1 : -1)}"]`)
          if (to instanceof SVGGElement) to.focus()
        }
      })
    }
    if (focusedStep !== undefined) {
      const again = diagram.querySelector(`g.step[data-step="${focusedStep}"]`)
      if (again instanceof SVGGElement) again.focus({ preventScroll: true })
    }
  }

  /** @param {Flow | undefined} flow */
  function renderDetails (flow) {
    const step = selected === null ? undefined : flow?.steps[selected]
    const key = step === undefined ? '' : `${flow?.key}|${selected}|${step.chain.map((r) => r.id).join(',')}`
    if (key === detailsKey) return
    detailsKey = key
    if (step === undefined) { details.hidden = true; details.replaceChildren(); return }
    const r = step.record
    const blocks = [
      el('h3', { id: 'flow-details-title', text: `Step ${(selected ?? 0) + 1}, ${step.name}: ${exchangeTitle(r)}` }),
      el('p', { class: 'hint', text: `Exchange ${r.id}, rule ${r.rule || '(none)'}, ${answeredBy(step)}, ${r.durationMs.toFixed(1)} ms. Changed fields are marked, each with the proxy's reason.` }),
      exchangeSides(r, 'flow-details'),
    ]
    step.chain.slice(1).forEach((hop, h) => {
      blocks.push(el('h4', { class: 'hop-title', text: `Hop ${h + 2}: lyncproxy's ${hop.listener} listener (the VIP ${step.chain[h]?.upstream}) to ${hop.member || hop.upstream || 'itself'}, ${statusLine(hop)}` }))
      blocks.push(exchangeSides(hop, `flow-details-hop${h + 2}`))
    })
    details.replaceChildren(...blocks)
    details.hidden = false
    details.dataset.step = String(selected)
  }

  /** @param {string} key */
  function choose (key) {
    chosen = key
    revealed = null
    selected = null
    render()
  }

  /** @param {number} i */
  function select (i) {
    if (chosen === null) chosen = current()?.key ?? null
    selected = i
    render()
    details.scrollIntoView({ block: 'nearest' })
  }

  /** @param {number} by */
  function step (by) {
    const flow = current()
    if (flow === undefined) return
    if (chosen === null) chosen = flow.key
    const n = flow.steps.length
    revealed = Math.max(1, Math.min(n, (revealed ?? (by > 0 ? 0 : n + 1)) + by))
    selected = revealed - 1
    render()
    diagram.querySelector(`g.step[data-step="${selected}"]`)?.scrollIntoView({ block: 'nearest' })
  }

  prev.addEventListener('click', () => step(-1))
  next.addEventListener('click', () => step(1))
  all.addEventListener('click', () => { revealed = null; render() })
  pauseButton.addEventListener('click', () => {
    paused = !paused
    pauseButton.textContent = paused ? 'Resume' : 'Pause'
    pauseButton.setAttribute('aria-pressed', String(paused))
    view.dataset.paused = String(paused)
    if (paused) feed?.pause()
    else feed?.resume()
  })
  file.addEventListener('change', async () => {
    const chosenFile = file.files?.[0]
    if (chosenFile === undefined) return
    try {
      const { records, skipped, creator } = recordsOfHar(await chosenFile.text())
      replay = { records, file: chosenFile.name, note: `${records.length} exchanges from ${creator}${skipped > 0 ? `, ${skipped} entries skipped (not HTTP exchanges)` : ''}` }
      source.textContent = `Replaying ${replay.file}: ${replay.note}. The live feed goes on in the background.`
      source.className = 'flow-source replay'
      view.dataset.source = 'replay'
      back.hidden = false
      chosen = null
      revealed = null
      selected = null
      render()
    } catch (err) {
      source.textContent = `${chosenFile.name}: ${err instanceof Error ? err.message : String(err)}`
      source.className = 'flow-source error'
    } finally {
      file.value = ''
    }
  })
  back.addEventListener('click', () => {
    replay = null
    back.hidden = true
    source.textContent = 'Live: the exchanges through this proxy.'
    source.className = 'flow-source'
    view.dataset.source = 'live'
    chosen = null
    revealed = null
    selected = null
    render()
  })

  // Text size (A−/A+) and window size both change the columns.
  new ResizeObserver(() => schedule()).observe(diagram)
  new MutationObserver(() => schedule()).observe(document.documentElement, { attributes: true, attributeFilter: ['style'] })
  view.dataset.source = 'live'
  render()

  return {
    /** @param {FlowRecord} r */
    onRecord (r) {
      pushBounded(live, r, MAX_LIVE)
      if (replay === null) schedule()
    },
    /** @param {number} n @param {number} dropped */
    onWaiting (n, dropped) {
      waiting.textContent = waitingText(n, dropped)
      waiting.dataset.waiting = String(n)
      waiting.dataset.dropped = String(dropped)
    },
    /** @param {FeedControl} control */
    attach (control) { feed = control },
  }
}
