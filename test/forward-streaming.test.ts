// Bodies are streamed, never buffered whole: 50 MB each way through the https listener to an https
// upstream, checked by byte count and sha256 at both ends, with the process's RSS sampled throughout
// (the proxy runs in this process). A reader that stops reading must stop the writer on the far side,
// once the buffers between them are full; those transfers are larger than every buffer on the way.
import { createHash, type Hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import https from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'

const MB = 1024 * 1024
const TOTAL = 50 * MB
const CHUNK = 64 * 1024
const RSS_ALLOWANCE = 100 * MB
// While a reader is stalled the process may hold a few stream buffers, nothing like the body.
const STALL_RSS_ALLOWANCE = 20 * MB
// Stream and TLS buffers in this process (client, proxy and upstream alike) are a few hundred KB.
const IN_PROCESS_SLACK = 8 * MB
// While a reader is stalled, the kernel holds part of the body outside RSS: a send and a receive
// buffer on each of the two hops. Receive buffers autotune up to tcp_rmem's maximum (32 MB on
// this project's machine), so what a correct proxy lets the writer produce depends on the machine,
// and the stalled transfers are made larger than all of it. A proxy that ignored backpressure would
// then have to hold the rest, at least 60 MB, in RSS.
const KERNEL_BUFFERS = 2 * socketBufferMax('tcp_rmem', 6 * MB) + 2 * socketBufferMax('tcp_wmem', 4 * MB)
const STALL_PRODUCED_LIMIT = KERNEL_BUFFERS + IN_PROCESS_SLACK
const STALL_TOTAL = STALL_PRODUCED_LIMIT + STALL_RSS_ALLOWANCE + 32 * MB
// The writer has stopped when it has produced nothing for this long.
const QUIET_MS = 400
const SETTLE_CAP_MS = 20_000

// The third field of /proc/sys/net/ipv4/tcp_{r,w}mem; Linux's defaults where it cannot be read.
function socketBufferMax (name: 'tcp_rmem' | 'tcp_wmem', fallback: number): number {
  try {
    const max = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2])
    return Number.isFinite(max) && max > 0 ? max : fallback
  } catch {
    return fallback
  }
}

// Polls a byte count until it stops moving. A proxy that honours backpressure stops the writer
// once the buffers between them are full; one that does not lets it run to the end of the body,
// which is larger than every buffer on the way.
async function settled (count: () => number): Promise<{ bytes: number, quiet: boolean }> {
  const started = Date.now()
  let last = count()
  let lastMoved = Date.now()
  while (Date.now() - started < SETTLE_CAP_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const now = count()
    if (now !== last) {
      last = now
      lastMoved = Date.now()
    } else if (Date.now() - lastMoved >= QUIET_MS) {
      return { bytes: now, quiet: true }
    }
  }
  return { bytes: last, quiet: false }
}

interface Tally { bytes: number, hash: Hash }

function tally (): Tally {
  return { bytes: 0, hash: createHash('sha256') }
}

// A deterministic body made chunk by chunk, hashed and counted as it is produced.
async function * body (total: number, sent: Tally): AsyncGenerator<Buffer> {
  for (let i = 0; sent.bytes < total; i++) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, total - sent.bytes))
    chunk.fill((i * 7) & 0xff)
    if (chunk.length >= 4) chunk.writeUInt32BE(i, 0)
    sent.bytes += chunk.length
    sent.hash.update(chunk)
    yield chunk
  }
}

// A sink that counts and hashes without keeping anything.
function counter (into: Tally): Writable {
  return new Writable({
    write (chunk: Buffer, _enc, cb) {
      into.bytes += chunk.length
      into.hash.update(chunk)
      cb()
    },
  })
}

async function startCountingUpstream (handler: (req: IncomingMessage, res: ServerResponse) => void, cert: { cert: string, key: string }): Promise<{ port: number, close: () => Promise<void> }> {
  const server = https.createServer({ cert: cert.cert, key: cert.key }, handler)
  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

class RssSampler {
  readonly baseline: number
  max: number
  private readonly timer: NodeJS.Timeout

  constructor () {
    this.baseline = process.memoryUsage.rss()
    this.max = this.baseline
    this.timer = setInterval(() => this.sample(), 20)
  }

  sample (): void {
    const rss = process.memoryUsage.rss()
    if (rss > this.max) this.max = rss
  }

  stop (): number {
    clearInterval(this.timer)
    this.sample()
    return this.max - this.baseline
  }
}

function mb (n: number): string {
  return (n / MB).toFixed(1) + ' MB'
}

t.test('50 MB each way, streamed', async (t) => {
  const certs = await testCertificates()
  // Upstream side of each transfer: what it received (uploads) and what it sent (downloads).
  let received = tally()
  let served = tally()
  // While set, the upstream leaves an upload unread until the test resolves it.
  let uploadGate: Promise<void> | null = null
  // Not the recording upstream: it keeps every byte a connection received, which would be 50 MB of
  // RSS that is the harness's, not the proxy's. This one counts and hashes and keeps nothing.
  const upstream = await startCountingUpstream((req, res) => {
    if (req.method === 'PUT') {
      received = tally()
      const sink = counter(received)
      const consume = (): void => {
        pipeline(req, sink).then(() => {
          res.writeHead(200, { 'Content-Type': 'application/json' })
          res.end(JSON.stringify({ bytes: received.bytes, sha256: received.hash.digest('hex') }))
        }, () => res.destroy())
      }
      if (uploadGate !== null) void uploadGate.then(consume)
      else consume()
      return
    }
    served = tally()
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'))
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' }
    if (req.url?.includes('length=1') === true) headers['Content-Length'] = String(size)
    res.writeHead(200, headers)
    pipeline(Readable.from(body(size, served)), res).catch(() => { /* the client went away */ })
  }, certs.internal.get('fe')!)
  const p = await startTestProxy({
    pools: { fe: pool(upstream.port) },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-https'] }],
  })
  const agent = new https.Agent({ keepAlive: false, ca: certs.caPem, servername: 'webext.contoso.com' })
  t.teardown(async () => { agent.destroy(); await p.close(); await upstream.close() })

  const open = (method: string, path: string, headers: Record<string, string | number> = {}) => https.request({
    host: '127.0.0.1', port: p.httpsPort, method, path, agent, headers: { Host: 'webext.contoso.com', ...headers },
  })
  const responseOf = (req: ReturnType<typeof open>): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => { req.once('response', resolve); req.once('error', reject) })
  const readAll = async (res: IncomingMessage): Promise<string> => {
    const parts: Buffer[] = []
    for await (const c of res) parts.push(c as Buffer)
    return Buffer.concat(parts).toString()
  }

  // Warm up TLS sessions, lazy modules, the pooled connection and the allocator's arenas before
  // measuring, so that the baseline is a process that has already moved bodies both ways.
  {
    const WARM = 10 * MB
    const up = open('PUT', '/warm', { 'Content-Length': WARM })
    const answered = responseOf(up)
    await pipeline(Readable.from(body(WARM, tally())), up)
    t.equal((JSON.parse(await readAll(await answered)) as { bytes: number }).bytes, WARM, 'warm-up upload')
    const down = open('GET', `/warm?size=${WARM}`)
    down.end()
    const got = tally()
    await pipeline(await responseOf(down), counter(got))
    t.equal(got.bytes, WARM, 'warm-up download')
  }

  await t.test('upload', async (t) => {
    const rss = new RssSampler()
    const sent = tally()
    const req = open('PUT', '/upload', { 'Content-Length': TOTAL })
    const response = responseOf(req)
    await pipeline(Readable.from(body(TOTAL, sent)), req)
    const res = await response
    const answer = JSON.parse(await readAll(res)) as { bytes: number, sha256: string }
    const grew = rss.stop()
    t.equal(res.statusCode, 200)
    t.equal(answer.bytes, TOTAL, 'the upstream received every byte')
    t.equal(answer.sha256, sent.hash.digest('hex'), 'the upstream received the same bytes (sha256)')
    t.ok(grew < RSS_ALLOWANCE, `RSS grew by ${mb(grew)}, under ${mb(RSS_ALLOWANCE)}`)
  })

  for (const framing of ['chunked', 'length'] as const) {
    await t.test(`download (${framing})`, async (t) => {
      const rss = new RssSampler()
      const req = open('GET', `/download?size=${TOTAL}&length=${framing === 'length' ? 1 : 0}`)
      req.end()
      const res = await responseOf(req)
      const got = tally()
      await pipeline(res, counter(got))
      const grew = rss.stop()
      t.equal(res.statusCode, 200)
      if (framing === 'length') t.equal(res.headers['content-length'], String(TOTAL), 'the declared length is relayed')
      else t.equal(res.headers['transfer-encoding'], 'chunked')
      t.equal(served.bytes, TOTAL, 'the upstream sent the whole body')
      t.equal(got.bytes, TOTAL, 'the client received every byte')
      t.equal(got.hash.digest('hex'), served.hash.digest('hex'), 'the client received the same bytes (sha256)')
      t.ok(grew < RSS_ALLOWANCE, `RSS grew by ${mb(grew)}, under ${mb(RSS_ALLOWANCE)}`)
    })
  }

  await t.test('a client that stops reading stops the upstream', async (t) => {
    const rss = new RssSampler()
    const req = open('GET', `/download?size=${STALL_TOTAL}`)
    req.end()
    const res = await responseOf(req)
    res.pause()
    const stalled = await settled(() => served.bytes)
    const grewWhileStalled = rss.max - rss.baseline
    t.ok(stalled.quiet, `the upstream stopped producing (${mb(stalled.bytes)} of ${mb(STALL_TOTAL)})`)
    t.ok(stalled.bytes <= STALL_PRODUCED_LIMIT, `the upstream produced ${mb(stalled.bytes)} while the client read nothing; the buffers on the way hold ${mb(STALL_PRODUCED_LIMIT)}`)
    t.ok(grewWhileStalled < STALL_RSS_ALLOWANCE, `RSS grew by ${mb(grewWhileStalled)} while stalled`)
    const got = tally()
    await pipeline(res, counter(got))
    const grew = rss.stop()
    t.equal(got.bytes, STALL_TOTAL, 'once resumed, every byte arrives')
    t.equal(got.hash.digest('hex'), served.hash.digest('hex'), 'the same bytes (sha256)')
    t.ok(grew < RSS_ALLOWANCE, `RSS grew by ${mb(grew)} over the whole transfer`)
  })

  await t.test('an upstream that stops reading stops the client', async (t) => {
    let release = (): void => {}
    uploadGate = new Promise<void>((resolve) => { release = resolve })
    t.teardown(() => { release(); uploadGate = null })
    const rss = new RssSampler()
    const sent = tally()
    const req = open('PUT', '/upload', { 'Content-Length': STALL_TOTAL })
    const response = responseOf(req)
    const piped = pipeline(Readable.from(body(STALL_TOTAL, sent)), req)
    const stalled = await settled(() => sent.bytes)
    const grewWhileStalled = rss.max - rss.baseline
    t.ok(stalled.quiet, `the client stopped writing (${mb(stalled.bytes)} of ${mb(STALL_TOTAL)})`)
    t.ok(stalled.bytes <= STALL_PRODUCED_LIMIT, `the client could write ${mb(stalled.bytes)} while the upstream read nothing; the buffers on the way hold ${mb(STALL_PRODUCED_LIMIT)}`)
    t.ok(grewWhileStalled < STALL_RSS_ALLOWANCE, `RSS grew by ${mb(grewWhileStalled)} while stalled`)
    release()
    uploadGate = null
    await piped
    const answer = JSON.parse(await readAll(await response)) as { bytes: number, sha256: string }
    const grew = rss.stop()
    t.equal(answer.bytes, STALL_TOTAL, 'once resumed, the upstream received every byte')
    t.equal(answer.sha256, sent.hash.digest('hex'), 'the same bytes (sha256)')
    t.ok(grew < RSS_ALLOWANCE, `RSS grew by ${mb(grew)} over the whole transfer`)
  })
})
