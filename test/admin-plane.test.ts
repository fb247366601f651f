// The admin plane against a running proxy: every endpoint, the token, the metrics moving with real
// requests, reload through the API, the live flow feed, request-id correlation in the logs, and
// proof that the published names never reach it.
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createFlowFeed } from '../src/admin/flows.js'
import { startAdmin, type RunningAdmin } from '../src/admin/server.js'
import { loadConfigFile } from '../src/config/load.js'
import { startProxy, type RunningProxy } from '../src/control/proxy.js'
import { attachErrorLog } from '../src/observe/error-log.js'
import { Exchange, ExchangeBus } from '../src/observe/exchange.js'
import { request } from './helpers/client.js'
import { testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const TOKEN_ENV = 'LYNCPROXY_TEST_ADMIN_TOKEN'
const TOKEN = 'lab-admin-token-1'

async function refusedPort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

// The lab's topology against recording upstreams; Office Web Apps points at a closed port so that
// upstream errors happen. The names match the test certificates, so reloads reuse them.
export function labLikeConfig (certsDir: string, ports: { feHttps: number, dirHttp: number, dirHttps: number, owas: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
    ],
    certs: { dir: certsDir },
    pools: {
      fe: { role: 'frontend', fqdn: 'pool01.contoso.net', externalWebFqdn: 'webext.contoso.com', address: '127.0.0.1', httpPort: ports.feHttps, httpsPort: ports.feHttps },
      dir: { role: 'director', fqdn: 'dirpool.contoso.net', externalWebFqdn: 'webdirext.contoso.com', address: '127.0.0.1', httpPort: ports.dirHttp, httpsPort: ports.dirHttps },
      owas: { role: 'owas', fqdn: 'owas01.contoso.net', externalWebFqdn: 'officewebapps01.contoso.com', address: '127.0.0.1', httpPort: ports.owas, httpsPort: ports.owas },
    },
    rules: [
      { name: 'lyncdiscover-http', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'dir' },
      { name: 'lyncdiscover', publicNames: ['lyncdiscover.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'webext-longpoll', publicNames: ['webext.contoso.com'], paths: ['/ucwa', '/mcx'], listeners: ['external-https'], action: 'forward', pool: 'fe', timeouts: { response: 960 }, longPoll: true },
      { name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'fe' },
      { name: 'director', publicNames: ['webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'dir' },
      { name: 'office-web-apps', publicNames: ['officewebapps01.contoso.com'], listeners: ['external-https'], action: 'forward', pool: 'owas' },
    ],
    lab: { sipDomain: 'contoso.com', users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }] },
    ...extra,
  }
}

interface Harness {
  proxy: RunningProxy
  admin: RunningAdmin
  file: string
  httpPort: number
  httpsPort: number
  ca: string
  logLines: () => Array<Record<string, unknown>>
  upstreamPaths: () => string[]
  writeConfig: (config: Record<string, unknown> | string) => void
  config: (extra?: Record<string, unknown>) => Record<string, unknown>
}

async function startHarness (t: Test, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const certs = await testCertificates()
  const fe = await startUpstream(undefined, certs.internal.get('fe'))
  const dirHttp = await startUpstream()
  const dirHttps = await startUpstream(undefined, certs.internal.get('dir'))
  t.teardown(() => Promise.all([fe.close(), dirHttp.close(), dirHttps.close()]))
  const ports = { feHttps: fe.port, dirHttp: dirHttp.port, dirHttps: dirHttps.port, owas: await refusedPort() }
  const dir = t.testdir({})
  const file = path.join(dir, 'proxy.yaml')
  const config = (more: Record<string, unknown> = {}): Record<string, unknown> => labLikeConfig(path.dirname(certs.caFile), ports, { admin: { port: 0 }, ...extra, ...more })
  // JSON is YAML: the loader reads it like any config file.
  const writeConfig = (c: Record<string, unknown> | string): void => fs.writeFileSync(file, typeof c === 'string' ? c : JSON.stringify(c, null, 2))
  writeConfig(config())
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); cb() } })
  const logger = pino({ level: 'info' }, sink)
  const loaded = await loadConfigFile(file)
  const proxy = await startProxy(loaded, { logger, labCerts: certs })
  t.teardown(() => proxy.close(0))
  attachErrorLog(proxy.bus, logger)
  const admin = await startAdmin({ proxy, logger, file, baseDir: dir, env, processMetrics: false })
  t.teardown(() => admin.close())
  return {
    proxy,
    admin,
    file,
    httpPort: proxy.listeners.find((l) => l.protocol === 'http')!.port,
    httpsPort: proxy.listeners.find((l) => l.protocol === 'https')!.port,
    ca: certs.caPem,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    upstreamPaths: () => [...fe.requests, ...dirHttp.requests, ...dirHttps.requests].map((r) => r.url),
    writeConfig,
    config,
  }
}

interface AdminReply { status: number, headers: http.IncomingHttpHeaders, body: string }

function admin (h: Harness, pathAndQuery: string, options: { method?: string, headers?: Record<string, string> } = {}): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: h.admin.port, path: pathAndQuery, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const json = (r: AdminReply): any => JSON.parse(r.body) // eslint-disable-line @typescript-eslint/no-explicit-any

function metric (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = new Map([...(m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3])
  }
  return undefined
}

// SNI is the published name the certificate covers, whatever the Host says.
function httpsGet (h: Harness, host: string, target: string, headers: Record<string, string> = {}, servername = host): ReturnType<typeof request> {
  return request({ port: h.httpsPort, host, path: target, headers, tls: { ca: h.ca, servername } })
}

t.test('endpoints, metrics and schemas with traffic flowing', async (t) => {
  const h = await startHarness(t)

  const health = await admin(h, '/healthz')
  t.equal(health.status, 200)
  t.equal(json(health).status, 'ok')

  const ready = await admin(h, '/readyz')
  t.equal(ready.status, 200)
  t.match(json(ready), { ready: true, table: { loaded: true, generation: 1 } })
  t.same(json(ready).listeners.map((l: { name: string, listening: boolean }) => [l.name, l.listening]), [['external-http', true], ['external-https', true]])
  t.same(json(ready).pools.map((p: { name: string, health: string }) => [p.name, p.health]), [['fe', 'unchecked'], ['dir', 'unchecked'], ['owas', 'unchecked']], 'VIP pools: health is the HLB\'s')

  for (let i = 0; i < 3; i++) t.equal((await httpsGet(h, 'webext.contoso.com', '/abs/handler')).status, 200)
  t.equal((await httpsGet(h, 'webext.contoso.com', '/ucwa/v1/applications')).status, 200)
  t.equal((await request({ port: h.httpPort, host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com' })).status, 200)
  t.equal((await httpsGet(h, 'officewebapps01.contoso.com', '/hosting/discovery')).status, 502, 'owas points at a closed port')
  t.equal((await httpsGet(h, 'nothing.contoso.com', '/', {}, 'webext.contoso.com')).status, 404)

  // A keep-alive connection that stays open while metrics are scraped.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  t.equal((await request({ port: h.httpPort, host: 'lyncdiscover.contoso.com', path: '/', agent })).status, 200)

  const scrape = await admin(h, '/metrics')
  t.equal(scrape.status, 200)
  t.match(scrape.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const m = scrape.body
  t.equal(metric(m, 'lyncproxy_requests_total', { listener: 'external-https', rule: 'webext', pool: 'fe', code_class: '2xx' }), 3)
  t.equal(metric(m, 'lyncproxy_requests_total', { listener: 'external-https', rule: 'webext-longpoll', pool: 'fe', code_class: '2xx' }), 1)
  t.equal(metric(m, 'lyncproxy_requests_total', { listener: 'external-http', rule: 'lyncdiscover-http', pool: 'dir', code_class: '2xx' }), 2)
  t.equal(metric(m, 'lyncproxy_requests_total', { listener: 'external-https', rule: 'office-web-apps', pool: 'owas', code_class: '5xx' }), 1)
  t.equal(metric(m, 'lyncproxy_requests_total', { listener: 'external-https', rule: '', pool: '', code_class: '4xx' }), 1)
  t.equal(metric(m, 'lyncproxy_request_duration_seconds_count', { listener: 'external-https', rule: 'webext' }), 3)
  t.equal(metric(m, 'lyncproxy_request_duration_seconds_bucket', { listener: 'external-https', rule: 'webext', le: '960' }), 3, 'buckets reach the long-poll timeout')
  t.equal(metric(m, 'lyncproxy_upstream_errors_total', { pool: 'owas', kind: 'connect_refused' }), 1)
  t.equal(metric(m, 'lyncproxy_open_connections', { listener: 'external-http' }), 1, 'the keep-alive connection is open')
  t.equal(metric(m, 'lyncproxy_ntlm_pinned_connections'), 0)
  t.equal(metric(m, 'lyncproxy_upstream_up', { pool: 'fe', member: 'vip', address: '127.0.0.1' }), 1)
  const expiry = metric(m, 'lyncproxy_certificate_expiry_seconds', { listener: 'external-https' })
  t.ok(expiry !== undefined && expiry > 300 * 86400, `lab certificate valid for months (${expiry})`)
  t.match(m, /lyncproxy_certificate_expiry_seconds\{listener="external-https",names="[^"]*webext\.contoso\.com[^"]*"\}/)
  t.equal(metric(m, 'lyncproxy_config_reloads_total', { result: 'failure' }), 0)
  t.notMatch(m, /abs\/handler|hosting\/discovery|ucwa\/v1/, 'no path ever becomes a label')
  t.notMatch(m, /process_cpu/, 'process metrics left out on request')

  const routes = json(await admin(h, '/api/routes'))
  t.equal(routes.generation, 1)
  const https = routes.listeners.find((l: { name: string }) => l.name === 'external-https')
  t.equal(https.port, h.httpsPort)
  const webext = https.names.find((n: { name: string }) => n.name === 'webext.contoso.com')
  const fePort = (h.config().pools as { fe: { httpsPort: number } }).fe.httpsPort
  t.same(webext.rules.map((r: { rule: string, ports: number[], pool: string }) => [r.rule, r.pool, r.ports]), [['webext-longpoll', 'fe', [fePort]], ['webext', 'fe', [fePort]]])
  t.same(webext.rules[0].timeouts, { connectSeconds: 5, responseSeconds: 960 })
  t.same(webext.rules.map((r: { longPoll: boolean }) => r.longPoll), [true, false], 'the long-poll rule is shown as one')
  const http80 = routes.listeners.find((l: { name: string }) => l.name === 'external-http')
  const implicit = http80.names.find((n: { name: string }) => n.name === 'webext.contoso.com').rules[0]
  t.match(implicit, { implicit: true, action: 'redirect', redirect: { status: 301, port: String(h.httpsPort) } })
  t.same(routes.pools.map((p: { name: string, role: string }) => [p.name, p.role]), [['fe', 'frontend'], ['dir', 'director'], ['owas', 'owas']])

  const config = json(await admin(h, '/api/config'))
  t.equal(config.lab.users[0].password, '[redacted]')
  t.equal(config.lab.users[0].sipUri, 'user1@contoso.com')
  t.notMatch(JSON.stringify(config), /Pass@word1/)

  const explained = await admin(h, '/api/explain?url=' + encodeURIComponent('https://webext.contoso.com/ucwa/v1/applications') + '&header=' + encodeURIComponent('X-Forwarded-For: 10.9.9.9'))
  t.equal(explained.status, 200)
  const e = json(explained)
  t.match(e.outcome, { action: 'forward', rule: 'webext-longpoll' })
  t.equal(e.upstream.targets[0].url, `https://127.0.0.1:${fePort}/ucwa/v1/applications`)
  t.same(e.headers.replaced.map((x: { name: string, to: string }) => [x.name, x.to]), [['X-Forwarded-For', '192.0.2.10']])
  t.equal(e.listener.port, h.httpsPort, 'the bound port, not the config\'s 0')
  t.equal((await admin(h, '/api/explain')).status, 400, 'url is required (schema)')
  const bad = await admin(h, '/api/explain?url=ftp%3A%2F%2Fx')
  t.equal(bad.status, 400)
  t.match(json(bad).message, /http and https only/)
  t.equal((await admin(h, '/api/explain?url=x&listener=' + 'a'.repeat(100))).status, 400, 'schema limits the listener')

  const ports = json(await admin(h, '/api/ports'))
  t.same(ports.tables.map((x: { id: string }) => x.id), ['external', 'internal', 'director'])

  const traffic = json(await admin(h, '/api/traffic'))
  t.match(traffic.find((x: { rule: string }) => x.rule === 'webext'), { listener: 'external-https', pool: 'fe', requests: 3, lastStatus: 200 })

  const page = await admin(h, '/')
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<script type="module" src="\/static\/app\.js"><\/script>/)
  t.equal((await admin(h, '/static/app.js')).status, 200)
  t.equal((await admin(h, '/static/style.css')).headers['content-type'], 'text/css; charset=utf-8')
  t.equal((await admin(h, '/static/..%2Fserver.ts')).status, 400, 'only the listed assets')
  // The page's modules import each other: every one of them must be served, as a script.
  const staticDir = path.resolve(import.meta.dirname, '../src/admin/static')
  for (const name of fs.readdirSync(staticDir).filter((n) => /\.(js|css)$/.test(n))) {
    const r = await admin(h, `/static/${name}`)
    t.equal(r.status, 200, `/static/${name} is served`)
    t.equal(r.headers['content-type'], name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8')
    t.equal(r.body, fs.readFileSync(path.join(staticDir, name), 'utf8'), `${name} as written, without a token`)
  }
})

t.test('the bearer token guards every route but /healthz', async (t) => {
  const h = await startHarness(t, { admin: { port: 0, tokenEnv: TOKEN_ENV } }, { [TOKEN_ENV]: TOKEN })
  t.equal((await admin(h, '/healthz')).status, 200)
  for (const route of ['/metrics', '/readyz', '/api/routes', '/api/config', '/api/flows', '/api/traffic', '/', '/static/app.js']) {
    const r = await admin(h, route)
    t.equal(r.status, 401, `${route} without a token`)
    t.match(r.headers['www-authenticate'], /^Bearer/)
  }
  t.equal((await admin(h, '/api/routes', { headers: { Authorization: 'Bearer wrong' } })).status, 401)
  t.equal((await admin(h, '/api/routes', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200)
  t.equal((await admin(h, '/metrics?token=' + TOKEN)).status, 200, 'browsers pass it in the query')
  const page = await admin(h, '/?token=' + TOKEN)
  t.match(page.body, `/static/app.js?token=${TOKEN}`, 'the page carries the token on to its assets')
  const entry = await admin(h, '/static/app.js?token=' + TOKEN)
  t.equal(entry.status, 200)
  t.match(entry.body, `from './api.js?token=${TOKEN}'`, 'and each module to the modules it imports')
  t.notMatch(entry.body, /from '\.\/[a-z-]+\.js'/, 'every import carries it')
  t.equal((await admin(h, '/api/reload', { method: 'POST' })).status, 401)
  const config = json(await admin(h, '/api/config', { headers: { Authorization: `Bearer ${TOKEN}` } }))
  t.equal(config.admin.tokenEnv, '[redacted]')
})

t.test('a missing token variable stops the start with a coded error', async (t) => {
  await t.rejects(startHarness(t, { admin: { port: 0, tokenEnv: TOKEN_ENV } }, {}), { code: 'LRP_ERR_CONFIG_REFERENCE', message: /LYNCPROXY_TEST_ADMIN_TOKEN/ })
})

t.test('POST /api/reload re-reads the file; a bad file keeps the running table', async (t) => {
  const h = await startHarness(t)
  const next = h.config()
  ;(next.rules as Array<{ name: string, timeouts?: object }>)[3]!.timeouts = { response: 130 }
  h.writeConfig(next)
  const ok = await admin(h, '/api/reload', { method: 'POST' })
  t.equal(ok.status, 200)
  t.match(json(ok), { ok: true, generation: 2, errors: [] })
  const routes = json(await admin(h, '/api/routes'))
  const webext = routes.listeners[1].names.find((n: { name: string }) => n.name === 'webext.contoso.com').rules[1]
  t.equal(webext.timeouts.responseSeconds, 130, 'the new table is served')

  h.writeConfig('listeners: [\n  - bad')
  const failed = await admin(h, '/api/reload', { method: 'POST' })
  t.equal(failed.status, 422)
  t.match(json(failed), { ok: false, generation: 2, errors: [/LRP_ERR_CONFIG_SYNTAX/] })
  t.equal((await httpsGet(h, 'webext.contoso.com', '/')).status, 200, 'still serving')

  const m = (await admin(h, '/metrics')).body
  t.equal(metric(m, 'lyncproxy_config_reloads_total', { result: 'success' }), 1)
  t.equal(metric(m, 'lyncproxy_config_reloads_total', { result: 'failure' }), 1)
  t.ok(h.logLines().some((l) => l.level === 50 && /reload of .* failed/.test(String(l.msg))), 'the failure is logged')
})

interface SseEvent { event: string, id: string, data: string }

function openFeed (h: Harness): Promise<{ type: string | undefined } & { events: SseEvent[], next: (pred: (e: SseEvent) => boolean) => Promise<SseEvent>, close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: h.admin.port, path: '/api/flows', agent: false }, (res) => {
      const events: SseEvent[] = []
      const waiters: Array<{ pred: (e: SseEvent) => boolean, resolve: (e: SseEvent) => void }> = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const e: SseEvent = { event: 'message', id: '', data: '' }
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) e.event = line.slice(7)
            else if (line.startsWith('id: ')) e.id = line.slice(4)
            else if (line.startsWith('data: ')) e.data += line.slice(6)
          }
          if (e.data === '') continue
          events.push(e)
          for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e) }
        }
      })
      resolve({
        type: res.headers['content-type'],
        events,
        next: (pred) => new Promise((resolve2) => {
          const seen = events.find(pred)
          if (seen !== undefined) resolve2(seen)
          else waiters.push({ pred, resolve: resolve2 })
        }),
        close: () => req.destroy(),
      })
    })
    req.on('error', reject)
  })
}

t.test('the flow feed streams exchange records with masked credentials; the logs share the id', async (t) => {
  const h = await startHarness(t)
  const feed = await openFeed(h)
  t.teardown(feed.close)
  t.equal(feed.type, 'text/event-stream; charset=utf-8')
  await httpsGet(h, 'webext.contoso.com', '/ucwa/v1/applications', { Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.secret', Cookie: 'MRASCredential=secret' })
  const event = await feed.next((e) => e.event === 'exchange' && (JSON.parse(e.data) as { rule: string }).rule === 'webext-longpoll')
  const record = JSON.parse(event.data)
  t.equal(event.id, record.id)
  t.match(record, { listener: 'external-https', method: 'GET', host: 'webext.contoso.com', path: '/ucwa/v1/applications', rule: 'webext-longpoll', pool: 'fe', status: 200, upstreamStatus: 200 })
  t.match(record.upstream, /^127\.0\.0\.1:\d+$/)
  const received = new Map(record.requestHeaders as Array<[string, string]>)
  t.equal(received.get('Authorization'), 'Bearer [27 characters hidden]')
  t.equal(received.get('Cookie'), 'MRASCredential=[6 characters hidden]', 'the cookie\'s name is kept, its value masked')
  t.notMatch(event.data, /secret/)
  const forwarded = new Map(record.forwardedHeaders as Array<[string, string]>)
  t.equal(forwarded.get('X-Forwarded-Proto'), 'https')
  t.match(forwarded.get('Via'), /^1\.1 lyncproxy-/)

  // An upstream failure: the access log line, the error log line and the feed record carry one id.
  await httpsGet(h, 'officewebapps01.contoso.com', '/hosting/discovery')
  const failedEvent = await feed.next((e) => e.event === 'exchange' && (JSON.parse(e.data) as { rule: string }).rule === 'office-web-apps')
  const failed = JSON.parse(failedEvent.data)
  t.equal(failed.error, 'upstream_refused')
  const lines = h.logLines().filter((l) => l.id === failed.id)
  t.same(lines.map((l) => [l.kind, l.level]).sort(), [['exchange', 40], ['request-error', 50]])
  t.match(lines.find((l) => l.kind === 'request-error')!.msg, `request ${failed.id} failed: upstream_refused`)

  // A second client gets the recent history first.
  const late = await openFeed(h)
  t.teardown(late.close)
  const replayed = await late.next((e) => e.id === record.id)
  t.equal(JSON.parse(replayed.data).rule, 'webext-longpoll')
})

t.test('a slow feed client loses the oldest records, bounded, and hears how many', async (t) => {
  const bus = new ExchangeBus()
  const drops: number[] = []
  const feed = createFlowFeed(bus, { history: 0, perClient: 3, onDrop: (n) => drops.push(n) })
  t.teardown(() => feed.close())
  const written: string[] = []
  let accept = true
  const res = Object.assign(new EventEmitter(), {
    writeHead: () => res,
    write: (s: string) => { written.push(s); return accept },
    end: () => {},
  })
  const req = { socket: { setKeepAlive: () => {} } }
  feed.attach(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse)
  const ex = (n: number): Exchange => { const e = new Exchange('external-https', '192.0.2.1', 'GET'); e.target = `/n${n}`; e.status = 200; return e }
  accept = false
  bus.publish(ex(1)) // written, but the socket reports backpressure
  for (let i = 2; i <= 7; i++) bus.publish(ex(i)) // queued: only the newest 3 are kept
  t.equal(written.filter((w) => w.startsWith('id:')).length, 1)
  t.same(drops, [1, 1, 1])
  accept = true
  res.emit('drain')
  const after = written.slice(written.findIndex((w) => w.startsWith('id:')) + 1)
  t.equal(after[0], 'event: dropped\ndata: {"dropped":3}\n\n')
  t.same(after.slice(1).map((w) => JSON.parse(w.split('data: ')[1]!).path), ['/n5', '/n6', '/n7'])
  t.equal(feed.clients(), 1)
  res.emit('close')
  t.equal(feed.clients(), 0)
})

t.test('the admin plane is not reachable through the published listeners', async (t) => {
  const h = await startHarness(t)
  for (const target of ['/metrics', '/api/routes', '/api/config', '/healthz']) {
    // A published name: the request goes to the pool, never to the admin plane.
    const viaName = await httpsGet(h, 'webext.contoso.com', target)
    t.equal(viaName.status, 200)
    t.equal(JSON.parse(viaName.body).url, target, `${target} on webext is the Front End's`)
    t.notMatch(viaName.body, /lyncproxy_requests_total|"listeners"|"generation"/)
    // The admin listener's own address as Host, on both listeners, and as an absolute-form target.
    const adminHost = `127.0.0.1:${h.admin.port}`
    const https = await httpsGet(h, adminHost, target, {}, 'webext.contoso.com')
    t.equal(https.status, 404, `Host ${adminHost} on https`)
    const plain = await request({ port: h.httpPort, host: adminHost, path: target })
    t.equal(plain.status, 404, `Host ${adminHost} on http`)
    t.equal(plain.headers['x-lyncproxy-error'], 'not_published')
    const absolute = await request({ port: h.httpPort, host: 'webext.contoso.com', path: `http://${adminHost}${target}` })
    t.equal(absolute.status, 404, 'absolute-form target naming the admin listener')
  }
  t.ok(h.upstreamPaths().includes('/metrics'), 'the Front End answered /metrics for webext')
  const scrape = (await admin(h, '/metrics')).body
  t.equal(metric(scrape, 'lyncproxy_requests_total', { listener: 'external-http', rule: '', pool: '', code_class: '4xx' }), 8)
})
