// A browser application on its own origin (http://app.fabrikam.com) signs in to UCWA the way the
// reference says a web application must (Cross_domainIFRAME.md, CreateAnApplication.md): through
// the pool's cross-domain frame, in headless Chromium, via the reverse proxy of a whole lab. The
// application code below is this test's own, written from those pages: it posts each request to
// the frame of the origin it is for, and follows the links it is handed, Director redirect
// included. The lab lists app.fabrikam.com in lab.crossDomainAuthorizationList; a page of another
// origin gets the pool's 403 with X-Ms-diagnostics 28070 (ConfiguringATopology.md). Chromium reaches
// the lab through a small CONNECT proxy here that sends every published name to the lab's listener.
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import YAML from 'yaml'
import { startLab } from '../src/index.js'
import { CHROMIUM, openPage, startChromium } from './helpers/chromium.js'
import { REPO } from './helpers/cli.js'

const APP = 'http://app.fabrikam.com'
const OTHER = 'http://other.example'

// The application: a hidden frame per pool origin, each request a postMessage of the JSON string
// Cross_domainIFRAME.md gives, each answer matched by its messageId.
const APPLICATION = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>UCWA web application</title></head><body><script>
var frames = {}, waiting = {}, next = 0
addEventListener('message', function (e) {
  var answer = JSON.parse(e.data)
  var w = waiting[answer.messageId]
  if (w && e.origin === w.origin) { delete waiting[answer.messageId]; w.resolve(answer) }
})
function frame (href) {
  var origin = new URL(href).origin
  if (!frames[origin]) frames[origin] = new Promise(function (resolve) {
    var f = document.createElement('iframe')
    f.style.display = 'none'
    f.onload = function () { resolve(f) }
    f.src = href
    document.body.appendChild(f)
  })
  return frames[origin]
}
// The frame of the origin a request goes to: the one a root named (its xframe link), or for an
// origin no root has named yet (a redirect to another pool) the frame's place on every pool, as the
// reference's samples do when a link changes domain.
var known = {}
function frameOf (url) {
  var origin = new URL(url).origin
  return known[origin] || origin + '/Autodiscover/XFrame/XFrame.html'
}
function learn (links) { if (links && links.xframe) known[new URL(links.xframe.href).origin] = links.xframe.href }
function send (frameHref, request) {
  return frame(frameHref).then(function (f) {
    var id = 'm' + (next++)
    var origin = new URL(frameHref).origin
    return new Promise(function (resolve) {
      waiting[id] = { origin: origin, resolve: resolve }
      request.messageId = id
      f.contentWindow.postMessage(JSON.stringify(request), origin)
    })
  })
}
function call (request) { return send(frameOf(request.url), request) }
function json (answer) { try { return JSON.parse(answer.responseText) } catch (e) { return {} } }
// Sign in as CreateAnApplication.md does it, following redirects (bounded) to the user's pool.
async function signIn (user, password) {
  var steps = []
  known['https://lyncdiscover.contoso.com'] = 'https://lyncdiscover.contoso.com/xframe'
  var root = await call({ type: 'get', url: 'https://lyncdiscover.contoso.com/', accepts: 'application/json' })
  steps.push('root ' + root.status)
  var links = json(root)._links
  for (var hop = 0; hop < 3; hop++) {
    learn(links)
    var challenge = await call({ type: 'get', url: links.user.href, accepts: 'application/json' })
    steps.push('user ' + challenge.status)
    var tokenUrl = /MsRtcOAuth href="([^"]+)"/i.exec(challenge.headers)[1]
    var token = await call({ type: 'post', url: tokenUrl, accepts: 'application/json', contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
      data: 'grant_type=password&username=' + encodeURIComponent(user) + '&password=' + encodeURIComponent(password) })
    steps.push('token ' + token.status)
    var bearer = { Authorization: 'Bearer ' + json(token).access_token }
    var resource = await call({ type: 'get', url: links.user.href, accepts: 'application/json', headers: bearer })
    steps.push('user ' + resource.status)
    var found = json(resource)._links
    if (found.redirect) {
      var redirected = await call({ type: 'get', url: found.redirect.href, accepts: 'application/json' })
      steps.push('redirect ' + redirected.status)
      links = json(redirected)._links
      continue
    }
    var applications = new URL(found.applications.href, links.user.href).href
    var created = await call({ type: 'post', url: applications, accepts: 'application/json', contentType: 'application/json', headers: bearer,
      data: JSON.stringify({ culture: 'en-US', endpointId: 'browser-1', userAgent: 'xframe-test/1.0' }) })
    steps.push('applications ' + created.status)
    return { steps: steps, xframe: frameOf(applications), application: json(created), challengeHeaders: challenge.headers }
  }
  return { steps: steps }
}
</script></body></html>`

t.test('a browser application signs in through the XFrame; an unlisted origin is refused', { skip: CHROMIUM === undefined ? 'no chromium (apt-get install chromium)' : false, timeout: 120_000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-xframe-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const config = YAML.parse(fs.readFileSync(path.join(REPO, 'config/lab.yaml'), 'utf8')) as { lab: Record<string, unknown> }
  config.lab.crossDomainAuthorizationList = [APP]
  const file = path.join(work, 'lab.yaml')
  fs.writeFileSync(file, YAML.stringify(config))
  const lab = await startLab({ config: file, certsDir: path.join(work, 'certs'), admin: true })
  t.teardown(() => lab.close())

  // Chromium's proxy: the application's pages are served here, and every CONNECT to a published
  // name on 443 goes to the lab's HTTPS listener. Nothing else is reachable.
  const names = new Set(Object.keys(lab.urls))
  const proxy = http.createServer((req, res) => {
    const host = new URL(req.url ?? '/', 'http://x').host
    if (`http://${host}` !== APP && `http://${host}` !== OTHER) { res.writeHead(502).end(); return }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(APPLICATION)
  })
  const tunnels = new Set<net.Socket>()
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    const [host, port] = (req.url ?? '').split(':')
    if (!names.has(host ?? '') || port !== '443') { client.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return }
    const upstream = net.connect(lab.https!.port, lab.https!.address, () => { client.write('HTTP/1.1 200 Connection Established\r\n\r\n'); upstream.pipe(client).pipe(upstream) })
    for (const s of [client, upstream]) { tunnels.add(s); s.on('error', () => { client.destroy(); upstream.destroy() }) }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { for (const s of tunnels) s.destroy(); proxy.close(() => resolve()) }))
  const cdp = startChromium(t, [`--proxy-server=http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, '--ignore-certificate-errors'])

  const page = await openPage(cdp, `${APP}/`)
  await page.waitFor('typeof signIn === "function"', 'the application page')
  const result = await page.evaluate<{ steps: string[], xframe: string, application: { _links?: { self?: { href: string } }, rel?: string }, challengeHeaders: string }>("signIn('user1@contoso.com', 'Pass@word1')")
  t.same(result.steps, ['root 200', 'user 401', 'token 200', 'user 200', 'redirect 200', 'user 401', 'token 200', 'user 200', 'applications 201'],
    'root, the Director\'s user resource and its redirect, then the Front End\'s, and the application')
  t.equal(result.xframe, 'https://webext.contoso.com/Autodiscover/XFrame/XFrame.html', 'the last frame is the Front End pool\'s')
  t.match(result.application, { rel: 'application', _links: { self: { href: /^\/ucwa\/oauth\/v1\/applications\// } } })
  // XHR joins the two WWW-Authenticate lines into one.
  t.match(result.challengeHeaders, /^www-authenticate: Bearer .*MsRtcOAuth href="https:\/\/webext\.contoso\.com\/WebTicket\/oauthtoken"/im, 'the frame hands the response headers back')
  t.same(page.errors(), [], 'no error in the page')

  // What the servers received, from the flow export: the frame's own headers on every request.
  const har = await (await fetch(new URL('/api/flows.har', lab.adminUrl))).json() as { log: { entries: Array<{ request: { url: string }, _forwardedHeaders: Array<{ name: string, value: string }> }> } }
  const applications = har.log.entries.find((e) => e.request.url.endsWith('/ucwa/oauth/v1/applications'))
  t.ok(applications, 'the POST applications went through the proxy')
  const forwarded = new Map(applications!._forwardedHeaders.map((h) => [h.name.toLowerCase(), h.value]))
  t.equal(forwarded.get('x-ms-origin'), APP, 'X-Ms-Origin: the application\'s origin, as the pool\'s frame sends it')
  t.equal(forwarded.get('x-requested-with'), 'XMLHttpRequest')
  t.match(forwarded.get('referer'), /^https:\/\/webext\.contoso\.com\/Autodiscover\/XFrame\/XFrame\.html/, 'from the frame\'s page')

  const other = await openPage(cdp, `${OTHER}/`)
  await other.waitFor('typeof send === "function"', 'the other origin\'s page')
  const refused = await other.evaluate<{ status: number, headers: string }>("send('https://lyncdiscover.contoso.com/xframe', { type: 'get', url: 'https://lyncdiscover.contoso.com/', accepts: 'application/json' })")
  t.equal(refused.status, 403, 'an origin not in the list: 403')
  t.match(refused.headers, /^x-ms-diagnostics: 28070;source="dir0[12]\.contoso\.net";reason="Service does not allow a cross domain request from this origin\."/im)
  const posing = await other.evaluate<{ status: number }>(`send('https://lyncdiscover.contoso.com/xframe', { type: 'get', url: 'https://lyncdiscover.contoso.com/', accepts: 'application/json', headers: { 'X-Ms-Origin': '${APP}' } })`)
  t.equal(posing.status, 403, 'a page that names a listed origin itself is still refused: the frame says where it comes from')
})
