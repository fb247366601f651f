// Both sides of an exchange, as the flow feed and the HAR export give them to the teaching page: the
// request as received and as forwarded, the response as the server sent it and as the client got
// it, what the proxy changed each way with the header policy's reason (the very words `explain`
// prints), the member that answered, the port reached, and for the proxy's own answers the fields
// it wrote, its reason and where the request stopped. A real proxy, a real upstream, real sockets.
import http from 'node:http'
import net from 'node:net'
import pino from 'pino'
import t from 'tap'
import { startAdmin } from '../src/admin/server.js'
import { validateConfigObject } from '../src/config/load.js'
import { startProxy } from '../src/control/proxy.js'
import { explainRequest } from '../src/explain/explain.js'
import { RESPONSE_ADDED_WHY, RESPONSE_DROPPED } from '../src/forward/header-policy.js'
import { EdgeFailures } from '../src/respond/failure.js'
import { relayedByOf, type FlowRecord } from '../src/admin/flow-record.js'
import { request } from './helpers/client.js'
import { startUpstream } from './helpers/upstream.js'

// The records of a flow feed, as a page reads them (Server-Sent Events), until `count` have come.
async function feedRecords (adminUrl: string, count: number): Promise<FlowRecord[]> {
  const controller = new AbortController()
  const res = await fetch(new URL('/api/flows', adminUrl), { signal: controller.signal })
  const records: FlowRecord[] = []
  let text = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk as Uint8Array, { stream: true })
    let end
    while ((end = text.indexOf('\n\n')) >= 0) {
      const event = text.slice(0, end)
      text = text.slice(end + 2)
      const data = /^data: (.*)$/m.exec(event)
      if (/^event: exchange$/m.test(event) && data !== null) records.push(JSON.parse(data[1]!) as FlowRecord)
    }
    if (records.length >= count) break
  }
  controller.abort()
  return records
}

t.test('the flow record has both sides of each exchange, with the reasons explain gives', async (t) => {
  // The server challenges, names a hop-by-hop field in its Connection field, and sends a cookie.
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(401, [
      'WWW-Authenticate', 'NTLM',
      'WWW-Authenticate', 'Negotiate',
      'X-MS-WebTicketURL', 'https://webext.contoso.com/WebTicket/WebTicketService.svc',
      'X-Lab-Hop', 'secret-of-the-connection',
      'Connection', 'X-Lab-Hop',
      'Set-Cookie', 'lab=1; Path=/',
      'Content-Length', '0',
    ])
    res.end()
  })
  t.teardown(() => upstream.close())
  const loaded = validateConfigObject({
    listeners: [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0, redirectToHttps: false }],
    admin: { port: 0 },
    pools: {
      fe: { role: 'frontend', fqdn: 'pool01.contoso.net', kind: 'members', affinity: 'cookie', members: [{ name: 'fe01', address: '127.0.0.1', httpPort: upstream.port, httpsPort: upstream.port }], health: { check: 'none' } },
    },
    rules: [
      { name: 'no-admin', publicNames: ['webext.contoso.com'], paths: ['/admin'], listeners: ['external-http'], action: 'deny' },
      { name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'fe' },
    ],
  }, { file: 'sides-test.yaml', baseDir: process.cwd() })
  const logger = pino({ level: 'silent' })
  const proxy = await startProxy(loaded, { logger })
  t.teardown(() => proxy.close(0))
  const admin = await startAdmin({ proxy, logger, processMetrics: false })
  t.teardown(() => admin.close())
  const port = proxy.listeners[0]!.port

  const records = feedRecords(admin.url, 4)
  // The feed connects before the traffic; the history would replay it otherwise, in the same order.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const challenged = await request({ port, host: 'webext.contoso.com', path: '/abs/handler', headers: { 'X-Forwarded-For': '203.0.113.9', Connection: 'keep-alive', Cookie: 'MS-WSMAN=c2VjcmV0; lang=en' } })
  t.equal(challenged.status, 401)
  t.equal((await request({ port, host: 'intranet.contoso.com', path: '/' })).status, 404)
  t.equal((await request({ port, host: 'webext.contoso.com', path: '/admin/x' })).status, 403)
  // CONNECT leaves the HTTP server: its refusal is written on the raw socket.
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('CONNECT webext.contoso.com:443 HTTP/1.1\r\nHost: webext.contoso.com:443\r\n\r\n'))
    s.on('data', () => {}).on('close', () => resolve()).on('error', () => resolve())
  })
  const [forwarded, unpublished, denied, connect] = await records

  // The 401, both ways.
  t.equal(forwarded!.member, 'fe01', 'the member that answered')
  t.equal(forwarded!.listenerPort, port, 'the port the client reached')
  t.equal(forwarded!.stop, 'pool')
  t.equal(forwarded!.reason, '', 'a server answered')
  t.same(forwarded!.requestHeaders.filter(([n]) => n === 'Cookie'), [['Cookie', 'MS-WSMAN=[8 characters hidden]; lang=[2 characters hidden]']], 'a cookie\'s name is shown, never its value')
  const names = (pairs: Array<[string, string]>): string[] => pairs.map(([n]) => n.toLowerCase())
  t.same(forwarded!.upstreamResponseHeaders.filter(([n]) => n.toLowerCase() === 'www-authenticate').map(([, v]) => v), ['NTLM', 'Negotiate'], 'the challenge as the server sent it')
  t.same(forwarded!.responseHeaders.filter(([n]) => n.toLowerCase() === 'www-authenticate').map(([, v]) => v), ['NTLM', 'Negotiate'], 'and as the client got it')
  t.ok(names(forwarded!.upstreamResponseHeaders).includes('x-lab-hop'), 'the field the server named in Connection, as received')
  t.notOk(names(forwarded!.responseHeaders).includes('x-lab-hop'), 'is not sent on')
  const responseWhy = new Map(forwarded!.responseChanges.map((c) => [`${c.change} ${c.name.toLowerCase()}`, c.why]))
  t.equal(responseWhy.get('removed x-lab-hop'), 'named in the upstream\'s Connection header: hop-by-hop')
  t.equal(responseWhy.get('removed connection'), RESPONSE_DROPPED.why)
  t.equal(responseWhy.get('replaced set-cookie'), RESPONSE_ADDED_WHY.get('set-cookie'), 'the affinity cookie beside the server\'s own')
  const cookie = forwarded!.responseChanges.find((c) => c.name.toLowerCase() === 'set-cookie')!
  t.match(cookie.value, /^lab=\[1 characters hidden\]; Path=\/, MS-WSMAN=\[\d+ characters hidden\]; Path=\/$/, 'cookie values stay masked in the changes too, each cookie\'s name and attributes kept')
  t.equal(cookie.from, 'lab=[1 characters hidden]; Path=/')
  t.notOk(forwarded!.responseChanges.some((c) => c.name.toLowerCase() === 'www-authenticate'), 'the challenge passes unchanged, so it is not listed as a change')

  // The request's changes carry explain's reasons for the same request, word for word.
  const explained = explainRequest({ url: 'http://webext.contoso.com/abs/handler', headers: [['X-Forwarded-For', '203.0.113.9'], ['Connection', 'keep-alive']] },
    { config: proxy.config(), table: proxy.table(), boundPorts: new Map([['external-http', port]]) })
  const explainWhy = new Map<string, string>()
  for (const c of explained.headers!.added) explainWhy.set(`added ${c.name.toLowerCase()}`, c.why)
  for (const c of explained.headers!.replaced) explainWhy.set(`replaced ${c.name.toLowerCase()}`, c.why)
  for (const c of explained.headers!.removed) explainWhy.set(`removed ${c.name.toLowerCase()}`, c.why)
  const requestWhy = new Map(forwarded!.requestChanges.map((c) => [`${c.change} ${c.name.toLowerCase()}`, c.why]))
  t.ok(requestWhy.has('replaced x-forwarded-for'), 'the client\'s X-Forwarded-For is replaced')
  t.equal(forwarded!.requestChanges.find((c) => c.name.toLowerCase() === 'x-forwarded-for')?.from, '203.0.113.9')
  for (const key of ['replaced x-forwarded-for', 'removed connection', 'added forwarded']) {
    t.ok(requestWhy.get(key), `${key} has a reason`)
    t.equal(requestWhy.get(key), explainWhy.get(key), `${key}: the same reason as explain's`)
  }
  // What the upstream received is what the record says was forwarded (and the upstream
  // connection's own Connection field, which the engine adds for its keep-alive).
  const received = upstream.requests[0]!.rawHeaders
  const sent = new Map(forwarded!.forwardedHeaders.map(([n, v]) => [n.toLowerCase(), v]))
  t.same(received.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()).filter((n) => n !== 'connection').sort(), [...sent.keys()].sort(), 'the forwarded fields are the ones the upstream got')
  t.equal(upstream.requests[0]!.headers['x-forwarded-for'], sent.get('x-forwarded-for'), 'with the values recorded')

  // The proxy's own answers: what it wrote, why, and where the request stopped.
  t.equal(unpublished!.stop, 'listener')
  t.equal(unpublished!.reason, EdgeFailures.notPublished.reason)
  t.same(unpublished!.upstreamResponseHeaders, [], 'no server answered')
  t.ok(unpublished!.responseHeaders.some(([n, v]) => n === 'X-Lyncproxy-Error' && v === 'not_published'), 'the refusal as sent')
  t.same(unpublished!.requestChanges, [], 'nothing was forwarded, so nothing changed')
  t.equal(denied!.stop, 'rule')
  t.equal(denied!.rule, 'no-admin')
  t.equal(denied!.reason, EdgeFailures.denied.reason)
  t.equal(connect!.method, 'CONNECT')
  t.equal(connect!.reason, EdgeFailures.connectRefused.reason)
  t.ok(connect!.responseHeaders.some(([n, v]) => n === 'X-Lyncproxy-Error' && v === 'method_not_allowed'), 'a raw-socket refusal records what it wrote')

  // The tally counts each refusal apart, where it stopped, with its reason.
  const traffic = await (await fetch(new URL('/api/traffic', admin.url))).json() as Array<{ listener: string, rule: string, refusal: string, reason: string, stop: string, requests: number }>
  const refusals = traffic.filter((e) => e.refusal !== '').map((e) => `${e.stop} ${e.rule || '-'} ${e.refusal} ${e.requests}`).sort()
  t.same(refusals, ['listener - method_not_allowed 1', 'listener - not_published 1', 'rule no-admin denied 1'])
  t.equal(traffic.find((e) => e.refusal === 'not_published')?.reason, EdgeFailures.notPublished.reason)
  t.equal(traffic.find((e) => e.rule === 'webext')?.refusal, '', 'forwarded exchanges are no refusal')

  // The HAR export carries the same, for a replay without the lab.
  const har = await (await fetch(new URL('/api/flows.har', admin.url))).json() as { log: { entries: Array<Record<string, unknown> & { _requestChanges: unknown, _responseChanges: unknown }> } }
  const entry = har.log.entries.find((e) => e._id === forwarded!.id)!
  t.ok(entry, 'the exchange is in the export under its id')
  t.equal(entry._client, '127.0.0.1')
  t.equal(entry._listenerPort, port)
  t.equal(entry._stop, 'pool')
  t.same(entry._requestChanges, forwarded!.requestChanges)
  t.same(entry._responseChanges, forwarded!.responseChanges)
  t.same(entry._upstreamResponseHeaders, forwarded!.upstreamResponseHeaders.map(([name, value]) => ({ name, value })))
  t.equal(har.log.entries.find((e) => e._id === unpublished!.id)?._reason, EdgeFailures.notPublished.reason)
})

t.test('a request this proxy sent to itself names the listener it came through', async (t) => {
  t.equal(relayedByOf(['Via', '1.1 lyncproxy-0a1b2c.external-https'], 'lyncproxy-0a1b2c'), 'external-https')
  t.equal(relayedByOf(['via', '1.0 fw.contoso.com, 1.1 lyncproxy-0a1b2c.external-http'], 'lyncproxy-0a1b2c'), 'external-http', 'after another proxy\'s entry')
  t.equal(relayedByOf(['Via', '1.1 lyncproxy-ffffff.external-https'], 'lyncproxy-0a1b2c'), '', 'another lyncproxy is a client like any other')
  t.equal(relayedByOf(['Via', '1.1 xlyncproxy-0a1b2c.external-https'], 'lyncproxy-0a1b2c'), '', 'only a whole pseudonym counts')
  t.equal(relayedByOf(undefined, 'lyncproxy-0a1b2c'), '')
})

t.test('a WebSocket upgrade has both sides too', async (t) => {
  const upstream = http.createServer((_req, res) => { res.writeHead(404).end() })
  upstream.on('upgrade', (_req, socket: net.Socket) => {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Lab-Member: fe01\r\n\r\n')
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { upstream.closeAllConnections(); upstream.close(() => resolve()) }))
  const upstreamPort = (upstream.address() as net.AddressInfo).port
  const loaded = validateConfigObject({
    listeners: [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0, redirectToHttps: false }],
    admin: { port: 0 },
    pools: { fe: { role: 'frontend', fqdn: 'pool01.contoso.net', kind: 'members', members: [{ name: 'fe01', address: '127.0.0.1', httpPort: upstreamPort, httpsPort: upstreamPort }], health: { check: 'none' } } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], listeners: ['external-http'], action: 'forward', pool: 'fe' }],
  }, { file: 'sides-ws-test.yaml', baseDir: process.cwd() })
  const logger = pino({ level: 'silent' })
  const proxy = await startProxy(loaded, { logger })
  t.teardown(() => proxy.close(0))
  const admin = await startAdmin({ proxy, logger, processMetrics: false })
  t.teardown(() => admin.close())
  const records = feedRecords(admin.url, 1)
  await new Promise((resolve) => setTimeout(resolve, 100))
  await new Promise<void>((resolve) => {
    const s = net.connect(proxy.listeners[0]!.port, '127.0.0.1', () => s.write('GET /ucwa/ws HTTP/1.1\r\nHost: webext.contoso.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'))
    s.on('data', () => {}).on('close', () => resolve()).on('error', () => resolve())
  })
  const [ws] = await records
  t.equal(ws!.status, 101)
  t.ok(ws!.requestHeaders.some(([n, v]) => n === 'Upgrade' && v === 'websocket'), 'the upgrade request as received')
  t.ok(ws!.forwardedHeaders.some(([n]) => n === 'Via'), 'and as forwarded')
  t.ok(ws!.upstreamResponseHeaders.some(([n]) => n === 'X-Lab-Member'), 'the 101 as the server sent it')
  t.ok(ws!.responseHeaders.some(([n, v]) => n === 'Connection' && v === 'Upgrade'), 'and as the client got it')
  t.ok(ws!.requestChanges.some((c) => c.name === 'Via' && c.change === 'added'), 'with the changes and their reasons')
})
