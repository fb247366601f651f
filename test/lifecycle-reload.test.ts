// Reload and shutdown under traffic. Ten reloads in a row under a steady bounded load (four
// keep-alive clients on loopback) lose no request, and each request is answered by the rule set of
// the generation it hit; configs that fail (validation, or the reload itself) leave the running
// table in place. Then SIGTERM through the real CLI: the request in flight finishes, new
// connections are refused, idle keep-alive connections are closed, and the process exits 0 well
// within its grace period.
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t from 'tap'
import { validateConfigObject } from '../src/config/load.js'
import { startProxy } from '../src/control/proxy.js'
import { CliProcess } from './helpers/cli.js'
import { testCertificates } from './helpers/proxy.js'
import { openRaw, sleep, statusCodes } from './helpers/raw-client.js'
import { startUpstream } from './helpers/upstream.js'

const CLIENTS = 4
const RELOADS = 10
const RELOAD_EVERY_MS = 400

interface Sample { start: number, end: number, status: number, body: string, error: string }

// One client: one keep-alive connection, requests back to back until told to stop.
async function loadClient (port: number, stop: () => boolean, samples: Sample[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    while (!stop()) {
      const s: Sample = { start: performance.now(), end: 0, status: 0, body: '', error: '' }
      await new Promise<void>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/ucwa/x', agent, headers: { Host: 'webext.contoso.com' } }, (res) => {
          s.status = res.statusCode ?? 0
          res.setEncoding('utf8')
          res.on('data', (c: string) => { s.body += c })
          res.on('end', resolve)
          res.on('error', (err) => { s.error = err.message; resolve() })
        })
        req.setTimeout(5000, () => req.destroy(new Error('client timeout')))
        req.on('error', (err) => { s.error = err.message; resolve() })
        req.end()
      })
      s.end = performance.now()
      samples.push(s)
    }
  } finally {
    agent.destroy()
  }
}

t.test('ten reloads under load lose nothing', async (t) => {
  const certs = await testCertificates()
  const answer = (name: string) => (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end(name)
  }
  const a = await startUpstream(answer('A'))
  const b = await startUpstream(answer('B'))
  // The pools trust a CA file, not the lab CA: no certificate work on reload.
  const configOf = (target: 'a' | 'b', ca = certs.caFile): Record<string, unknown> => ({
    listeners: [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 }],
    admin: { enabled: false },
    pools: {
      a: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: a.port, tls: { ca: [ca] } },
      b: { fqdn: 'pool02.contoso.net', address: '127.0.0.1', httpPort: b.port, tls: { ca: [ca] } },
    },
    rules: [{ name: `webext-${target}`, publicNames: ['webext.contoso.com'], action: 'forward', pool: target }],
  })
  const load = (o: Record<string, unknown>) => validateConfigObject(o, { file: 'reload-test.yaml', baseDir: process.cwd() })
  const proxy = await startProxy(load(configOf('a')), { logger: pino({ level: 'silent' }) })
  t.teardown(async () => { await proxy.close(0); await a.close(); await b.close() })
  const port = proxy.listeners[0]!.port

  const samples: Sample[] = []
  let stopping = false
  const clients = Array.from({ length: CLIENTS }, () => loadClient(port, () => stopping, samples))

  // Generation changes, as [time before the swap began, time it was done, body expected after].
  const swaps: Array<{ from: number, to: number, body: string }> = [{ from: 0, to: 0, body: 'A' }]
  let refusedAt = -1
  await sleep(RELOAD_EVERY_MS)
  for (let i = 1; i <= RELOADS; i++) {
    const target = i % 2 === 1 ? 'b' : 'a'
    const from = performance.now()
    await proxy.reload(load(configOf(target)))
    swaps.push({ from, to: performance.now(), body: target.toUpperCase() })
    if (i === 5) {
      // Two broken configs in the middle: one the validator refuses, one only the reload can refuse
      // (the CA file it names is missing). Neither may change what runs.
      const before = proxy.table()
      t.throws(() => load({ ...configOf('a'), rules: [{ name: 'x', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'nosuchpool' }] }), 'an invalid config is refused before any reload')
      await t.rejects(proxy.reload(load(configOf('a', '/nonexistent/lab-ca.pem'))), 'a config whose CA file is missing is refused by the reload')
      t.equal(proxy.table(), before, 'the running table stays in place')
      refusedAt = performance.now()
    }
    await sleep(RELOAD_EVERY_MS)
  }
  stopping = true
  await Promise.all(clients)

  const failed = samples.filter((s) => s.status < 200 || s.status > 299 || s.error !== '')
  t.same(failed.map((s) => `${s.status} ${s.error}`), [], `no request lost or failed (${samples.length} requests, ${RELOADS} reloads)`)
  t.ok(samples.length >= 100, `a steady load: ${samples.length} requests`)
  // A request that started after a swap was done and ended before the next one began saw only that
  // generation; one that overlapped a swap may have seen either side of it.
  const misrouted: string[] = []
  for (const s of samples) {
    let expected: string | undefined
    for (let i = 0; i < swaps.length; i++) {
      const next = swaps[i + 1]
      if (s.start >= swaps[i]!.to && (next === undefined || s.end <= next.from)) expected = swaps[i]!.body
    }
    if (expected !== undefined && s.body !== expected) misrouted.push(`${s.body} instead of ${expected} at ${Math.round(s.start)}`)
  }
  t.same(misrouted, [], 'every request answered by the rule set of its generation')
  t.ok(samples.some((s) => s.start > refusedAt && s.body === 'B'), 'after the refused reloads the running table (B) kept serving')
  t.equal(proxy.table().generation, RELOADS + 1, `generation ${RELOADS + 1}: the refused reloads left no trace`)
})

t.test('SIGTERM through the CLI: finish in flight, refuse new, close idle, exit 0', async (t) => {
  const certs = await testCertificates()
  const upstream = await startUpstream((req, res) => {
    const wait = (req.url ?? '').startsWith('/slow') ? 1000 : 0
    setTimeout(() => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('done ' + req.url) }, wait)
  })
  t.teardown(() => upstream.close())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-lifecycle-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'proxy.yaml')
  fs.writeFileSync(file, `listeners:
  - name: external-http
    protocol: http
    address: 127.0.0.1
    port: 0
admin:
  enabled: false
pools:
  fe:
    fqdn: pool01.contoso.net
    address: 127.0.0.1
    httpPort: ${upstream.port}
    tls:
      ca: [${JSON.stringify(certs.caFile)}]
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
`)
  const cli = new CliProcess(['start', '-c', file])
  t.teardown(() => cli.kill('SIGKILL'))
  const listening = await cli.waitFor(/listening: external-http http:\/\/127\.0\.0\.1:(\d+)/)
  t.ok(listening, `listening${listening === undefined ? ': ' + cli.output : ''}`)
  if (listening === undefined) return
  const port = Number(listening[1])
  const H = 'Host: webext.contoso.com\r\n'

  // An idle keep-alive connection: served once, then quiet.
  const idle = await openRaw(port)
  t.teardown(() => idle.destroy())
  idle.write(`GET /fast HTTP/1.1\r\n${H}\r\n`)
  t.ok(await idle.waitFor('done /fast', 5000), 'the idle connection was served once')
  // A request in flight, on a keep-alive connection too.
  const busy = await openRaw(port)
  t.teardown(() => busy.destroy())
  busy.write(`GET /slow HTTP/1.1\r\n${H}\r\n`)
  const forwarded = await new Promise<boolean>((resolve) => {
    const end = Date.now() + 3000
    const poll = (): void => {
      if (upstream.requests.some((r) => r.url === '/slow')) resolve(true)
      else if (Date.now() > end) resolve(false)
      else setTimeout(poll, 20)
    }
    poll()
  })
  t.ok(forwarded, 'the slow request reached the upstream')

  const termAt = performance.now()
  cli.kill('SIGTERM')
  t.ok(await cli.waitFor(/SIGTERM: closing listeners/, 3000), 'says it is closing')

  // New connections are refused once the listener is closed.
  let refused = false
  for (let i = 0; i < 20 && !refused; i++) {
    refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(false) })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
    })
    if (!refused) await sleep(25)
  }
  t.ok(refused, 'a new connection is refused')
  t.ok(await idle.waitClose(1000), `the idle keep-alive connection is closed (${Math.round(idle.closedAt - termAt)} ms after SIGTERM)`)
  t.same(statusCodes(idle.text), [200], 'without any further response')

  t.ok(await busy.waitFor('done /slow', 3000), 'the request in flight completes')
  t.same(statusCodes(busy.text), [200], 'with 200')
  const exit = await Promise.race([cli.exited, sleep(8000).then(() => undefined)])
  const exitedAfter = performance.now() - termAt
  t.equal(exit?.code, 0, 'exits 0')
  t.ok(exitedAfter < 3500, `exits once the request in flight is done (${Math.round(exitedAfter)} ms after SIGTERM), not at the 5 s grace deadline`)
  t.ok(busy.closed, 'the connection that carried it is closed too')
})
