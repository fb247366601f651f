// The teaching page in a real browser: Debian's headless Chromium, driven over the DevTools protocol
// on --remote-debugging-pipe (JSON messages separated by NUL on file descriptors 3 and 4), while
// requests flow through a proxy started here. It checks that the diagram is drawn from the routes,
// that its counters move, that a feed row appears with the right rule and shows its headers, that
// the "try it" box answers, and that the port tables are there. Then it plays the attacker: a page
// of another site (evil.example, which Chromium resolves to 127.0.0.1) that rebinds its name to the
// admin listener, and one that POSTs to the admin plane across sites; and it checks that the page's
// own POST passes.
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import pino from 'pino'
import t from 'tap'
import { startAdmin } from '../src/admin/server.js'
import { validateConfigObject } from '../src/config/load.js'
import { startProxy } from '../src/control/proxy.js'
import { CHROMIUM, openPage, startChromium } from './helpers/chromium.js'
import { request } from './helpers/client.js'
import { testCertificates } from './helpers/proxy.js'
import { freePort } from './helpers/ports.js'
import { startUpstream } from './helpers/upstream.js'

// A port forward that keeps what went through it: the requests the browser sent and the status
// lines that came back.
async function recordingForward (to: () => number): Promise<{ port: number, sent: () => string, received: () => string, close: () => Promise<void> }> {
  let sent = ''
  let received = ''
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(to(), '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (c: Buffer) => { sent += c.toString('latin1') })
    upstream.on('data', (c: Buffer) => { received += c.toString('latin1') })
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    sent: () => sent,
    received: () => received,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }),
  }
}


t.test('the teaching page follows live traffic in headless Chromium', { skip: CHROMIUM === undefined ? 'no chromium (apt-get install chromium)' : false, timeout: 120_000 }, async (t) => {
  const certs = await testCertificates()
  const fe = await startUpstream(undefined, certs.internal.get('fe'))
  const dirHttp = await startUpstream()
  const dirHttps = await startUpstream(undefined, certs.internal.get('dir'))
  t.teardown(() => Promise.all([fe.close(), dirHttp.close(), dirHttps.close()]))
  const owas = await freePort()
  const loaded = validateConfigObject({
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
      // lyncproxy as the Director pool's HLB too: a VIP listener on the internal side.
      { name: 'dir-vip-ext-http', protocol: 'http', interface: 'internal', address: '127.0.0.1', port: 0, redirectToHttps: false },
    ],
    certs: { dir: path.dirname(certs.caFile) },
    admin: { port: 0 },
    pools: {
      fe: { role: 'frontend', fqdn: 'pool01.contoso.net', externalWebFqdn: 'webext.contoso.com', address: '127.0.0.1', httpPort: fe.port, httpsPort: fe.port },
      dir: { role: 'director', fqdn: 'dirpool.contoso.net', address: '127.0.0.1', httpPort: dirHttp.port, httpsPort: dirHttps.port },
      owas: { role: 'owas', fqdn: 'owas01.contoso.net', address: '127.0.0.1', httpPort: owas, httpsPort: owas },
      'dir-servers': { role: 'director', kind: 'members', fqdn: 'dirpool.contoso.net', members: [{ name: 'dir01', address: '127.0.0.1', httpPort: dirHttp.port, httpsPort: dirHttps.port }], health: { check: 'none' } },
    },
    rules: [
      { name: 'lyncdiscover-http', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'dir' },
      { name: 'lyncdiscover', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'webext-longpoll', publicNames: ['webext.contoso.com'], paths: ['/ucwa', '/mcx'], listeners: ['external-https'], action: 'forward', pool: 'fe', timeouts: { response: 960 } },
      { name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
      { name: 'director', publicNames: ['webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'office-web-apps', publicNames: ['officewebapps01.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'owas' },
      { name: 'dir-hlb', publicNames: ['*'], listeners: ['dir-vip-ext-http'], action: 'forward', pool: 'dir-servers' },
    ],
  }, { file: 'page-test.yaml', baseDir: process.cwd() })
  const logger = pino({ level: 'silent' })
  const proxy = await startProxy(loaded, { logger, labCerts: certs })
  t.teardown(() => proxy.close(0))
  let adminPort = 0
  const forward = await recordingForward(() => adminPort)
  t.teardown(() => forward.close())
  const admin = await startAdmin({ proxy, logger, processMetrics: false, hosts: [`127.0.0.1:${forward.port}`] })
  adminPort = admin.port
  t.teardown(() => admin.close())
  const httpsPort = proxy.listeners.find((l) => l.protocol === 'https')!.port
  const httpPort = proxy.listeners.find((l) => l.name === 'external-http')!.port
  const vipPort = proxy.listeners.find((l) => l.name === 'dir-vip-ext-http')!.port
  const webext = (target: string): ReturnType<typeof request> => request({ port: httpsPort, host: 'webext.contoso.com', path: target, tls: { ca: certs.caPem } })

  // The attacker's name, resolved to loopback as a rebinding DNS server would.
  const cdp = startChromium(t, ['--host-resolver-rules=MAP evil.example 127.0.0.1'])

  const page = await openPage(cdp, admin.url)
  await page.waitFor('document.body.dataset.ready === "true"', 'the page to load')
  t.same(await page.evaluate('[...document.scripts].map((s) => [s.type, new URL(s.src).pathname])'), [['module', '/static/app.js']], 'the page is one entry module')
  t.same(page.errors(), [], 'its modules load and run without an error')

  // The diagram is the compiled table: every rule on its listener, every pool, the implicit redirect.
  const rules = await page.evaluate<string[]>('[...document.querySelectorAll("#diagram g.rule")].map((g) => g.dataset.listener + "/" + g.dataset.rule)')
  t.same(rules, [
    'external-http/lyncdiscover-http', 'external-http/(redirect to https)',
    'external-https/lyncdiscover', 'external-https/webext-longpoll', 'external-https/webext', 'external-https/director', 'external-https/office-web-apps',
  ])
  t.same(await page.evaluate('[...document.querySelectorAll("#diagram g.pool")].map((g) => g.dataset.pool)'), ['fe', 'dir', 'owas', 'dir-servers'], 'the servers behind the HLB VIP come after it')
  t.match(await page.evaluate<string>('document.querySelector("#diagram g.vip").textContent'), `HLB VIP 127.0.0.1 (lyncproxy)web :${vipPort}`)
  t.match(await page.evaluate<string>('document.querySelector("#diagram g.listener[data-listener=external-https]").textContent'), `HTTPS :${httpsPort}`)
  t.match(await page.evaluate<string>('document.querySelector("#diagram .director-rows").textContent'), /5061/, 'the Director HLB rows this proxy does not serve')

  // Port tables in the seeds' columns.
  t.same(await page.evaluate('[...document.querySelectorAll("#ports table")].map((x) => x.dataset.table)'), ['external', 'internal', 'director'])
  t.same(await page.evaluate('[...document.querySelectorAll("#ports table[data-table=external] th")].map((x) => x.textContent)'),
    ['Protocol/TCP or UDP/Port', 'Source IP address', 'Destination IP address', 'Description', 'lyncproxy'])

  await page.waitFor('document.getElementById("connection").textContent === "live"', 'the flow feed to connect')
  const count = (key: string): Promise<string> => page.evaluate<string>(`document.querySelector('text.edge-count[data-key="${key}"]').dataset.requests ?? "0"`)
  t.equal(await count('rule:external-https/webext'), '0')

  // Requests flow: the counters move and the feed shows each one with its rule.
  for (let i = 0; i < 3; i++) t.equal((await webext('/abs/handler?i=' + i)).status, 200)
  t.equal((await request({ port: httpPort, host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com' })).status, 200)
  t.equal((await request({ port: httpsPort, host: 'officewebapps01.contoso.com', path: '/hosting/discovery', tls: { ca: certs.caPem } })).status, 502)
  t.equal((await request({ port: vipPort, host: 'dirpool.contoso.net:8080', path: '/Autodiscover/AutodiscoverService.svc/root' })).status, 200, 'through the HLB VIP')

  await page.waitFor('document.querySelector(\'text.edge-count[data-key="rule:external-https/webext"]\').dataset.requests === "3"', 'the webext counter to reach 3')
  t.match(await page.evaluate<string>('document.querySelector(\'text.edge-count[data-key="pool:external-https/webext"]\').textContent'), `:${fe.port} 3 req · last 200`)
  await page.waitFor('document.querySelector(\'text.edge-count[data-key="listener:external-https"]\').dataset.requests === "4"', 'the https listener to count 4')
  t.equal(await count('rule:external-http/lyncdiscover-http'), '1')
  t.match(await page.evaluate<string>('document.querySelector(\'text.edge-count[data-key="rule:external-https/office-web-apps"]\').textContent'), 'last 502')
  await page.waitFor('document.querySelector(\'text.edge-count[data-key="hlb:127.0.0.1/dir-servers"]\').dataset.requests === "1"', 'the HLB edge to count the VIP request')

  const row = await page.waitFor<string[]>(
    '(() => { const r = document.querySelector("#feed tbody tr[data-rule=webext]"); return r && [...r.cells].map((c) => c.textContent) })()',
    'a feed row for rule webext')
  t.equal(row[2], 'external-https')
  t.match(row[3], /^GET webext\.contoso\.com\/abs\/handler\?i=\d$/)
  t.equal(row[4], 'webext')
  t.equal(row[5], `fe 127.0.0.1:${fe.port}`)
  t.equal(row[6], '200')
  const failed = await page.waitFor<string[]>('(() => { const r = document.querySelector("#feed tbody tr[data-rule=office-web-apps]"); return r && [...r.cells].map((c) => c.textContent) })()', 'the failed row')
  t.equal(failed[6], '502 upstream_refused')

  // A click shows the headers as received and as forwarded.
  await page.evaluate('document.querySelector("#feed tbody tr[data-rule=webext]").click()')
  await page.waitFor('!document.getElementById("details").hidden', 'the header details')
  const received = await page.evaluate<string[]>('[...document.querySelectorAll("#details-received td:first-child")].map((c) => c.textContent)')
  const forwarded = await page.evaluate<string[]>('[...document.querySelectorAll("#details-forwarded td:first-child")].map((c) => c.textContent)')
  t.ok(received.includes('Host'), 'Host as received')
  t.notOk(received.includes('X-Forwarded-For'))
  for (const name of ['Host', 'X-Forwarded-For', 'X-Forwarded-Proto', 'Forwarded', 'Via']) t.ok(forwarded.includes(name), `${name} as forwarded`)
  t.ok(await page.evaluate<number>('document.querySelectorAll("#details-forwarded tr.changed").length') >= 4, 'the fields the proxy added are marked')

  // The HAR download link: what it fetches is a HAR log of the rows above, with the member named.
  const har = await page.evaluate<{ version: string, rules: string[], members: string[] }>(`fetch(document.getElementById('download-har').href).then((r) => r.json()).then((h) => ({
    version: h.log.version, rules: h.log.entries.map((e) => e._rule), members: h.log.entries.map((e) => e._member) }))`)
  t.equal(har.version, '1.2', 'the page links the HAR export')
  t.ok(har.rules.includes('webext') && har.rules.includes('office-web-apps'), 'with the exchanges the feed shows')

  // Try it: explain answers and the diagram points at the rule.
  await page.evaluate(`(() => {
    document.getElementById('try-url').value = 'https://webext.contoso.com/ucwa/v1/applications'
    document.getElementById('try-button').click()
  })()`)
  const answer = await page.waitFor<string>('document.querySelector("#try-result .answer")?.textContent', 'the explain answer')
  t.equal(answer, `Forwarded by rule webext-longpoll to https://127.0.0.1:${fe.port}/ucwa/v1/applications`)
  t.same(await page.evaluate('[...document.querySelectorAll("#try-result tr[data-verdict=matched]")].map((r) => r.dataset.rule)'), ['webext-longpoll'])
  t.same(await page.evaluate('[...document.querySelectorAll("#try-result tr[data-verdict=shadowed]")].map((r) => r.dataset.rule)'), ['webext'])
  t.match(await page.evaluate<string>('document.getElementById("try-result").textContent'), /replaced.*X-Forwarded-For: 10\.0\.0\.66 → 192\.0\.2\.10/)
  t.ok(await page.evaluate('document.querySelector(\'#diagram g.rule[data-rule="webext-longpoll"] rect\').classList.contains("highlight")'), 'the matched rule is highlighted')
  await page.evaluate(`(() => {
    document.getElementById('try-url').value = 'http://webext.contoso.com/abs'
    document.getElementById('try-button').click()
  })()`)
  t.match(await page.waitFor<string>('(() => { const a = document.querySelector("#try-result .answer"); return a && a.dataset.action === "redirect" && a.textContent })()', 'the redirect answer'),
    `Redirected by (redirect to https): 301 → https://webext.contoso.com:${httpsPort}/abs`)

  // Projector mode: the text grows.
  const before = await page.evaluate<number>('parseFloat(getComputedStyle(document.documentElement).fontSize)')
  await page.evaluate('document.getElementById("larger").click(); document.getElementById("larger").click()')
  const after = await page.evaluate<number>('parseFloat(getComputedStyle(document.documentElement).fontSize)')
  t.ok(after > before * 1.15, `A+ enlarges the text (${before}px → ${after}px)`)

  // Screenshots of each section, kept when LYNCPROXY_SCREENSHOT names a file prefix (to look at them).
  for (const section of ['diagram-section', 'feed-section', 'try-section', 'ports-section']) {
    await page.evaluate(`document.getElementById('${section}').scrollIntoView()`)
    const png = await page.screenshot()
    t.same([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `a PNG screenshot of ${section}`)
    if (process.env.LYNCPROXY_SCREENSHOT !== undefined) writeFileSync(`${process.env.LYNCPROXY_SCREENSHOT}-${section}.png`, png)
  }

  // The page's own state change: a same-origin fetch with a JSON body, and one with no body.
  const draining = (): boolean => proxy.table().pools.get('dir-servers')!.members[0]!.draining
  t.equal(await page.evaluate<number>(`fetch('/api/pools/dir-servers/members/dir01/drain', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).then((r) => r.status)`), 200, 'the page\'s own JSON POST')
  t.ok(draining(), 'drains the member')
  t.equal(await page.evaluate<number>(`fetch('/api/pools/dir-servers/members/dir01/undrain', { method: 'POST' }).then((r) => r.status)`), 200, 'and an empty one')
  t.notOk(draining(), 'undrains it')
  t.same(page.errors(), [], 'nothing went wrong on the page while it was used')

  // DNS rebinding: a page of evil.example whose name now points at the admin listener. Same-origin
  // to the browser, so the page could read every answer; the plane does not answer to that name.
  const rebound = await openPage(cdp, `http://evil.example:${admin.port}/`)
  const status = await rebound.waitFor<number>('performance.getEntriesByType("navigation")[0]?.responseStatus', 'the rebound page to load')
  t.equal(status, 421, 'the rebound page load is refused')
  t.match(await rebound.evaluate<string>('document.body.textContent'), /misdirected_host/)
  t.same(await rebound.evaluate('fetch("/api/config").then(async (r) => [r.status, (await r.json()).error])'), [421, 'misdirected_host'], 'and so is its read of /api/config')

  // A cross-site POST, as any page the operator visits could send it: no-cors, text/plain, which
  // the browser sends without asking. It goes through the recording forward, to see what went out.
  const attacker = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end(`<!doctype html><script>
      window.done = Promise.all(['/api/pools/dir-servers/members/dir01/drain', '/api/reload'].map((p) => fetch('http://127.0.0.1:${forward.port}' + p, { method: 'POST', mode: 'no-cors', body: 'x' }).then(() => 'sent', (e) => String(e))))
    </script>`)
  })
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { attacker.closeAllConnections(); attacker.close(() => resolve()) }))
  const generation = proxy.table().generation
  const evil = await openPage(cdp, `http://evil.example:${(attacker.address() as net.AddressInfo).port}/`)
  t.same(await evil.waitFor('window.done', 'the attacker page\'s fetches'), ['sent', 'sent'], 'the browser sent both (their answers are opaque to the page)')
  const sent = forward.sent()
  // One keep-alive connection: each request head follows the previous body ('x').
  t.match(sent, /(?:^|x)POST \/api\/pools\/dir-servers\/members\/dir01\/drain HTTP\/1\.1\r\n/, 'the cross-site drain reached the admin listener')
  t.match(sent, /(?:^|x)POST \/api\/reload HTTP\/1\.1\r\n/, 'and so did the reload')
  t.match(sent, /^Origin: http:\/\/evil\.example:\d+\r$/m, 'with the attacker\'s Origin')
  t.match(sent, /^Sec-Fetch-Site: cross-site\r$/m, 'and Sec-Fetch-Site: cross-site')
  t.match(sent, /^Content-Type: text\/plain;charset=UTF-8\r$/m, 'as text/plain')
  // Each status line follows the previous JSON body directly.
  t.same([...forward.received().matchAll(/(?:^|\})HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['403', '403'], 'both refused: 403')
  t.notOk(draining(), 'the member was never drained')
  t.equal(proxy.table().generation, generation, 'nor the table reloaded')

  // With a token, opened with ?token= as an operator would: the entry module and every module it
  // imports must carry the token, or one of them is refused (401) and the page never runs.
  const tokenEnv = 'LYNCPROXY_PAGE_TEST_TOKEN'
  const guardedProxy = await startProxy(validateConfigObject({
    listeners: [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 }],
    admin: { port: 0, tokenEnv },
    pools: { fe: { role: 'frontend', fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: fe.port, httpsPort: fe.port } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'fe' }],
  }, { file: 'page-token-test.yaml', baseDir: process.cwd() }), { logger })
  t.teardown(() => guardedProxy.close(0))
  const guarded = await startAdmin({ proxy: guardedProxy, logger, processMetrics: false, env: { [tokenEnv]: 'page-token-1' } })
  t.teardown(() => guarded.close())
  const tokenPage = await openPage(cdp, `${guarded.url}?token=page-token-1`)
  await tokenPage.waitFor('document.body.dataset.ready === "true"', 'the page with a token to load')
  t.same(await tokenPage.evaluate('[...document.querySelectorAll("#diagram g.rule")].map((g) => g.dataset.rule)'), ['webext'], 'it draws the table')
  await tokenPage.waitFor('document.getElementById("connection").textContent === "live"', 'the feed to connect with the token')
  t.match(await tokenPage.evaluate<string>('document.getElementById("download-har").href'), /\/api\/flows\.har\?token=page-token-1$/, 'the HAR link carries the token')
  t.same(tokenPage.errors(), [], 'without an error')
})
