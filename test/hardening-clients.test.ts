// Client-side abuse (proxy-correctness.md §3.11 and the §4 "Client timeouts" row): slowloris headers,
// a slow body, idle keep-alive, a TLS client that never finishes its handshake, and the connection
// limit, each with short limits from the config. A slow attacker must not starve normal clients:
// they are served while 50 slow-header connections drip bytes. slowhttptest (Debian package
// slowhttptest) runs too when it is installed.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { request } from './helpers/client.js'
import { eventually } from './helpers/pool.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { openRaw, sleep, statusCodes, type RawConnection } from './helpers/raw-client.js'
import { ensureSlowhttptest } from './helpers/slow-bodies.js'
import { startUpstream } from './helpers/upstream.js'

const SLOW_CLIENTS = 50
const DRIP_MS = 200
// headersTimeout 1 s, checked every second: a slow header section is cut between 1 and 2 s.
const CUT_WITHIN_MS = 3500
const MAX_CONNECTIONS = 20

const H = 'Host: webext.contoso.com\r\n'

t.test('client-side limits', async (t) => {
  // Answers at once on /early (before reading the body), otherwise after the whole body.
  const upstream = await startUpstream((req, res) => {
    if ((req.url ?? '').startsWith('/early')) { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.write('early\n') }
    req.on('data', () => {})
    req.on('error', () => {})
    req.on('end', () => {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end('done')
    })
  }, undefined, { readBody: false })
  const p = await startTestProxy({
    defaults: { headersTimeout: 1, requestTimeout: 2, clientIdleTimeout: 1, handshakeTimeout: 1 },
    pools: { fe: pool(upstream.port) },
    rules: [
      // Streamed from the first byte, as a large upload is once it fills the request buffer.
      { name: 'streamed', publicNames: ['webext.contoso.com'], paths: ['/early'], action: 'forward', pool: 'fe', listeners: ['external-http'], requestBufferBytes: 0 },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] },
      // slowhttptest sends Host: 127.0.0.1:<port>.
      { name: 'any', publicNames: ['*'], action: 'forward', pool: 'fe', listeners: ['external-http'] },
    ],
  })
  t.teardown(async () => { await p.close(); await upstream.close() })

  await t.test(`slowloris: ${SLOW_CLIENTS} slow header sections are cut, normal clients are served meanwhile`, async (t) => {
    const slow: RawConnection[] = []
    for (let i = 0; i < SLOW_CLIENTS; i++) slow.push(await openRaw(p.httpPort))
    t.teardown(() => { for (const c of slow) c.destroy() })
    const started = performance.now()
    const head = `GET /abs/slow HTTP/1.1\r\n${H}X-Slow: `
    let sent = 0
    const drip = setInterval(() => {
      const byte = sent < head.length ? head[sent]! : 'a'
      sent++
      for (const c of slow) c.write(byte)
    }, DRIP_MS)
    t.teardown(() => clearInterval(drip))

    // Normal clients, on fresh connections, for as long as the attack lasts.
    let served = 0
    let failed = 0
    let worst = 0
    while (performance.now() - started < 2500) {
      const at = performance.now()
      const r = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/abs/normal' }).catch(() => undefined)
      worst = Math.max(worst, performance.now() - at)
      if (r?.status === 200 && r.body === 'done') served++
      else failed++
      await sleep(50)
    }
    t.equal(failed, 0, 'no normal request failed during the attack')
    t.ok(served >= 10, `normal requests were served during the attack (${served}, slowest ${Math.round(worst)} ms)`)

    const allCut = await eventually(() => slow.every((c) => c.closed), Math.max(0, CUT_WITHIN_MS - (performance.now() - started)))
    clearInterval(drip)
    const cutAfter = Math.max(...slow.map((c) => c.closedAt - started))
    t.ok(allCut, `every slow connection was closed (the last after ${Math.round(cutAfter)} ms; ${slow.filter((c) => !c.closed).length} still open)`)
    t.equal(slow.filter((c) => statusCodes(c.text).join() === '408').length, SLOW_CLIENTS, 'each with a 408 and nothing else')
    t.ok(sent < 30, `they had sent only ${sent} bytes each, not even a whole request line`)
  })

  await t.test('a connection that sends nothing gets 408 after the headers timeout', async (t) => {
    const c = await openRaw(p.httpPort)
    t.teardown(() => c.destroy())
    await sleep(500)
    t.notOk(c.closed, 'still open at 0.5 s')
    t.ok(await c.waitClose(CUT_WITHIN_MS), 'closed')
    t.same(statusCodes(c.text), [408])
  })

  await t.test('a slow body gets 408 after the request timeout', async (t) => {
    const c = await openRaw(p.httpPort)
    t.teardown(() => c.destroy())
    c.write(`POST /abs/upload HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n`)
    const drip = setInterval(() => c.write('x'), DRIP_MS)
    t.teardown(() => clearInterval(drip))
    t.ok(await c.waitClose(4500), `closed after ${Math.round(c.closedAt - c.openedAt)} ms (request timeout 2 s)`)
    clearInterval(drip)
    t.same(statusCodes(c.text), [408], '408')
  })

  await t.test('a slow body after the upstream answered: closed, no 408 written into the response', async (t) => {
    const c = await openRaw(p.httpPort)
    t.teardown(() => c.destroy())
    c.write(`POST /early/upload HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nx`)
    t.ok(await c.waitFor('early', 3000), 'the response started')
    const drip = setInterval(() => c.write('x'), DRIP_MS)
    t.teardown(() => clearInterval(drip))
    t.ok(await c.waitClose(4500), `closed after ${Math.round(c.closedAt - c.openedAt)} ms`)
    clearInterval(drip)
    t.same(statusCodes(c.text), [200], 'one status line: the 200 that had started')
    t.notMatch(c.text, /408|Request Timeout/, 'no error page inside the body')
  })

  await t.test('an idle keep-alive connection is closed after clientIdleTimeout', async (t) => {
    const c = await openRaw(p.httpPort)
    t.teardown(() => c.destroy())
    c.write(`GET /abs/ka HTTP/1.1\r\n${H}\r\n`)
    const answered = await c.waitFor('done', 3000)
    t.ok(answered !== undefined, 'answered, connection kept alive')
    await sleep(400)
    t.notOk(c.closed, 'still open shortly after')
    t.ok(await c.waitClose(3000), `closed ${Math.round(c.closedAt - (answered ?? 0))} ms after the response (idle timeout 1 s)`)
    t.same(statusCodes(c.text), [200], 'without any further status')
  })

  await t.test('a TLS client that never finishes its handshake is dropped after handshakeTimeout', async (t) => {
    const silent = await openRaw(p.httpsPort)
    const partial = await openRaw(p.httpsPort)
    t.teardown(() => { silent.destroy(); partial.destroy() })
    partial.write(Buffer.from([0x16, 0x03, 0x01]))
    await sleep(300)
    t.notOk(silent.closed, 'open at first')
    t.ok(await silent.waitClose(2700), `a connection that sends nothing: dropped after ${Math.round(silent.closedAt - silent.openedAt)} ms`)
    t.ok(await partial.waitClose(2700), `a partial ClientHello: dropped after ${Math.round(partial.closedAt - partial.openedAt)} ms`)
  })

  const sht = ensureSlowhttptest()
  await t.test('slowhttptest -H (slow headers)', { skip: 'reason' in sht ? sht.reason : false }, async (t) => {
    if ('reason' in sht) return
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-sht-'))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    const out = path.join(dir, 'out')
    const args = ['-c', '100', '-H', '-i', '2', '-r', '50', '-s', '8192', '-t', 'GET', '-u', `http://127.0.0.1:${p.httpPort}/abs/sht`, '-p', '2', '-l', '6', '-g', '-o', out]
    const child = spawn(sht.path, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s })
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    // Normal clients while it runs.
    let served = 0
    let failed = 0
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    let running = true
    void exited.then(() => { running = false })
    while (running) {
      const r = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/abs/normal' }).catch(() => undefined)
      if (r?.status === 200) served++
      else failed++
      await sleep(100)
    }
    clearTimeout(killer)
    const code = await exited
    // Its report is coloured with ANSI escapes.
    const plain = text.replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '')
    t.equal(code, 0, 'slowhttptest ran')
    t.match(plain, /Exit status:\s*No open connections left/, 'the proxy closed every slow connection before the test ended')
    const rows = fs.readFileSync(out + '.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number))
    t.ok(rows.length > 0, 'a CSV report')
    t.ok(rows.every((r) => r[4] !== 0), `its probe found the service available throughout (${rows.map((r) => r[4]).join(' ')})`)
    t.ok(Math.max(...rows.map((r) => r[3] ?? 0)) <= 100, `connected at most: ${Math.max(...rows.map((r) => r[3] ?? 0))}`)
    t.equal(failed, 0, `normal requests during the run all served (${served})`)
  })
})

t.test(`maxConnections: ${MAX_CONNECTIONS}`, async (t) => {
  const upstream = await startUpstream()
  const p = await startTestProxy({
    defaults: { maxConnections: MAX_CONNECTIONS },
    pools: { fe: pool(upstream.port) },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] }],
  })
  t.teardown(async () => { await p.close(); await upstream.close() })
  const connections = async (): Promise<number> => (await p.proxy.listenerStatus()).find((l) => l.name === 'external-http')?.connections ?? -1

  // Each holds a served keep-alive connection.
  const held: RawConnection[] = []
  t.teardown(() => { for (const c of held) c.destroy() })
  for (let i = 0; i < MAX_CONNECTIONS; i++) {
    const c = await openRaw(p.httpPort)
    c.write(`GET /abs/held${i} HTTP/1.1\r\n${H}\r\n`)
    held.push(c)
  }
  for (const c of held) await c.waitFor(/\r\n0\r\n\r\n$/, 3000)
  t.equal(held.filter((c) => statusCodes(c.text).join() === '200').length, MAX_CONNECTIONS, `${MAX_CONNECTIONS} connections served and held open`)
  t.equal(await connections(), MAX_CONNECTIONS)

  for (let i = 0; i < 3; i++) {
    const extra = await openRaw(p.httpPort).catch(() => undefined)
    if (extra === undefined) { t.pass('connection past the limit refused at connect'); continue }
    extra.write(`GET /abs/extra HTTP/1.1\r\n${H}\r\n`)
    t.ok(await extra.waitClose(2000), `connection ${MAX_CONNECTIONS + 1 + i} past the limit is closed`)
    t.same(statusCodes(extra.text), [], 'without being served')
    extra.destroy()
  }
  t.ok(held.every((c) => !c.closed), 'the held connections are untouched')
  held[0]!.write(`GET /abs/again HTTP/1.1\r\n${H}\r\n`)
  t.ok(await held[0]!.waitFor(/again[\s\S]*\r\n0\r\n\r\n$/, 3000), 'and still served')

  for (const c of held.splice(0, 5)) c.destroy()
  t.ok(await eventually(async () => await connections() <= MAX_CONNECTIONS - 5, 3000), 'five closed')
  const r = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/abs/after', agent: new http.Agent({ keepAlive: false }) })
  t.equal(r.status, 200, 'a new connection is served again once others closed')
})
