// The process's choice for an error that escapes every exchange's own guard (docs/hardening.md): it
// is logged with its stack and the proxy keeps serving. The built CLI runs with a preload that
// throws from a timer and rejects a promise on SIGUSR2, outside any request.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { CliProcess } from './helpers/cli.js'
import { request } from './helpers/client.js'
import { testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const PRELOAD = path.join(path.dirname(new URL(import.meta.url).pathname), 'helpers', 'throw-on-signal.mjs')

t.test('an error outside any request is logged and the proxy keeps serving', async (t) => {
  const certs = await testCertificates()
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-escaped-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'proxy.yaml')
  fs.writeFileSync(file, `admin:
  enabled: false
listeners:
  - name: external-http
    protocol: http
    address: 127.0.0.1
    port: 0
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
  const cli = new CliProcess(['start', '-c', file], { prefix: ['env', `NODE_OPTIONS=--import=${PRELOAD}`] })
  t.teardown(() => cli.kill('SIGKILL'))
  const listening = await cli.waitFor(/listening: external-http http:\/\/127\.0\.0\.1:(\d+)/)
  t.ok(listening, `listening${listening === undefined ? ': ' + cli.output : ''}`)
  if (listening === undefined) return
  const port = Number(listening[1])
  t.equal((await request({ port, host: 'webext.contoso.com', path: '/before' })).status, 200, 'serves before')

  const from = cli.output.length
  cli.child.kill('SIGUSR2')
  const thrown = await cli.waitFor(/"kind":"internal-error".*thrown outside any request on purpose/, 10_000, from)
  t.ok(thrown, 'the thrown error is logged as an internal error')
  const rejected = await cli.waitFor(/"kind":"internal-error".*rejected outside any request on purpose/, 10_000, from)
  t.ok(rejected, 'so is the rejection')
  t.match(cli.output.slice(from), /"stack":"Error: thrown outside any request on purpose/, 'with its stack')
  t.ok(cli.running, 'the process is still running')
  t.equal((await request({ port, host: 'webext.contoso.com', path: '/after' })).status, 200, 'and serves after')
  t.same(upstream.requests.map((r) => r.url), ['/before', '/after'], 'both requests reached the upstream')
})
