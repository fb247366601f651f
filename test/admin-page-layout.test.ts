// The teaching page's two drawings, the publishing diagram and the firewall picture, in headless
// Chromium at a laptop's window size and a projector's (SIZES), for a small configuration and a
// large one (rules on several listeners, with a deny rule, a redirect and a Director HLB VIP). Real traffic goes through the proxy, unpublished names and a
// denied path among it. The check is the browser's own layout: no two texts overlap, no text sticks
// out of its box, no arrow runs through a text (test/helpers/layout-check.ts); and what is drawn is
// right: the refusals at the listener or the rule where they stopped, with their codes and counts,
// and the firewall rows lit by the traffic that crossed them. Screenshots go to the test's
// directory, and to $LYNCPROXY_SCREENSHOTS when it names one.
import { mkdirSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import path from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { startAdmin } from '../src/admin/server.js'
import { validateConfigObject } from '../src/config/load.js'
import { startProxy, type RunningProxy } from '../src/control/proxy.js'
import { CHROMIUM, openPage, startChromium, type Page } from './helpers/chromium.js'
import { request } from './helpers/client.js'
import { collisions, textCount } from './helpers/layout-check.js'
import { testCertificates } from './helpers/proxy.js'
import { freePort } from './helpers/ports.js'
import { startUpstream } from './helpers/upstream.js'

const SIZES: ReadonlyArray<[number, number]> = [[1024, 768], [1920, 1080]]
// The page polls and the machine may be busy: wait on what the page shows, generously.
const WAIT = 45_000


interface Lab {
  certs: Awaited<ReturnType<typeof testCertificates>>
  fe: number
  dirHttp: number
  dirHttps: number
  owas: number
}

async function startLab (t: Test): Promise<Lab> {
  const certs = await testCertificates()
  const fe = await startUpstream(undefined, certs.internal.get('fe'))
  const dirHttp = await startUpstream()
  const dirHttps = await startUpstream(undefined, certs.internal.get('dir'))
  t.teardown(() => Promise.all([fe.close(), dirHttp.close(), dirHttps.close()]))
  return { certs, fe: fe.port, dirHttp: dirHttp.port, dirHttps: dirHttps.port, owas: await freePort() }
}

function pools (lab: Lab): Record<string, unknown> {
  return {
    fe: { role: 'frontend', fqdn: 'pool01.contoso.net', externalWebFqdn: 'webext.contoso.com', address: '127.0.0.1', httpPort: lab.fe, httpsPort: lab.fe },
    dir: { role: 'director', fqdn: 'dirpool.contoso.net', address: '127.0.0.1', httpPort: lab.dirHttp, httpsPort: lab.dirHttps },
    owas: { role: 'owas', fqdn: 'owas01.contoso.net', address: '127.0.0.1', httpPort: lab.owas, httpsPort: lab.owas },
  }
}

function smallConfig (lab: Lab): unknown {
  return {
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
    ],
    certs: { dir: path.dirname(lab.certs.caFile) },
    admin: { port: 0 },
    pools: pools(lab),
    rules: [
      { name: 'lyncdiscover', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-http', 'external-https'], action: 'forward', pool: 'dir' },
      { name: 'webext', publicNames: ['webext.contoso.com'], paths: ['/abs', '/ucwa', '/mcx'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
    ],
  }
}

function largeConfig (lab: Lab): unknown {
  return {
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
      { name: 'fabrikam-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
      // lyncproxy as the Director pool's HLB too: a VIP listener on the internal side.
      { name: 'dir-vip-http', protocol: 'http', interface: 'internal', address: '127.0.0.1', port: 0, redirectToHttps: false },
    ],
    certs: { dir: path.dirname(lab.certs.caFile) },
    admin: { port: 0 },
    pools: {
      ...pools(lab),
      'dir-servers': { role: 'director', kind: 'members', fqdn: 'dirpool.contoso.net', members: [{ name: 'dir01', address: '127.0.0.1', httpPort: lab.dirHttp, httpsPort: lab.dirHttps }], health: { check: 'none' } },
    },
    rules: [
      { name: 'lyncdiscover-http', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'dir' },
      { name: 'webext-http', publicNames: ['webext.contoso.com'], listeners: ['external-http'], action: 'redirect' },
      { name: 'lyncdiscover', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'control-panel', publicNames: ['webext.contoso.com'], paths: ['/cscp'], listeners: ['external-https'], action: 'deny' },
      { name: 'webext-longpoll', publicNames: ['webext.contoso.com'], paths: ['/ucwa', '/mcx'], listeners: ['external-https'], action: 'forward', pool: 'fe', timeouts: { response: 960 } },
      { name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
      { name: 'director', publicNames: ['webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'office-web-apps', publicNames: ['officewebapps01.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'owas' },
      { name: 'fabrikam-lyncdiscover', publicNames: ['lyncdiscover.fabrikam.com'], listeners: ['fabrikam-https'], action: 'forward', pool: 'dir' },
      { name: 'fabrikam-webext', publicNames: ['webext.fabrikam.com'], paths: ['/abs', '/ucwa'], listeners: ['fabrikam-https'], action: 'forward', pool: 'fe' },
      { name: 'fabrikam-meet', publicNames: ['meet.fabrikam.com', 'dialin.fabrikam.com'], listeners: ['fabrikam-https'], action: 'forward', pool: 'dir' },
      { name: 'dir-hlb', publicNames: ['*'], listeners: ['dir-vip-http'], action: 'forward', pool: 'dir-servers' },
    ],
  }
}

async function start (t: Test, config: unknown, file: string, lab: Lab): Promise<{ proxy: RunningProxy, url: string }> {
  const logger = pino({ level: 'silent' })
  const proxy = await startProxy(validateConfigObject(config, { file, baseDir: process.cwd() }), { logger, labCerts: lab.certs })
  t.teardown(() => proxy.close(0))
  const admin = await startAdmin({ proxy, logger, processMetrics: false })
  t.teardown(() => admin.close())
  return { proxy, url: admin.url }
}

const portOf = (proxy: RunningProxy, name: string): number => proxy.listeners.find((l) => l.name === name)!.port

// Sends `times` requests for `host` + `target` to a listener; returns their statuses.
async function send (lab: Lab, port: number, tls: boolean, host: string, target: string, times = 1): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < times; i++) out.push((await request({ port, host, path: target, ...(tls ? { tls: { ca: lab.certs.caPem } } : {}) })).status)
  return out
}

// A request whose TLS server name is `sni`, checking no certificate: the lab's certificates cover
// the published names only, and these requests are for names nothing publishes.
function sendUnchecked (port: number, sni: string, host: string, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: target, servername: sni, rejectUnauthorized: false, headers: { Host: host }, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

// Each drawing's section as the window shows it, then the whole page at the window's width (a
// taller window lays the drawings out the same: they follow the width only).
async function screenshots (t: Test, page: Page, name: string, width: number, height: number): Promise<void> {
  const dirs = [t.testdir(), process.env.LYNCPROXY_SCREENSHOTS].filter((d): d is string => d !== undefined && d !== '')
  const keep = (file: string, png: Buffer): void => {
    t.same([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `a PNG, ${file}`)
    for (const dir of dirs) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(path.join(dir, file), png)
    }
  }
  for (const section of ['diagram-section', 'ports-section']) {
    await page.evaluate(`document.getElementById('${section}').scrollIntoView()`)
    keep(`${name}-${section}.png`, await page.screenshot())
  }
  const full = await page.evaluate<number>('document.documentElement.scrollHeight')
  await page.setViewport(width, Math.min(full, 16_000))
  await page.evaluate('window.scrollTo(0, 0)')
  keep(`${name}-page.png`, await page.screenshot())
  await page.setViewport(width, height)
}

// What a refusal marker shows: its count and its text, or null when there is none.
async function marker (page: Page, selector: string): Promise<{ count: string, text: string } | null> {
  return page.evaluate(`(() => { const g = document.querySelector(${JSON.stringify('#diagram g.refusal' + selector)}); return g && { count: g.dataset.count, text: g.textContent } })()`)
}

// Where a drawn group's box is, in the page.
async function span (page: Page, selector: string): Promise<{ left: number, right: number, top: number }> {
  return page.evaluate(`(() => { const r = document.querySelector(${JSON.stringify(selector)}).querySelector('rect').getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top } })()`)
}

// At each size: nothing overlaps, there is something to look at, the diagram is readable (scrolls
// rather than shrinks), the rules are in the order they are tried; then the screenshots.
async function checkSizes (t: Test, page: Page, name: string, least: { diagram: number, firewall: number }, rules: Array<[string, string[]]>): Promise<void> {
  for (const [width, height] of SIZES) {
    await page.setViewport(width, height)
    // The drawing is scaled by its container: wait until the new width has been laid out.
    await page.waitFor(`window.innerWidth === ${width} && document.querySelector('#diagram svg').getBoundingClientRect().width > 0`, `the ${width} px layout`, WAIT)
    const at = `${name} at ${width}×${height}`
    t.same(await collisions(page, '#diagram'), [], `no text collides in the diagram, ${at}`)
    t.same(await collisions(page, '#firewall'), [], `no text collides in the firewall picture, ${at}`)
    t.ok(await textCount(page, '#diagram') >= least.diagram, `the diagram has its texts, ${at}`)
    t.ok(await textCount(page, '#firewall') >= least.firewall, `the firewall picture has its texts, ${at}`)
    for (const id of ['diagram', 'firewall']) {
      const scale = await page.evaluate<number>(`(() => { const s = document.querySelector('#${id} svg'); return s.getBoundingClientRect().width / s.viewBox.baseVal.width })()`)
      t.ok(scale >= 0.59, `#${id} is drawn at a readable scale (${scale.toFixed(2)}), ${at}`)
      t.comment(`#${id}: ${await page.evaluate<number>(`document.querySelector('#${id} svg').viewBox.baseVal.width`)} wide, drawn at ${scale.toFixed(2)}, ${at}`)
    }
    for (const [listener, list] of rules) {
      const tops = await page.evaluate<number[]>(`${JSON.stringify(list)}.map((r) => document.querySelector('#diagram g.rule[data-listener="${listener}"][data-rule="' + r + '"] rect').getBoundingClientRect().top)`)
      t.same([...tops].sort((a, b) => a - b), tops, `${listener}: ${list.join(', ')} top to bottom in the order they are tried, ${at}`)
    }
    await screenshots(t, page, `${name}-${width}x${height}`, width, height)
  }
}

t.test('the drawings hold at 1024 × 768 and 1920 × 1080', { skip: CHROMIUM === undefined ? 'no chromium (apt-get install chromium)' : false, timeout: 240_000 }, async (t) => {
  const lab = await startLab(t)
  const cdp = startChromium(t)

  t.test('two rules', async (t) => {
    const { proxy, url } = await start(t, smallConfig(lab), 'layout-small.yaml', lab)
    const http = portOf(proxy, 'external-http')
    const https = portOf(proxy, 'external-https')
    t.same(await send(lab, https, true, 'webext.contoso.com', '/abs/handler', 2), [200, 200])
    t.same(await send(lab, http, false, 'lyncdiscover.contoso.com', '/?sipuri=user1@contoso.com'), [200])
    for (let i = 0; i < 3; i++) t.equal(await sendUnchecked(https, 'unpublished.contoso.com', 'unpublished.contoso.com', '/'), 404, 'a name no rule publishes')
    t.same(await send(lab, http, false, 'unpublished.contoso.com', '/'), [404])
    t.same(await send(lab, https, true, 'webext.contoso.com', '/secret', 2), [404, 404], 'a path no rule of the name covers')

    const page = await openPage(cdp, url)
    await page.waitFor('document.body.dataset.ready === "true"', 'the page to load', WAIT)
    t.same(page.errors(), [], 'the page and dagre load without an error')
    t.equal(await page.evaluate('fetch("/static/vendor/dagre.js").then((r) => r.text()).then((s) => /sourceMappingURL/.test(s))'), false, 'dagre is served without its source map reference')
    await page.waitFor('document.querySelectorAll("#diagram g.refusal").length === 3', 'the three refusal markers', WAIT)

    t.match(await marker(page, '[data-stop=listener][data-listener=external-https][data-refusal=not_published]'), { count: '3', text: /404 not published ×3/ }, 'the unpublished name stops at the https listener')
    t.match(await marker(page, '[data-stop=listener][data-listener=external-https][data-refusal=not_published]'), { text: /not published by any rule/ }, 'with its reason')
    t.match(await marker(page, '[data-stop=listener][data-listener=external-http][data-refusal=not_published]'), { count: '1', text: /404 not published ×1/ }, 'and at the http listener')
    t.match(await marker(page, '[data-stop=listener][data-listener=external-https][data-refusal=path_not_published]'), { count: '2', text: /404 path not published ×2/ }, 'the unpublished path too')
    t.equal(await page.evaluate('document.querySelectorAll("#diagram g.refusal[data-stop=rule]").length'), 0, 'no rule refused anything')
    // Beside the listener, before any rule: nothing of it went further.
    const listener = await span(page, '#diagram g.listener[data-listener=external-https]')
    const refused = await span(page, '#diagram g.refusal[data-refusal=not_published][data-listener=external-https]')
    const rule = await span(page, '#diagram g.rule[data-rule=webext]')
    t.ok(refused.left > listener.right && refused.right < rule.left, 'the marker hangs between the listener and the rules')

    // The firewall rows the traffic crossed are lit; the rows it did not cross are not.
    const row = (selector: string): Promise<{ lit: boolean, requests: string } | null> =>
      page.evaluate(`(() => { const g = document.querySelector(${JSON.stringify('#firewall g.fw-row' + selector)}); return g && { lit: g.classList.contains('lit'), requests: g.dataset.requests } })()`)
    await page.waitFor(`document.querySelector('#firewall g.fw-row[data-table=external][data-port="${https}"]')?.classList.contains('lit')`, 'the https row to light', WAIT)
    t.same(await row(`[data-table=external][data-port="${https}"]`), { lit: true, requests: '7' }, 'every request to the https listener crossed the external firewall')
    t.same(await row(`[data-table=external][data-port="${http}"]`), { lit: true, requests: '2' })
    t.same(await row(`[data-table=internal][data-port="${lab.fe}"]`), { lit: true, requests: '2' }, 'only the forwarded ones crossed the internal firewall')
    t.same(await row(`[data-table=internal][data-port="${lab.dirHttp}"]`), { lit: true, requests: '1' })
    t.same(await row(`[data-table=internal][data-port="${lab.dirHttps}"]`), { lit: false, requests: '0' }, 'a row nothing crossed stays dark')
    t.ok(await page.evaluate('document.querySelector("#firewall g.fw-row.not-served[data-seed=director-sip-5061]") !== null'), 'the Director rows not served here are drawn, greyed')
    t.ok(await page.evaluate('document.querySelector("#firewall g.fw-row[data-seed=director-sip-5061]").classList.contains("inside")'), 'inside the internal network, on no firewall')

    await checkSizes(t, page, 'two-rules', { diagram: 30, firewall: 40 }, [['external-https', ['lyncdiscover', 'webext']], ['external-http', ['lyncdiscover', '(redirect to https)']]])
    t.same(page.errors(), [], 'nothing went wrong on the page')
  })

  t.test('twelve rules', async (t) => {
    const { proxy, url } = await start(t, largeConfig(lab), 'layout-large.yaml', lab)
    const http = portOf(proxy, 'external-http')
    const https = portOf(proxy, 'external-https')
    const fabrikam = portOf(proxy, 'fabrikam-https')
    const vip = portOf(proxy, 'dir-vip-http')
    t.same(await send(lab, https, true, 'webext.contoso.com', '/ucwa/v1/applications', 2), [200, 200])
    t.same(await send(lab, https, true, 'meet.contoso.com', '/meet/'), [200])
    t.same(await send(lab, http, false, 'webext.contoso.com', '/abs'), [301], 'the redirect rule answers itself, and is no refusal')
    t.same(await send(lab, https, true, 'webext.contoso.com', '/cscp', 2), [403, 403], 'the control panel is denied')
    for (let i = 0; i < 3; i++) t.equal(await sendUnchecked(https, 'admin.contoso.com', 'admin.contoso.com', '/'), 404)
    t.equal(await sendUnchecked(fabrikam, 'webext.contoso.com', 'dialin.fabrikam.com', '/'), 421, 'a Host the certificate for the TLS name does not cover')
    t.equal(await sendUnchecked(fabrikam, 'webext.fabrikam.com', 'webext.fabrikam.com', '/secret'), 404)
    t.equal(await sendUnchecked(fabrikam, 'lyncdiscover.fabrikam.com', 'lyncdiscover.fabrikam.com', '/'), 200)
    t.same(await send(lab, vip, false, 'dirpool.contoso.net:8080', '/Autodiscover/AutodiscoverService.svc/root'), [200], 'through the HLB VIP')

    const page = await openPage(cdp, url)
    await page.waitFor('document.body.dataset.ready === "true"', 'the page to load', WAIT)
    t.same(page.errors(), [], 'the page loads without an error')
    await page.waitFor('document.querySelectorAll("#diagram g.refusal").length === 4', 'the four refusal markers', WAIT)
    const drawnRules = await page.evaluate<string[]>('[...document.querySelectorAll("#diagram g.rule")].map((g) => g.dataset.rule)')
    for (const r of ['lyncdiscover-http', 'webext-http', 'lyncdiscover', 'control-panel', 'webext-longpoll', 'webext', 'director', 'office-web-apps', 'fabrikam-lyncdiscover', 'fabrikam-webext', 'fabrikam-meet']) {
      t.ok(drawnRules.includes(r), `rule ${r} is drawn`)
    }
    t.ok(await page.evaluate('document.querySelector("#diagram g.vip") !== null && document.querySelector("#diagram g.pool[data-pool=dir-servers]") !== null'), 'the HLB VIP and the servers behind it')
    t.match(await marker(page, '[data-stop=rule][data-listener=external-https][data-rule=control-panel][data-refusal=denied]'), { count: '2', text: /403 denied ×2/ }, 'the denied path stops at its deny rule')
    t.match(await marker(page, '[data-stop=listener][data-listener=external-https][data-refusal=not_published]'), { count: '3', text: /404 not published ×3/ })
    t.match(await marker(page, '[data-stop=listener][data-listener=fabrikam-https][data-refusal=path_not_published]'), { count: '1' })
    t.match(await marker(page, '[data-stop=listener][data-listener=fabrikam-https][data-refusal=misdirected]'), { count: '1', text: /421 misdirected ×1/ })
    t.equal(await marker(page, '[data-rule=webext-http]'), null, 'a redirect is the rule\'s answer, not a refusal')
    const deny = await span(page, '#diagram g.rule[data-rule=control-panel]')
    const denied = await span(page, '#diagram g.refusal[data-rule=control-panel]')
    const pool = await span(page, '#diagram g.pool[data-pool=fe]')
    t.ok(denied.left > deny.right && denied.right < pool.left, 'the marker hangs between the deny rule and the pools: nothing reached a pool')

    // More refusals of a kind already drawn: the marker counts them.
    t.same(await send(lab, https, true, 'webext.contoso.com', '/cscp/x'), [403])
    await page.waitFor('document.querySelector("#diagram g.refusal[data-rule=control-panel]")?.dataset.count === "3"', 'the deny marker to count 3', WAIT)
    t.match(await marker(page, '[data-rule=control-panel]'), { text: /403 denied ×3/ })

    await page.waitFor(`document.querySelector('#firewall g.fw-row[data-table=internal][data-port="${lab.fe}"]')?.classList.contains('lit')`, 'the Front End row to light', WAIT)
    t.ok(await page.evaluate(`document.querySelector('#firewall g.fw-row[data-table=external][data-port="${fabrikam}"]').classList.contains('lit')`), 'the second https listener\'s row is lit')
    t.notOk(await page.evaluate(`document.querySelector('#firewall g.fw-row[data-table=internal][data-port="${lab.owas}"]').classList.contains('lit')`), 'no request went to Office Web Apps')
    t.ok(await page.evaluate('document.querySelectorAll("#firewall g.fw-servers").length') as number >= 3, 'Front End, Director and Office Web Apps in the internal network')

    await checkSizes(t, page, 'twelve-rules', { diagram: 80, firewall: 50 }, [
      ['external-https', ['lyncdiscover', 'control-panel', 'webext-longpoll', 'webext', 'director', 'office-web-apps']],
      ['fabrikam-https', ['fabrikam-lyncdiscover', 'fabrikam-webext', 'fabrikam-meet']],
      ['external-http', ['lyncdiscover-http', 'webext-http']],
    ])
    t.same(page.errors(), [], 'nothing went wrong on the page')
  })
})
