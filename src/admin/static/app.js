// @ts-check
// The teaching page: a diagram drawn from /api/routes with live counts from /api/traffic, the flow
// feed from /api/flows (Server-Sent Events), the "try it" box on /api/explain, and the firewall
// picture and port tables from /api/ports. Plain DOM and ES modules, no framework, no build step.
// Everything that came from a client (hosts, paths, header values) is put into the page as text,
// never as HTML (dom.js).
import { getPorts, getRoutes, getTraffic, messageOf } from './api.js'
import { drawDiagram } from './diagram.js'
import { byId, el } from './dom.js'
import { showTraffic } from './edge-counts.js'
import { drawFirewall } from './firewall.js'
import { connectFeed } from './flow-feed.js'
import { setUpFlowView } from './flow-view.js'
import { drawPorts } from './port-tables.js'
import { setUpTextSize } from './text-size.js'
import { setUpTryIt } from './try-it.js'

/** @type {import('./api.js').RoutesView | null} */
let routes = null
/** @type {import('./api.js').Ports | null} */
let portData = null

setUpTextSize()
setUpTryIt()

async function load () {
  try {
    const [r, p, t] = await Promise.all([getRoutes(), getPorts(), getTraffic()])
    routes = r
    portData = p
    showTraffic(t)
    drawDiagram(routes, portData)
    drawFirewall(portData, routes)
    drawPorts(portData)
  } catch (err) {
    byId('diagram').replaceChildren(el('p', { class: 'error', text: messageOf(err) }))
  }
}

await load()
const flowView = setUpFlowView()
flowView.attach(connectFeed(flowView))
// A reload may change the rules; counts move with every event, and this catches the rest.
setInterval(async () => {
  try {
    const next = await getRoutes()
    if (next.generation !== routes?.generation) { routes = next; portData = await getPorts(); drawDiagram(routes, portData); drawFirewall(portData, routes); drawPorts(portData) }
    showTraffic(await getTraffic())
  } catch { /* shown by the connection pill */ }
}, 5000)
document.body.dataset.ready = 'true'
