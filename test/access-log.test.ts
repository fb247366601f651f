// The access log line: what pino itself would write for the same fields, valid JSON whatever the
// client put in its request, one line per exchange at info (warn for 5xx and aborts), and nothing
// below the logger's level.
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { accessLine } from '../src/observe/access-log.js'
import { Exchange } from '../src/observe/exchange.js'
import { request } from './helpers/client.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

function sink (): { stream: Writable, lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { chunks.push(chunk.toString()); cb() } })
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) }
}

// A GET to webext.contoso.com by rule webext to pool fe that failed and was aborted (the optional
// fields present), with the fields that differ given.
function exchangeWith (listener: string, client: string, fields: Partial<Exchange>): Exchange {
  const ex = new Exchange(listener, client, 'GET')
  Object.assign(ex, { host: 'webext.contoso.com', rule: 'webext', pool: 'fe', error: 'upstream_refused', aborted: true }, fields)
  return ex
}

t.test('the hand-built line equals pino\'s own serialization of the same fields', async (t) => {
  const ex = exchangeWith('external-https', '203.0.113.7', {
    target: '/ucwa/"quoted"\\back\nline\u2028sep/é?x=%22',
    upstream: '127.0.1.11:4443',
    status: 502,
    upstreamStatus: 0,
    bytesIn: 123,
    bytesOut: 456,
    durationMs: 1.23456789,
  })
  const line = accessLine(ex, 40, ',"time":1700000000000', ',"pid":42,"kind":"exchange"')
  t.ok(line.endsWith('}\n') && line.indexOf('\n') === line.length - 1, 'exactly one line, whatever the path holds')
  const parsed = JSON.parse(line) as Record<string, unknown>

  const out = sink()
  const reference = pino({ base: { pid: 42 }, timestamp: () => ',"time":1700000000000' }, out.stream).child({ kind: 'exchange' })
  reference.warn({
    id: ex.id, client: ex.client, listener: ex.listener, host: ex.host, method: ex.method, path: ex.target, rule: ex.rule,
    pool: ex.pool, upstream: ex.upstream, status: ex.status, upstreamStatus: ex.upstreamStatus, bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut, durationMs: 1.235, error: ex.error, aborted: true,
  }, `GET webext.contoso.com${ex.target} -> 502`)
  t.same(parsed, out.lines()[0], 'same fields and values as pino.warn(object, msg)')
  t.same(Object.keys(parsed), Object.keys(out.lines()[0]!), 'in the same order')
  t.equal(parsed.path, ex.target, 'the path survives quotes, backslashes, newlines and non-ASCII')
})

// V8 stores a string holding any character above U+00FF as two-byte text, and so every string it is
// joined to: a whole turn's batch of lines, which then takes the slow path to UTF-8 (about a quarter
// of the line's cost, measured). The template's own text must stay ASCII.
t.test('an exchange of ASCII fields gives an ASCII line', async (t) => {
  const ex = exchangeWith('external-http', '127.0.0.1', {
    target: '/autodiscover/autodiscoverservice.svc/root',
    upstream: '127.0.0.1:8080',
    status: 200,
    upstreamStatus: 200,
  })
  const line = accessLine(ex, 30, ',"time":"2026-11-22T00:00:00.000Z"', ',"pid":42,"kind":"exchange"')
  t.notMatch(line, /[^ -~\n]/, 'nothing outside printable ASCII but the final newline')
  t.match(line, /"msg":"GET webext\.contoso\.com\/autodiscover\/autodiscoverservice\.svc\/root -> 200"/)
})

t.test('a running proxy logs each exchange once, at the level its outcome deserves', async (t) => {
  const up = await startUpstream((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('hello') })
  const out = sink()
  const p = await startTestProxy({
    pools: { fe: pool(up.port), gone: { ...pool(1), address: '127.0.0.254', health: { check: 'none' } } },
    rules: [
      { name: 'gone', publicNames: ['webext.contoso.com'], paths: ['/gone'], action: 'forward', pool: 'gone' },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' },
    ],
  }, { logger: pino({ level: 'info' }, out.stream) })
  t.teardown(async () => { await p.close(); await up.close() })

  const ok = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/Autodiscover/x?a="b"' })
  t.equal(ok.status, 200)
  const failed = await request({ port: p.httpPort, host: 'webext.contoso.com', path: '/gone/x' })
  t.equal(failed.status, 502)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const lines = out.lines().filter((l) => l.kind === 'exchange')
  t.equal(lines.length, 2, 'one line per exchange')
  const [first, second] = lines as [Record<string, unknown>, Record<string, unknown>]
  t.match(first, { level: 30, pid: process.pid, kind: 'exchange', listener: 'external-http', host: 'webext.contoso.com', method: 'GET', rule: 'webext', pool: 'fe', status: 200, upstreamStatus: 200, upstream: `127.0.0.1:${up.port}` })
  t.equal(first.path, '/Autodiscover/x?a="b"', 'the raw quotes of the query, escaped in a line that still parses')
  t.type(first.time, 'number', 'pino\'s own time format')
  t.ok((first.bytesOut as number) > 5 && (first.bytesIn as number) > 20, 'bytes counted on the client connection')
  t.equal(first.error, undefined, 'no error field when all went well')
  t.match(second, { level: 40, status: 502, rule: 'gone', error: 'upstream_refused' })
  t.equal(first.id === second.id, false, 'each exchange has its own id')
})
