// Slow bodies must not starve a pool (issue 16 §3). slowhttptest -B (R-U-Dead-Yet: 1,000 POSTs per
// listener whose 8 KiB bodies arrive a few bytes every 10 s) runs against the lab's external HTTP and
// HTTPS listeners at once, for 30 s, while an ordinary client asks autodiscover on each listener once
// a second. Autodiscover goes to pool dir, and so does the attack (see the rule in
// helpers/slow-bodies.ts). When each slow body was forwarded at once it held one of the pool's
// maxSockets (128) until it ended, and ordinary requests queued 10 s for 503 upstream_busy (9 of 28
// answered on :80, 6 of 29 on :443; nginx, which buffers bodies before it picks an upstream, 28 of 28).
// The proxy now receives a body up to requestBufferBytes (64 KiB) before it takes an upstream
// connection, so a trickle holds only its own client connection.
//
// The lab runs as an operator runs it, through the built CLI, with config/lab.yaml moved onto
// 127.83.1.x so that its fixed internal ports (the stand-ins' 8080/4443, the HLB VIP's 80/443) never
// meet those of a lab another test runs at the same time; its external listeners take port 0.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import {
  ensureSlowhttptest, probe, probeEvery, readAccessLog, runSlowhttptest, settle, startSlowLab,
  type AccessRecord, type ProbeResult, type ProbeTarget,
} from './helpers/slow-bodies.js'

const NET = 83
const CONNECTIONS = 1000
const ATTACK_SECONDS = 30
// Connections slowhttptest opens a second.
const RATE = 200
const PROBES = 28
// The bar is functional, the issue's: an ordinary client is answered while the attack runs, as it
// is by nginx. The defect it guards against left ordinary requests waiting in the proxy for an
// upstream connection until the pool gave up on them with 503 upstream_busy, after twice the
// connect timeout (10 s in the lab). So each probe must be answered 200 before that wait would have
// ended. How fast is for the machine, not the test: a busy machine took up to 3.7 s while the
// attack's TLS handshakes ran on the same cores. The times are printed, not judged.
const QUEUE_WAIT_MS = 2 * 5 * 1000
const PROBE_TIMEOUT_MS = QUEUE_WAIT_MS - 1000
const REQUIRED = PROBES - 1
const ATTACK_PATH = '/autodiscover/autodiscoverservice.svc/root'

// Without privilege the lab moves its stand-ins' 80 and 443 up (src/lab/unprivileged-ports.ts).
const sht = ensureSlowhttptest()
const skip = 'reason' in sht ? sht.reason : false

t.test(`slowhttptest -B on :80 and :443 at once: ordinary clients of the same pool are still served`, { skip, timeout: 120_000 }, async (t) => {
  if ('reason' in sht) return
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-slow-bodies-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const lab = await startSlowLab({ dir, net: NET, certsDir: path.join(dir, 'certs') })
  t.teardown(() => lab.close())

  // What a mobile client sends first: autodiscover, over HTTP and over HTTPS trusting the lab CA.
  const ordinary = { host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com' }
  const targets: Record<'http' | 'https', ProbeTarget> = {
    http: { ...ordinary, port: lab.httpPort },
    https: { ...ordinary, port: lab.httpsPort, tls: { ca: lab.caPem } },
  }
  for (const [name, target] of Object.entries(targets)) {
    const before = await probe(target, PROBE_TIMEOUT_MS)
    t.equal(before.status, 200, `${name}: autodiscover answers 200 before the attack${before.error === undefined ? '' : ` (${before.error})`}`)
  }

  const attack = (scheme: 'http' | 'https', port: number): ReturnType<typeof runSlowhttptest> => runSlowhttptest(sht.path, [
    '-B', '-c', String(CONNECTIONS), '-l', String(ATTACK_SECONDS), '-r', String(RATE), '-i', '10', '-s', '8192', '-x', '10',
    '-u', `${scheme}://127.0.0.1:${port}${ATTACK_PATH}`,
  ], path.join(dir, `sht-${scheme}`), (ATTACK_SECONDS + 20) * 1000)
  const attacks = { http: attack('http', lab.httpPort), https: attack('https', lab.httpsPort) }
  t.teardown(() => { attacks.http.kill(); attacks.https.kill() })

  // From the moment every slow body is open (the pool would have been full long before: 128 of them
  // at RATE a second) to the attack's end.
  const rampMs = (CONNECTIONS / RATE) * 1000 + 1000
  const intervalMs = (ATTACK_SECONDS * 1000 - rampMs - 1000) / PROBES
  await new Promise((resolve) => setTimeout(resolve, rampMs))
  const [httpProbes, httpsProbes] = await Promise.all([
    probeEvery(targets.http, PROBES, intervalMs, PROBE_TIMEOUT_MS),
    probeEvery(targets.https, PROBES, intervalMs, PROBE_TIMEOUT_MS),
  ])
  const [httpRun, httpsRun] = await Promise.all([attacks.http.done, attacks.https.done])

  const show = (p: ProbeResult[]): string => p.map((x) => `${x.status === 0 ? x.error ?? 'failed' : x.status}/${Math.round(x.ms)}ms`).join(' ')
  for (const [name, probes] of [['http', httpProbes], ['https', httpsProbes]] as const) {
    // A probe that waited PROBE_TIMEOUT_MS has status 0.
    const answered = probes.filter((p) => p.status === 200).length
    const worst = Math.round(Math.max(...probes.map((p) => p.ms)))
    t.ok(answered >= REQUIRED, `${name}: ${answered} of ${PROBES} ordinary requests answered 200 before the pool's queue would have given up (at least ${REQUIRED}; slowest ${worst} ms): ${show(probes)}`)
    t.notOk(probes.some((p) => p.status >= 500), `${name}: no ordinary request got a 5xx`)
  }

  for (const [name, run] of [['http', httpRun], ['https', httpsRun]] as const) {
    t.equal(run.code, 0, `${name}: slowhttptest ran (${run.report.match(/Exit status:.*/)?.[0] ?? run.report.trim().split('\n').at(-1) ?? ''})`)
    const connected = Math.max(0, ...run.rows.map((r) => r[3] ?? 0))
    t.ok(connected >= CONNECTIONS * 0.9, `${name}: the attack held ${connected} connections at its peak (of ${CONNECTIONS})`)
    // slowhttptest's own probe (a GET on a new connection, 5 s to answer) found the service up in every second.
    t.ok(run.rows.length > 0 && run.rows.every((r) => r[4] !== 0), `${name}: slowhttptest found the service available throughout (${run.rows.map((r) => r[4] === 0 ? 0 : 1).join('')})`)
  }

  t.ok(lab.cli.running, 'the lab process is alive after the attack')
  for (const [name, target] of Object.entries(targets)) {
    const after = await probe(target, PROBE_TIMEOUT_MS)
    t.equal(after.status, 200, `${name}: and serves autodiscover (${Math.round(after.ms)} ms)`)
  }

  // Each attack connection ends its one exchange when slowhttptest closes it. The record says how:
  // 499 client_aborted when the connection went away, 408 request_timeout had the request timeout
  // (300 s, the lab's default) run out, and 400 body_incomplete when the client half-closed with
  // its body unfinished (Node's parser reports the early end as a parse error; nginx logs 400 for the
  // same thing). Never a 5xx, and never an upstream: no slow body was sent on.
  const isAttack = (r: AccessRecord): boolean => r.method === 'POST' && r.host.startsWith('127.0.0.1:')
  const attackRecords = (): AccessRecord[] => readAccessLog(lab.logFile).filter(isAttack)
  const expected = Math.max(0, ...httpRun.rows.map((r) => r[3] ?? 0)) + Math.max(0, ...httpsRun.rows.map((r) => r[3] ?? 0))
  await settle(() => attackRecords().length, 500, 8000)
  const records = attackRecords()
  const outcomes = new Map<string, number>()
  for (const r of records) outcomes.set(`${r.listener} ${r.status} ${r.error ?? ''}`, (outcomes.get(`${r.listener} ${r.status} ${r.error ?? ''}`) ?? 0) + 1)
  const summary = [...outcomes].sort().map(([k, n]) => `${k}: ${n}`).join(', ')
  t.ok(records.length >= expected, `an access record for every attack connection (${records.length}, slowhttptest connected ${expected}): ${summary}`)
  const allowed = new Set(['400 body_incomplete', '408 request_timeout', '499 client_aborted'])
  t.same(records.filter((r) => !allowed.has(`${r.status} ${r.error ?? ''}`)).map((r) => `${r.listener} ${r.status} ${r.error ?? ''}`), [], 'every attack request ended as 400, 408 or 499, none with a 5xx such as 503 upstream_busy')
  t.equal(records.filter((r) => r.listener.startsWith('external-') && r.upstream !== '').length, 0, 'none of them took an upstream connection')
  t.equal(records.filter((r) => r.listener.startsWith('dir-vip-')).length, 0, 'and none reached the Director pool\'s HLB VIP behind the proxy')
  for (const listener of ['external-http', 'external-https']) {
    t.ok(records.some((r) => r.listener === listener), `attack records on ${listener}`)
  }
})
