// What the edge refuses and what it relays exactly, on raw sockets (proxy-correctness.md §1.2, §3 and
// the §4 plan): request line, Host, absolute form, OPTIONS * and CONNECT, the URI and header limits,
// transfer codings, Expect and 1xx, bodyless responses with stray upstream bytes, trailers, the body
// limit and HSTS. Every refusal is checked on the upstream side too: nothing may have been forwarded.
// Framing, hop-by-hop fields, the path policy and upstream faults are in test/forward-*.test.ts.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { request } from './helpers/client.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startRawUpstream } from './helpers/raw-upstream.js'
import { openRaw, sleep, statusCodes } from './helpers/raw-client.js'
import { startUpstream } from './helpers/upstream.js'
import { headerValues, parseResponseHead, wireExchange } from './helpers/wire.js'

const LIMIT = 1000
const CHUNK = 400

// A Node upstream for what needs a real server's 1xx handling: it decides when to send 100 Continue,
// sends 103 Early Hints, and counts the body bytes of the body-limit requests as they arrive.
interface Special {
  port: number
  seen: Array<{ url: string, expect: string | undefined, at: number }>
  // When the last 100 Continue was sent (performance.now()).
  continueSentAt: number
  limitedBytes: number
  close: () => Promise<void>
}

async function startSpecial (): Promise<Special> {
  const s: Special = { port: 0, seen: [], continueSentAt: 0, limitedBytes: 0, close: async () => {} }
  const echo = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('got:' + Buffer.concat(parts).toString()) })
  }
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, viaContinue: boolean): void => {
    const url = req.url ?? ''
    s.seen.push({ url, expect: req.headers.expect, at: performance.now() })
    req.on('error', () => { /* the proxy cut the body off (413) */ })
    res.on('error', () => {})
    if (url.startsWith('/expect/relay')) {
      if (!viaContinue) { echo(req, res); return }
      setTimeout(() => { s.continueSentAt = performance.now(); res.writeContinue(); echo(req, res) }, 300)
    } else if (url.startsWith('/expect/refuse')) {
      // A final answer instead of 100: the client must never be invited to send its body.
      res.writeHead(401, { 'WWW-Authenticate': 'NTLM', 'Content-Length': '0', Connection: 'close' })
      res.end()
    } else if (url.startsWith('/hints')) {
      res.writeEarlyHints({ link: '</hints.css>; rel=preload; as=style' })
      setTimeout(() => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('final') }, 150)
    } else if (url.startsWith('/limited')) {
      s.limitedBytes = 0
      if (url.startsWith('/limited/early')) { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.write('started\n') }
      req.on('data', (c: Buffer) => { s.limitedBytes += c.length })
      req.on('end', () => { if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('done') })
    } else {
      echo(req, res)
    }
  }
  const server = http.createServer((req, res) => onRequest(req, res, false))
  server.on('checkContinue', (req, res) => onRequest(req, res, true))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  s.port = (server.address() as AddressInfo).port
  s.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  return s
}

// Raw answers for bodyless responses with stray bytes after them, and for trailers. Each upstream
// connection gets a number, so a test can tell whether the proxy reused one.
const connectionIds = new WeakMap<Socket, number>()
let nextConnection = 0
const rawSeen: Array<{ target: string, connection: number }> = []
const TRAILERS =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5\r\nhello\r\n0\r\n' +
  'X-Checksum: abc123\r\nSet-Cookie: evil=1\r\nAuthorization: Basic eA==\r\nTransfer-Encoding: gzip\r\n' +
  'Content-Type: text/html\r\nHost: evil.example.org\r\n\r\n'
// Node's client refuses this one outright (a Content-Length trailer is a framing error).
const CL_TRAILER =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 999\r\n\r\n'

function respondRaw (socket: Socket, head: string): void {
  let id = connectionIds.get(socket)
  if (id === undefined) { id = ++nextConnection; connectionIds.set(socket, id) }
  const asked = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/'))
  rawSeen.push({ target: asked, connection: id })
  // The same answers under /raw/longpoll, a longPoll rule, reach the node:http engine.
  const target = asked.replace('/raw/longpoll/', '/raw/')
  // Stray bytes in the same write as the head, where a lax client would take them for the next response.
  if (target === '/raw/head') socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nSTRAY')
  else if (target === '/raw/204') socket.write('HTTP/1.1 204 No Content\r\n\r\nSTRAY')
  else if (target === '/raw/304') socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\nSTRAY')
  else if (target === '/raw/trailers') socket.write(TRAILERS)
  else if (target === '/raw/cl-trailer') socket.write(CL_TRAILER)
  else socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok')
}

// Sums the chunk sizes of a chunked body (from the first chunk-size line), however it ends.
function dechunk (body: string): { data: string, last: boolean, trailers: string } {
  let data = ''
  let at = 0
  for (;;) {
    const eol = body.indexOf('\r\n', at)
    if (eol < 0) return { data, last: false, trailers: '' }
    const size = parseInt(body.slice(at, eol), 16)
    if (Number.isNaN(size)) return { data, last: false, trailers: '' }
    if (size === 0) {
      const end = body.indexOf('\r\n\r\n', eol)
      return { data, last: end >= 0 || body.startsWith('\r\n', eol + 2), trailers: end < 0 ? '' : body.slice(eol + 2, end + 2) }
    }
    data += body.slice(eol + 2, eol + 2 + size)
    at = eol + 4 + size
  }
}

t.test('hostile and unusual requests', async (t) => {
  const certs = await testCertificates()
  const fe = await startUpstream()
  const feTls = await startUpstream(undefined, certs.internal.get('fe'))
  const dir = await startUpstream()
  const special = await startSpecial()
  const raw = await startRawUpstream(respondRaw)
  const p = await startTestProxy({
    pools: { fe: pool(fe.port, { httpsPort: feTls.port }), dir: pool(dir.port), special: pool(special.port), raw: pool(raw.port) },
    rules: [
      { name: 'expect', publicNames: ['webext.contoso.com'], paths: ['/expect', '/hints'], action: 'forward', pool: 'special', listeners: ['external-http'] },
      { name: 'limited', publicNames: ['webext.contoso.com'], paths: ['/limited'], action: 'forward', pool: 'special', maxBodyBytes: LIMIT, listeners: ['external-http'], requestBufferBytes: CHUNK },
      { name: 'raw-longpoll', publicNames: ['webext.contoso.com'], paths: ['/raw/longpoll'], action: 'forward', pool: 'raw', listeners: ['external-http'], longPoll: true },
      { name: 'raw', publicNames: ['webext.contoso.com'], paths: ['/raw'], action: 'forward', pool: 'raw', listeners: ['external-http'] },
      { name: 'hsts', publicNames: ['webext.contoso.com'], paths: ['/hsts'], action: 'forward', pool: 'fe', hstsMaxAge: 31536000 },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' },
      { name: 'lyncdiscover', publicNames: ['lyncdiscover.contoso.com'], action: 'forward', pool: 'dir' },
    ],
  })
  t.teardown(async () => { await p.close(); await Promise.all([fe.close(), feTls.close(), dir.close(), special.close(), raw.close()]) })

  const forwarded = (): number => fe.requests.length + dir.requests.length + special.seen.length + rawSeen.length
  const send = (bytes: string | Buffer, idleMs = 500): Promise<{ status: number, lines: string[], body: string, bytes: string, ended: string }> =>
    wireExchange(p.httpPort, bytes, { idleMs }).then((w) => ({ ...parseResponseHead(w.bytes), bytes: w.bytes, ended: w.ended }))
  const H = 'Host: webext.contoso.com\r\n'

  await t.test('request line: only HTTP/1.0 and 1.1', async (t) => {
    const before = forwarded()
    const v09 = await send('GET /abs/x\r\n\r\n')
    t.ok([400, 505].includes(v09.status), `HTTP/0.9 request line → ${v09.status}`)
    const v2 = await send(`GET /abs/x HTTP/2.0\r\n${H}\r\n`)
    t.equal(v2.status, 505, '"HTTP/2.0" over HTTP/1 → 505')
    const v132 = await send(`GET /abs/x HTTP/1.32\r\n${H}\r\n`)
    t.equal(v132.status, 400, 'HTTP/1.32 → 400')
    t.equal(forwarded(), before, 'nothing forwarded')
  })

  await t.test('Host: exactly one, valid', async (t) => {
    const before = forwarded()
    for (const [what, bytes] of [
      ['two Host lines', `GET /abs/x HTTP/1.1\r\n${H}Host: lyncdiscover.contoso.com\r\nConnection: close\r\n\r\n`],
      ['two identical Host lines', `GET /abs/x HTTP/1.1\r\n${H}${H}Connection: close\r\n\r\n`],
      ['Host: a, b', 'GET /abs/x HTTP/1.1\r\nHost: webext.contoso.com, lyncdiscover.contoso.com\r\nConnection: close\r\n\r\n'],
      ['missing Host (1.1)', 'GET /abs/x HTTP/1.1\r\nConnection: close\r\n\r\n'],
      ['missing Host (1.0)', 'GET /abs/x HTTP/1.0\r\n\r\n'],
      ['empty Host', 'GET /abs/x HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n'],
    ] as const) {
      const r = await send(bytes)
      t.equal(r.status, 400, `${what} → 400`)
    }
    t.equal(forwarded(), before, 'nothing forwarded')
  })

  await t.test('absolute-form target: routed by its own authority', async (t) => {
    const beforeFe = fe.requests.length
    let r = await send(`GET http://lyncdiscover.contoso.com/Autodiscover/x?a=1 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(r.status, 200)
    t.equal(dir.requests.at(-1)?.url, '/Autodiscover/x?a=1', 'forwarded in origin form, to the authority\'s rule')
    t.equal(dir.requests.at(-1)?.headers.host, 'lyncdiscover.contoso.com', 'Host regenerated from the target')
    t.equal(fe.requests.length, beforeFe, 'not to the rule of the Host field')
    const before = forwarded()
    r = await send(`GET http://evil.example.org/x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(r.status, 404, 'an unpublished authority is not routed by the published Host')
    r = await send(`GET http://user@webext.contoso.com/x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(r.status, 400, 'userinfo in the authority → 400')
    r = await send(`GET ftp://webext.contoso.com/x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(r.status, 400, 'another scheme → 400')
    t.equal(forwarded(), before, 'none of those forwarded')
  })

  await t.test('OPTIONS * is answered locally; CONNECT → 405', async (t) => {
    const before = forwarded()
    const options = await send(`OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(options.status, 200)
    t.ok(headerValues(options.lines, 'allow').length === 1, 'with Allow')
    const star = await send(`GET * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(star.status, 400, 'GET * → 400')
    const connect = await send('CONNECT webext.contoso.com:443 HTTP/1.1\r\nHost: webext.contoso.com:443\r\n\r\n')
    t.equal(connect.status, 405, `CONNECT → 405 (got ${JSON.stringify(connect.bytes.slice(0, 40))})`)
    t.not(connect.ended, 'idle', 'and the connection is closed')
    t.equal(forwarded(), before, 'nothing forwarded')
  })

  await t.test('limits: URI 414, header count and size 431, nothing dropped below them', async (t) => {
    const before = forwarded()
    const long = await send(`GET /abs/${'a'.repeat(9000)} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.equal(long.status, 414, 'a 9 KB target → 414')
    // An upgrade has left the HTTP server: its refusal is written raw, with the same status line.
    const longUpgrade = await send(`GET /abs/${'a'.repeat(9000)} HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    t.match(longUpgrade.bytes, /^HTTP\/1\.1 414 URI Too Long\r\n/, 'a 9 KB target on an upgrade → 414 URI Too Long')
    t.same(headerValues(longUpgrade.lines, 'x-lyncproxy-error'), ['uri_too_long'])
    const many = await send(`GET /abs/x HTTP/1.1\r\n${H}${'a:1\r\n'.repeat(1500)}Connection: close\r\n\r\n`)
    t.equal(many.status, 431, '1,500 small header fields → 431')
    t.same(headerValues(many.lines, 'x-lyncproxy-error'), ['too_many_headers'], 'by the count limit, not the size limit')
    const big = await send(`GET /abs/x HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`)
    t.equal(big.status, 431, 'a 20 KB field → 431')
    t.equal(forwarded(), before, 'nothing forwarded')

    // Below the count limit every field arrives, the last one included (Node alone keeps 2,000 by
    // default and drops the rest silently).
    const fields = Array.from({ length: 150 }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
    const ok = await send(`GET /abs/fields HTTP/1.1\r\n${H}${fields}X-Last: yes\r\nConnection: close\r\n\r\n`)
    t.equal(ok.status, 200, '150 fields are served')
    const got = fe.requests.at(-1)!
    t.equal(got.headers['x-last'], 'yes', 'the last field arrived')
    t.equal(Object.keys(got.headers).filter((k) => /^x-f\d+$/.test(k)).length, 150, 'all 150 arrived')
  })

  await t.test('transfer codings and framing', async (t) => {
    const before = forwarded()
    const gz = await send(`POST /abs/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)
    t.equal(gz.status, 501, 'Transfer-Encoding: gzip, chunked → 501')
    const clte = await send(`POST /abs/x HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)
    t.equal(clte.status, 400, 'CL + TE → 400')
    t.not(clte.ended, 'idle', 'and closed')
    const tecl = await send(`POST /abs/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)
    t.equal(tecl.status, 400, 'TE + CL → 400')
    const comma = await send(`POST /abs/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)
    t.equal(comma.status, 400, 'chunked, chunked → 400')
    t.equal(forwarded(), before, 'nothing forwarded')
  })

  await t.test('Expect: 100-continue', async (t) => {
    await t.test('relayed: 100 only once the upstream sends it', async (t) => {
      const c = await openRaw(p.httpPort)
      t.teardown(() => c.destroy())
      const sentAt = performance.now()
      c.write(`POST /expect/relay HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`)
      const got100 = await c.waitFor('HTTP/1.1 100 Continue', 3000)
      t.ok(got100 !== undefined, 'the client got 100 Continue')
      if (got100 === undefined) return
      const seen = special.seen.at(-1)
      t.equal(seen?.url, '/expect/relay', 'the request head had been forwarded')
      t.equal(seen?.expect, '100-continue', 'with the expectation')
      t.ok(got100 >= special.continueSentAt && special.continueSentAt > 0, 'the 100 came after the upstream sent its own')
      t.ok(got100 - sentAt >= 250, `not at once: ${Math.round(got100 - sentAt)} ms after the head, the upstream waited 300 ms`)
      c.write('hello')
      t.ok(await c.waitFor('got:hello', 3000), 'then the body went through')
      t.same(statusCodes(c.text), [100, 200], 'exactly one 100 and one 200')
    })

    await t.test('an upstream that answers at once: no 100, its final status', async (t) => {
      const c = await openRaw(p.httpPort)
      t.teardown(() => c.destroy())
      c.write(`POST /expect/refuse HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`)
      t.ok(await c.waitFor(/HTTP\/1\.1 401/, 3000), 'the upstream\'s 401 is relayed')
      await sleep(100)
      t.same(statusCodes(c.text), [401], 'and no 100 before it')
    })

    await t.test('refused by the proxy: never a 100', async (t) => {
      const before = forwarded()
      for (const [what, head, status] of [
        ['an unpublished path', 'POST /abs/x HTTP/1.1\r\nHost: unknown.contoso.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n', 404],
        ['a body over the rule\'s limit', `POST /limited/x HTTP/1.1\r\n${H}Content-Length: ${LIMIT + 1}\r\nExpect: 100-continue\r\n\r\n`, 413],
        ['an unknown expectation', `POST /expect/relay HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 200-maybe\r\n\r\n`, 417],
      ] as const) {
        const c = await openRaw(p.httpPort)
        c.write(head)
        await c.waitFor(/HTTP\/1\.1 \d{3} /, 3000)
        await sleep(100)
        t.same(statusCodes(c.text), [status], `${what} → ${status}, no 100`)
        c.destroy()
      }
      t.equal(forwarded(), before, 'nothing forwarded')
    })

    await t.test('HTTP/1.0: no 100, no expectation forwarded', async (t) => {
      const c = await openRaw(p.httpPort)
      t.teardown(() => c.destroy())
      c.write(`POST /expect/relay HTTP/1.0\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`)
      await sleep(300)
      t.same(statusCodes(c.text), [], 'nothing before the body')
      c.write('hello')
      t.ok(await c.waitFor('got:hello', 3000))
      t.same(statusCodes(c.text), [200], 'one 200, no 100')
      t.equal(special.seen.at(-1)?.expect, undefined, 'the upstream saw no Expect')
    })
  })

  await t.test('103 Early Hints relayed before the final response', async (t) => {
    const r = await send(`GET /hints/page HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
    t.same(statusCodes(r.bytes), [103, 200], '103 then 200')
    const hints = r.bytes.slice(0, r.bytes.indexOf('\r\n\r\n'))
    t.match(hints, /\r\nLink: <\/hints\.css>; rel=preload; as=style/i, 'the 103 carries the Link field')
    t.match(parseResponseHead(r.bytes.slice(r.bytes.indexOf('HTTP/1.1 200'))).body, /^5\r\nfinal\r\n0\r\n\r\n$/, 'and the final body follows')
  })

  await t.test('HEAD, 204 and 304 carry no body; stray upstream bytes go nowhere', async (t) => {
    const c = await openRaw(p.httpPort)
    t.teardown(() => c.destroy())
    for (const [method, target, status] of [['HEAD', '/raw/head', 200], ['GET', '/raw/204', 204], ['GET', '/raw/304', 304]] as const) {
      const from = c.text.length
      c.write(`${method} ${target} HTTP/1.1\r\n${H}\r\n`)
      await c.waitFor(new RegExp(`HTTP/1\\.1 ${status} [\\s\\S]*\\r\\n\\r\\n`), 3000)
      await sleep(150)
      const head = parseResponseHead(c.text.slice(from))
      t.equal(head.status, status, `${method} ${target} → ${status}`)
      t.equal(head.body, '', 'no body bytes after the head')
      if (method === 'HEAD') t.same(headerValues(head.lines, 'content-length'), ['5'], 'HEAD keeps the declared length')
      // The same client connection goes on: the next response must be intact.
      const next = c.text.length
      c.write(`GET /raw/after HTTP/1.1\r\n${H}\r\n`)
      await c.waitFor(/ok$/, 3000)
      const after = parseResponseHead(c.text.slice(next))
      t.equal(after.status, 200, 'the next request on the client connection is answered')
      t.equal(after.body, 'ok', 'with its own body, nothing stray in front')
      const last = rawSeen.at(-1)!
      const stray = rawSeen.at(-2)!
      t.equal(stray.target, target)
      t.not(last.connection, stray.connection, 'the upstream connection that sent stray bytes was not reused')
    }
    t.equal(c.how, 'open', 'the client connection survived all of it')
    t.notMatch(c.text, /STRAY/, 'no stray byte reached the client')
  })

  for (const [engine, prefix] of [['undici', '/raw'], ['node:http', '/raw/longpoll']] as const) {
    await t.test(`trailers only with TE: trailers, and never the prohibited fields (${engine} engine)`, async (t) => {
      const withTe = await send(`GET ${prefix}/trailers HTTP/1.1\r\n${H}TE: trailers\r\nConnection: close\r\n\r\n`)
      let head = parseResponseHead(withTe.bytes)
      t.equal(head.status, 200)
      let body = dechunk(head.body)
      t.equal(body.data, 'hello')
      t.ok(body.last, 'properly terminated')
      t.match(body.trailers, /^X-Checksum: abc123\r\n/im, 'the allowed trailer field is relayed')
      t.notMatch(body.trailers, /set-cookie|authorization|transfer-encoding|content-type|host|evil|gzip/i, 'the prohibited ones are not')

      const without = await send(`GET ${prefix}/trailers HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)
      head = parseResponseHead(without.bytes)
      body = dechunk(head.body)
      t.equal(body.data, 'hello')
      t.ok(body.last)
      t.equal(body.trailers, '', 'no trailers to a client that did not ask for them')
      t.notMatch(without.bytes, /abc123|evil/, 'not anywhere')

      const cl = await send(`GET ${prefix}/cl-trailer HTTP/1.1\r\n${H}TE: trailers\r\nConnection: close\r\n\r\n`)
      const clHead = parseResponseHead(cl.bytes)
      t.ok(clHead.status === 502 || !dechunk(clHead.body).last, `a Content-Length trailer: 502 or an aborted response, never a clean one (got ${clHead.status})`)
      t.notMatch(cl.bytes, /999/, 'the field is not relayed')
    })
  }

  await t.test('rule body limit', async (t) => {
    await t.test('declared length over the limit → 413, nothing forwarded', async (t) => {
      const before = forwarded()
      const r = await send(`POST /limited/x HTTP/1.1\r\n${H}Content-Length: ${LIMIT + 1}\r\n\r\n${'x'.repeat(LIMIT + 1)}`)
      t.equal(r.status, 413)
      t.same(headerValues(r.lines, 'x-lyncproxy-error'), ['body_too_large'])
      t.not(r.ended, 'idle', 'and the connection is closed (the body was not read)')
      t.equal(forwarded(), before, 'nothing forwarded')
      const ok = await send(`POST /limited/x HTTP/1.1\r\n${H}Content-Length: ${LIMIT}\r\nConnection: close\r\n\r\n${'x'.repeat(LIMIT)}`)
      t.equal(ok.status, 200, 'exactly the limit is accepted')
      t.equal(special.limitedBytes, LIMIT)
    })

    const chunked = async (target: string, waitHead: boolean): Promise<{ text: string, how: string, sent: number }> => {
      const c = await openRaw(p.httpPort)
      c.write(`POST ${target} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`)
      let sent = 0
      for (let i = 0; i < 8 && !c.closed; i++) {
        if (!c.write(`${CHUNK.toString(16)}\r\n${'y'.repeat(CHUNK)}\r\n`)) break
        sent += CHUNK
        // The first chunk fills the rule's request buffer: the proxy then sends the upstream request
        // head with it, and the early answer comes after that.
        if (waitHead && i === 0) await c.waitFor('started', 3000)
        await sleep(60)
      }
      c.write('0\r\n\r\n')
      await c.waitClose(3000)
      c.destroy()
      return { text: c.text, how: c.how, sent }
    }

    await t.test('a chunked body crossing the limit → 413', async (t) => {
      const r = await chunked('/limited/chunked', false)
      t.same(statusCodes(r.text), [413], 'one 413')
      t.ok(special.limitedBytes <= LIMIT + CHUNK, `the upstream received ${special.limitedBytes} bytes, at most the limit plus one chunk`)
      t.ok(r.sent < 8 * CHUNK, `the client was stopped before sending all of it (${r.sent} bytes)`)
    })

    await t.test('after the response started: the client connection is aborted', async (t) => {
      const r = await chunked('/limited/early', true)
      const head = parseResponseHead(r.text)
      t.equal(head.status, 200, 'the upstream had already answered')
      t.notOk(dechunk(head.body).last, 'the response never completes (no last chunk)')
      t.notMatch(r.text, /done/)
      t.not(r.how, 'open', `the connection was closed (${r.how})`)
      t.ok(special.limitedBytes <= LIMIT + CHUNK, `the upstream received ${special.limitedBytes} bytes, at most the limit plus one chunk`)
    })
  })

  await t.test('HSTS: only on https, only on the rule that sets it', async (t) => {
    const tlsOpts = { ca: certs.caPem }
    const onHttps = await request({ port: p.httpsPort, host: 'webext.contoso.com', path: '/hsts/x', tls: tlsOpts })
    t.equal(onHttps.status, 200)
    t.equal(onHttps.headers['strict-transport-security'], 'max-age=31536000', 'https, hsts rule: present')
    const onHttp = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/hsts/x' })
    t.equal(onHttp.status, 200)
    t.equal(onHttp.headers['strict-transport-security'], undefined, 'http, hsts rule: absent')
    const other = await request({ port: p.httpsPort, host: 'webext.contoso.com', path: '/abs/x', tls: tlsOpts })
    t.equal(other.status, 200)
    t.equal(other.headers['strict-transport-security'], undefined, 'https, another rule: absent')
  })
})
