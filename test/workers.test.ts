// `workers: 2`: a real `lyncproxy start` cluster (a primary and two worker processes) in front of a
// real upstream, everything on 127.0.0.1. Which process served a request is read from the access
// log, whose every line carries the pid of the worker that wrote it. The CLI is the built one, as in
// cli.test.ts (test/helpers/cli.ts); node:cluster forks the workers from the same script.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import t, { type Test } from 'tap'
import { validateConfigObject } from '../src/config/load.js'
import { request } from './helpers/client.js'
import { CliProcess } from './helpers/cli.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'
import { freePort } from './helpers/ports.js'

const HOST = 'webext.contoso.com'

// http only; the pool trusts a CA file, so that nothing asks for lab certificates.
function config (o: { adminPort: number, ca: string, upstreamPort: number, action: string }): string {
  return `workers: 2
admin:
  port: ${o.adminPort}
listeners:
  - name: external-http
    protocol: http
    address: 127.0.0.1
    port: 0
pools:
  fe:
    fqdn: pool01.contoso.net
    address: 127.0.0.1
    httpPort: ${o.upstreamPort}
    tls:
      ca: [${JSON.stringify(o.ca)}]
rules:
  - name: webext
    publicNames: [${HOST}]
${o.action}`
}

const FORWARD = '    action: forward\n    pool: fe\n'
const DENY = '    action: deny\n'

interface AdminReply { status: number, body: string }

// Bounded: a load balancer's probe gives up after a few seconds too.
function admin (port: number, pathname: string, method = 'GET', timeoutMs = 5000): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms) })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

interface ExchangeLine { pid: number, path: string, status: number }

// The access-log lines of the given paths that have arrived so far.
function exchanges (cli: CliProcess, paths: readonly string[]): ExchangeLine[] {
  const out: ExchangeLine[] = []
  for (const line of cli.stdout.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"kind":"exchange"')) continue
    const r = JSON.parse(line) as ExchangeLine
    if (paths.includes(r.path)) out.push(r)
  }
  return out
}

// Workers log asynchronously: waits (bounded) until every path has its access-log line.
async function servedBy (cli: CliProcess, paths: readonly string[]): Promise<ExchangeLine[]> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const lines = exchanges(cli, paths)
    if (lines.length >= paths.length || Date.now() > deadline) return lines
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

// Fresh connections one after another: the primary hands connections to the workers in turn.
async function send (t: Test, port: number, prefix: string, n: number, expect: number): Promise<string[]> {
  const paths: string[] = []
  for (let i = 0; i < n; i++) {
    const p = `/${prefix}/${i}`
    const r = await request({ port, host: HOST, path: p })
    t.equal(r.status, expect, `${p} → ${expect}`)
    paths.push(p)
  }
  return paths
}

function metricSum (text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

// Whether pid is still one of this cluster's workers. With pid_max at 32768 a suite of this size
// wraps the PIDs, so the number of a worker that has exited may already belong to another process
// (another test, or the test runner itself): only a process running this CLI is ours to kill.
function stillOurWorker (pid: number): boolean {
  if (!alive(pid)) return false
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith(path.join('dist', 'cli', 'main.js')))
  } catch {
    return false
  }
}

t.test('workers: 2 serves from both workers, restarts a killed one, sums metrics, reloads all, exits 0', async (t) => {
  const certs = await testCertificates()
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const dir = t.testdir({})
  const adminPort = await freePort()
  const good = config({ adminPort, ca: certs.caFile, upstreamPort: upstream.port, action: FORWARD })
  const file = path.join(dir, 'cluster.yaml')
  fs.writeFileSync(file, good)
  const cli = new CliProcess(['start', '-c', file], { timeoutMs: 150_000 })
  const pids = new Set<number>()
  t.teardown(() => {
    cli.kill('SIGKILL')
    // The workers would follow their primary; a SIGKILLed primary cannot tell them.
    for (const pid of pids) if (stillOurWorker(pid)) process.kill(pid, 'SIGKILL')
  })

  t.ok(await cli.waitFor(/admin plane and teaching page/, 90_000), `the cluster starts${cli.running ? '' : ': ' + cli.output}`)
  const listening = /listening: external-http http:\/\/127\.0\.0\.1:(\d+)/.exec(cli.output)
  t.ok(listening, 'the primary logs the listener once, with the port the workers share')
  if (listening === null) return
  const port = Number(listening[1])
  t.equal(cli.output.match(/listening: external-http/g)?.length, 1, 'one "listening" line, not one per worker')
  const ready = [...cli.output.matchAll(/worker (\d) ready \(pid (\d+)\)/g)].map((m) => ({ slot: Number(m[1]), pid: Number(m[2]) }))
  t.same(ready.map((r) => r.slot).sort(), [1, 2], 'two workers report ready')
  for (const r of ready) pids.add(r.pid)
  t.equal(pids.size, 2, 'each its own process')
  t.notOk(pids.has(cli.child.pid!), 'neither is the primary')

  await t.test('both workers serve', async (t) => {
    const paths = await send(t, port, 'both', 8, 200)
    t.equal(upstream.requests.length, 8, 'every request reached the upstream')
    const lines = await servedBy(cli, paths)
    t.equal(lines.length, 8, 'one access-log line per request')
    t.same(new Set(lines.map((l) => l.pid)), pids, 'and both worker pids served some of them')
    t.equal(new Set(upstream.requests.map((r) => r.headers.via)).size, 2, 'the upstream saw two Via pseudonyms: two processes forwarded')
  })

  await t.test('the admin plane runs in the primary and speaks for all workers', async (t) => {
    const metrics = await admin(adminPort, '/metrics')
    t.equal(metrics.status, 200)
    t.equal(metricSum(metrics.body, 'lyncproxy_requests_total'), 8, 'lyncproxy_requests_total is summed over the workers: 8 requests sent')
    t.match(metrics.body, /^lyncproxy_workers\{state="ready"\} 2$/m, 'two workers ready')
    t.match(metrics.body, /^lyncproxy_config_reloads_total\{result="success"\} 0$/m, 'reloads are counted once, by the primary')
    const readyz = await admin(adminPort, '/readyz')
    t.equal(readyz.status, 200, 'ready')
    const body = JSON.parse(readyz.body) as { ready: boolean, workers: Array<{ pid: number, ready: boolean }>, listeners: Array<{ port: number, listening: boolean }> }
    t.same(new Set(body.workers.map((w) => w.pid)), pids, 'readiness lists both workers')
    t.ok(body.workers.every((w) => w.ready) && body.listeners[0]?.listening === true && body.listeners[0]?.port === port, 'every worker ready, the shared listener listening')
    const flows = await admin(adminPort, '/api/flows')
    t.equal(flows.status, 501, '/api/flows is refused with several workers')
    t.match(flows.body, /workers: 1/, 'and the answer says what to set')
    const routes = JSON.parse((await admin(adminPort, '/api/routes')).body) as { listeners: Array<{ port: number }> }
    t.equal(routes.listeners[0]?.port, port, '/api/routes answers from the primary, with the port the workers bound')

    const drained = await admin(adminPort, '/api/pools/fe/members/vip/drain', 'POST')
    t.equal(drained.status, 200, 'a drain is accepted')
    const paths = await send(t, port, 'drained', 4, 503)
    t.same(new Set((await servedBy(cli, paths)).map((l) => l.pid)), pids, 'and every worker took the member out')
    t.equal((await admin(adminPort, '/api/pools/fe/members/vip/undrain', 'POST')).status, 200, 'and undrained')
    t.equal((await admin(adminPort, '/api/pools/fe/members/nosuch/drain', 'POST')).status, 404, 'an unknown member is 404')
  })

  await t.test('a killed worker is replaced; the node stays ready and requests keep succeeding', async (t) => {
    const victim = ready.find((r) => r.slot === 1)!.pid
    const survivor = ready.find((r) => r.slot === 2)!.pid
    const mark = cli.output.length
    const killedAt = Date.now()
    process.kill(victim, 'SIGKILL')

    // From the kill until the replacement is ready, as a load balancer would probe: every answer
    // must say ready (the survivor serves), and a proxied request must succeed between probes.
    const probes: Array<{ status: number, ms: number, survivorReady: boolean, victimSlotReady: boolean }> = []
    const meanwhile: string[] = []
    const failedRequests: string[] = []
    const replaced = (): boolean => /worker 1 ready \(pid \d+\)/.test(cli.output.slice(mark))
    const until = Date.now() + 60_000
    while (!replaced() && Date.now() < until && probes.length < 2000) {
      const sent = Date.now()
      const r = await admin(adminPort, '/readyz')
      const workers = (JSON.parse(r.body) as { workers: Array<{ worker: number, pid: number | null, ready: boolean }> }).workers
      probes.push({
        status: r.status,
        ms: Date.now() - sent,
        survivorReady: workers.some((w) => w.worker === 2 && w.pid === survivor && w.ready),
        victimSlotReady: workers.some((w) => w.worker === 1 && w.ready),
      })
      const p = `/meanwhile/${meanwhile.length}`
      meanwhile.push(p)
      const proxied = await within(5000, p, request({ port, host: HOST, path: p })).catch((err: Error) => ({ status: err.message }))
      if (proxied.status !== 200) failedRequests.push(`${p}: ${proxied.status}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.ok(replaced(), `the replacement came up within the bound (${Date.now() - killedAt} ms, ${probes.length} probes)`)
    const unready = probes.filter((p) => p.victimSlotReady === false)
    t.ok(unready.length >= 3, `the probes saw the window: ${unready.length} of ${probes.length} while worker 1 was not ready`)
    t.same(probes.filter((p) => p.status !== 200).map((p) => p.status), [], `every /readyz answer was 200 (slowest ${Math.max(...probes.map((p) => p.ms))} ms)`)
    t.ok(probes.every((p) => p.survivorReady), 'each listing the survivor as ready')
    t.same(failedRequests, [], `every proxied request meanwhile succeeded (${meanwhile.length})`)

    const died = await cli.waitFor(new RegExp(`worker 1 \\(pid ${victim}\\) was killed by SIGKILL after [\\d.]+ s; restarting it in \\d+ ms`), 15_000, mark)
    t.ok(died, 'the primary logs the death and the restart delay')
    // While the replacement starts, the other worker takes every connection.
    const during = await send(t, port, 'during', 4, 200)
    const back = await cli.waitFor(/worker 1 ready \(pid (\d+)\)/, 60_000, mark)
    t.ok(back, 'a new worker 1 becomes ready')
    if (back === undefined) return
    const fresh = Number(back[1])
    pids.add(fresh)
    t.not(fresh, victim, 'in a new process')
    t.ok(!stillOurWorker(victim), 'the old one is gone')
    t.match(cli.output.slice(mark), `worker 1 restarted (pid ${fresh})`, 'the restart is logged')
    const after = await send(t, port, 'after', 6, 200)
    const servers = new Set((await servedBy(cli, [...meanwhile, ...during, ...after])).map((l) => l.pid))
    t.same(servers, new Set([survivor, fresh]), 'the survivor and the new worker serve; nothing went to the dead one')
    const metrics = await admin(adminPort, '/metrics')
    t.match(metrics.body, /^lyncproxy_worker_restarts_total 1$/m, 'the restart is counted')
    ready.splice(0, ready.length, { slot: 1, pid: fresh }, { slot: 2, pid: survivor })
  })

  await t.test('SIGHUP reloads every worker; a broken file changes nothing anywhere', async (t) => {
    const current = new Set(ready.map((r) => r.pid))
    fs.writeFileSync(file, good.replace('pool: fe\n', 'pool: nosuchpool\n'))
    let mark = cli.output.length
    cli.kill('SIGHUP')
    t.ok(await cli.waitFor(/reload of [^"]*cluster\.yaml failed; the running configuration stays in place/, 15_000, mark), 'the failed reload is logged')
    t.match(cli.output.slice(mark), /LRP_ERR_CONFIG_REFERENCE[^\n]*\/rules\/0\/pool/, 'with the reason')
    const still = await send(t, port, 'still', 4, 200)
    t.same(new Set((await servedBy(cli, still)).map((l) => l.pid)), current, 'both workers still forward')

    fs.writeFileSync(file, good.replace(FORWARD, DENY))
    const before = upstream.requests.length
    mark = cli.output.length
    cli.kill('SIGHUP')
    t.ok(await cli.waitFor(/configuration reloaded in 2 of 2 workers/, 60_000, mark), 'the primary reports the reload in both workers')
    const denied = await send(t, port, 'denied', 6, 403)
    t.same(new Set((await servedBy(cli, denied)).map((l) => l.pid)), current, 'both workers deny: the change took effect in each')
    t.equal(upstream.requests.length, before, 'nothing more reached the upstream')
  })

  await t.test('SIGTERM stops the workers and the primary exits 0', async (t) => {
    const stoppedAt = Date.now()
    cli.kill('SIGTERM')
    const exit = await Promise.race([cli.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000))])
    t.ok(exit !== undefined, 'exits after SIGTERM')
    t.equal(exit?.code, 0, 'with status 0')
    t.ok(Date.now() - stoppedAt < 12_000, `within the grace period (${Date.now() - stoppedAt} ms)`)
    t.match(cli.output, /SIGTERM: closing listeners/)
    for (const r of ready) t.notOk(stillOurWorker(r.pid), `worker ${r.slot} (pid ${r.pid}) is gone`)
  })
})

// Listeners cannot move between processes: the worker count is fixed until a restart, in a single
// process as in a cluster (whose workers run this same reload).
t.test('a reload that changes workers is refused and changes nothing', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const listeners = [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 }]
  const pools = { fe: pool(upstream.port, { tls: { ca: [(await testCertificates()).caFile] } }) }
  const p = await startTestProxy({ listeners, pools, rules: [{ name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe' }] })
  t.teardown(() => p.close())
  const next = validateConfigObject({ workers: 2, listeners, pools, rules: [{ name: 'webext', publicNames: [HOST], action: 'deny' }] }, { file: 'next.yaml', baseDir: process.cwd() })
  await t.rejects(p.proxy.reload(next), { code: 'LRP_ERR_CONFIG_CONFLICT', message: /changes workers from 1 to 2/, fix: /restart the proxy to change workers/ })
  t.equal(p.proxy.table().generation, 1, 'the running table stays')
  t.equal((await request({ port: p.httpPort, host: HOST })).status, 200, 'and forwards')
})
