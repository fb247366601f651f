// Upstream failures map to precise statuses (502 with a reason an admin can act on, 504 for time),
// long polls live by their rule's timeout, truncation stays visible to the client, and nothing an
// upstream does takes the process down (this process is the proxy: an unhandled error would crash it).
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import type { Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { request, type Reply } from './helpers/client.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startBlackhole } from './helpers/blackhole.js'
import { startRawUpstream } from './helpers/raw-upstream.js'
import { startUpstream } from './helpers/upstream.js'
import { headerValues, parseResponseHead, wireExchange } from './helpers/wire.js'
import { freePort } from './helpers/ports.js'

const run = promisify(execFile)

// On an address no test listens on or connects from, so no parallel test's socket takes the port.
const REFUSING_ADDRESS = '127.0.0.254'

// A certificate that names the pool correctly but was not issued by the lab CA.
async function foreignCertificate (dir: string): Promise<{ cert: string, key: string }> {
  const cert = path.join(dir, 'foreign.pem')
  const key = path.join(dir, 'foreign.key')
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=pool01.contoso.net', '-addext', 'subjectAltName=DNS:pool01.contoso.net',
  ])
  return { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(key, 'utf8') }
}

// Raw answers by path: the ways an upstream can break HTTP.
const BROKEN: Record<string, string> = {
  '/raw/garbage': 'GARBAGE\r\n\r\n',
  '/raw/bad-status': 'HTTP/1.1 two-hundred OK\r\nContent-Length: 0\r\n\r\n',
  '/raw/dup-length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  '/raw/dup-length-same': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  '/raw/length-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  '/raw/unsolicited-101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  '/raw/unsolicited-101-bare': 'HTTP/1.1 101 Switching Protocols\r\n\r\n',
}
const NO_ANSWER: Reply = { status: 0, headers: {}, rawHeaders: [], body: '(no answer)', complete: false }

function within (ms: number, reply: Promise<Reply>): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<Reply>((resolve) => { timer = setTimeout(() => resolve(NO_ANSWER), ms) })
  return Promise.race([reply, late]).finally(() => clearTimeout(timer))
}

const TRUNCATED_BODY = 'abcdefghij'

// The same raw answers under /raw/longpoll, a longPoll rule, reach the node:http engine.
function respondRaw (socket: Socket, head: string): void {
  const target = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/')).replace('/raw/longpoll/', '/raw/')
  const broken = BROKEN[target]
  if (broken !== undefined) { socket.write(broken); return }
  if (target === '/raw/truncated-length') {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n${TRUNCATED_BODY}`)
  } else if (target === '/raw/truncated-chunked') {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${TRUNCATED_BODY.length.toString(16)}\r\n${TRUNCATED_BODY}\r\n`)
  } else {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    return
  }
  // Long enough for the proxy to relay what came; then the upstream dies mid-body.
  setTimeout(() => socket.destroy(), 150)
}

t.test('upstream failures', async (t) => {
  const certs = await testCertificates()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-forward-errors-'))
  const refusedPort = await freePort(REFUSING_ADDRESS)
  const blackhole = await startBlackhole()
  const raw = await startRawUpstream(respondRaw)
  const untrusted = await startUpstream(undefined, await foreignCertificate(tmp))
  // A lab certificate, but for the Director pool's names, not pool01.contoso.net.
  const misnamed = await startUpstream(undefined, certs.internal.get('dir'))
  const holds = new Set<NodeJS.Timeout>()
  const slow = await startUpstream((req, res) => {
    const hold = Number(/[?&]hold=(\d+)/.exec(req.url ?? '')?.[1] ?? 0)
    const timer = setTimeout(() => {
      holds.delete(timer)
      if (!res.destroyed) { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('held ' + hold) }
    }, hold)
    holds.add(timer)
  })
  const p = await startTestProxy({
    defaults: { timeouts: { response: 1 } },
    pools: {
      refused: pool(refusedPort, { address: REFUSING_ADDRESS }),
      blackhole: pool(blackhole.port),
      raw: pool(raw.port),
      untrusted: pool(untrusted.port),
      misnamed: pool(misnamed.port),
      slow: pool(slow.port),
    },
    rules: [
      { name: 'refused', publicNames: ['webext.contoso.com'], paths: ['/refused'], action: 'forward', pool: 'refused' },
      { name: 'blackhole', publicNames: ['webext.contoso.com'], paths: ['/blackhole'], action: 'forward', pool: 'blackhole', timeouts: { connect: 1 } },
      { name: 'raw-longpoll', publicNames: ['webext.contoso.com'], paths: ['/raw/longpoll'], action: 'forward', pool: 'raw', listeners: ['external-http'], longPoll: true },
      { name: 'raw', publicNames: ['webext.contoso.com'], paths: ['/raw'], action: 'forward', pool: 'raw', listeners: ['external-http'] },
      { name: 'untrusted', publicNames: ['webext.contoso.com'], paths: ['/untrusted'], action: 'forward', pool: 'untrusted', listeners: ['external-https'] },
      { name: 'misnamed', publicNames: ['webext.contoso.com'], paths: ['/misnamed'], action: 'forward', pool: 'misnamed', listeners: ['external-https'] },
      { name: 'webext-longpoll', publicNames: ['webext.contoso.com'], paths: ['/ucwa', '/mcx'], action: 'forward', pool: 'slow', timeouts: { response: 3 } },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'slow' },
    ],
  })
  t.teardown(async () => {
    for (const timer of holds) clearTimeout(timer)
    await p.close()
    blackhole.close()
    await Promise.all([raw.close(), untrusted.close(), misnamed.close(), slow.close()])
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  const get = (path: string): Promise<Reply> => request({ port: p.httpPort, host: 'webext.contoso.com', path })
  const getTls = (path: string): Promise<Reply> => request({ port: p.httpsPort, host: 'webext.contoso.com', path, tls: { ca: certs.caPem } })

  await t.test('connection refused → 502', async (t) => {
    for (const r of [await get('/refused/x'), await getTls('/refused/x')]) {
      t.equal(r.status, 502)
      t.equal(r.headers['x-lyncproxy-error'], 'upstream_refused')
      t.match(r.body, new RegExp(`pool refused \\(pool01\\.contoso\\.net at 127\\.0\\.0\\.254:${refusedPort}\\) refused the connection`))
    }
  })

  await t.test('a pool that never completes the TCP handshake → 504 within the rule\'s connect timeout', async (t) => {
    for (const send of [get, getTls]) {
      const started = performance.now()
      const r = await within(5000, send('/blackhole/x'))
      const elapsed = performance.now() - started
      t.equal(r.status, 504)
      t.equal(r.headers['x-lyncproxy-error'], 'upstream_connect_timeout')
      t.match(r.body, /within 1 s/)
      t.ok(elapsed >= 900 && elapsed < 2500, `answered after ${Math.round(elapsed)} ms, the rule's 1 s connect timeout`)
    }
  })

  await t.test('upstream certificate from another CA → 502 upstream_tls_untrusted', async (t) => {
    const r = await getTls('/untrusted/x')
    t.equal(r.status, 502)
    t.equal(r.headers['x-lyncproxy-error'], 'upstream_tls_untrusted')
    t.match(r.body, 'pools.untrusted.tls.ca', 'the body says where to add the CA')
    t.equal(untrusted.requests.length, 0, 'no request was sent over the untrusted connection')
  })

  await t.test('lab certificate that does not name the pool → 502 upstream_tls_name', async (t) => {
    const r = await getTls('/misnamed/x')
    t.equal(r.status, 502)
    t.equal(r.headers['x-lyncproxy-error'], 'upstream_tls_name')
    t.match(r.body, 'pool01.contoso.net', 'the body names the name that was expected')
    t.equal(misnamed.requests.length, 0, 'no request was sent over the misnamed connection')
  })

  await t.test('response headers later than the rule allows → 504', async (t) => {
    const started = performance.now()
    const r = await get('/slow?hold=5000')
    const elapsed = performance.now() - started
    t.equal(r.status, 504)
    t.equal(r.headers['x-lyncproxy-error'], 'upstream_timeout')
    t.ok(elapsed >= 900 && elapsed < 2500, `answered after ${Math.round(elapsed)} ms, the rule's 1 s`)
    t.equal(slow.requests.at(-1)?.url, '/slow?hold=5000', 'the request had been forwarded')
  })

  await t.test('a long poll lives by its own rule\'s timeout', async (t) => {
    const started = performance.now()
    const [ucwa, mcx, other] = await Promise.all([
      get('/ucwa/v1/applications/1/events?ack=1&hold=2000'),
      get('/mcx/v1/events?hold=2000'),
      get('/abs/handler?hold=2000'),
    ])
    t.equal(ucwa.status, 200, '/ucwa held 2 s, under webext-longpoll\'s 3 s')
    t.equal(ucwa.body, 'held 2000')
    t.equal(mcx.status, 200, '/mcx too')
    t.equal(other.status, 504, 'another path held 2 s, over the default 1 s')
    t.equal(other.headers['x-lyncproxy-error'], 'upstream_timeout')
    t.match(other.body, /rule webext:/)
    t.ok(performance.now() - started < 2900, 'all three in parallel')
  })

  await t.test('invalid upstream responses → 502', async (t) => {
    for (const target of Object.keys(BROKEN)) {
      // A proxy that loses track of the exchange leaves the client waiting; that must fail here, not hang.
      const r = await within(3000, get(target))
      t.equal(r.status, 502, `${target}: 502`)
      t.equal(r.headers['x-lyncproxy-error'], 'upstream_bad_response', `${target}: upstream_bad_response`)
      t.notMatch(r.body, /hello/, `${target}: nothing of the upstream body relayed`)
    }
  })

  await t.test('the node:http engine (a longPoll rule) refuses an unsolicited 101 too', async (t) => {
    for (const target of ['/raw/longpoll/unsolicited-101', '/raw/longpoll/unsolicited-101-bare']) {
      const r = await within(3000, get(target))
      t.equal(r.status, 502, `${target}: 502`)
      t.equal(r.headers['x-lyncproxy-error'], 'upstream_bad_response', `${target}: upstream_bad_response`)
    }
  })

  for (const [engine, prefix] of [['undici', '/raw'], ['node:http', '/raw/longpoll']] as const) {
    await t.test(`a body cut short stays cut short (${engine} engine)`, async (t) => {
      for (const target of [`${prefix}/truncated-length`, `${prefix}/truncated-chunked`]) {
        const outcome = await get(target).then((r) => r.complete ? 'complete' : 'incomplete', () => 'error')
        t.not(outcome, 'complete', `${target}: the client never sees a clean end (${outcome})`)
      }

      let w = await wireExchange(p.httpPort, `GET ${prefix}/truncated-length HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n`, { idleMs: 3000 })
      let head = parseResponseHead(w.bytes)
      t.equal(head.status, 200)
      t.same(headerValues(head.lines, 'content-length'), ['1000'], 'the declared length is relayed, not padded or corrected')
      t.equal(head.body, TRUNCATED_BODY, 'exactly the bytes that came, nothing added')
      t.not(w.ended, 'idle', `the proxy closed the connection (${w.ended}) instead of leaving it waiting`)

      w = await wireExchange(p.httpPort, `GET ${prefix}/truncated-chunked HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n`, { idleMs: 3000 })
      head = parseResponseHead(w.bytes)
      t.equal(head.status, 200)
      t.same(headerValues(head.lines, 'transfer-encoding'), ['chunked'])
      t.match(head.body, TRUNCATED_BODY, 'the chunk that came was relayed')
      t.notMatch(head.body, /(^|\r\n)0\r\n\r\n/, 'no final chunk was sent')
      t.not(w.ended, 'idle', `the proxy closed the connection (${w.ended}) instead of leaving it waiting`)
    })
  }

  await t.test('the proxy still serves after all of it', async (t) => {
    const r = await get('/raw/fine')
    t.equal(r.status, 200)
    t.equal(r.body, 'ok')
  })
})
