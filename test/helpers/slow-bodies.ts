// The pieces of the slow-body attack test (test/hardening-slow-bodies.test.ts): the lab as the CLI runs
// it, moved onto addresses of its own; slowhttptest as a child process; ordinary clients probing on
// a fixed clock; and the access log the lab wrote.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import YAML from 'yaml'
import { CliProcess, REPO } from './cli.js'

// File descriptors a child needs: 1,000 slow connections per listener, their upstream side, the lab.
export const FD_LIMIT = 8192

// A command to put in front of a child so that it runs with FD_LIMIT descriptors, or none when this
// process has that many already (children inherit it; node itself raises its soft limit to the hard
// one at start, so this matters when the hard limit is below FD_LIMIT). Past the hard limit only root
// (CAP_SYS_RESOURCE) can go; otherwise the child gets the hard limit.
export function fdPrefix (): string[] {
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim())
  if (Number.isFinite(soft) && soft >= FD_LIMIT) return []
  return ['/bin/sh', '-c', `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'sh']
}

// slowhttptest's binary, installed from Debian when missing and we are root; else why not.
export function ensureSlowhttptest (): { path: string } | { reason: string } {
  const find = (): string | undefined => ['/usr/bin/slowhttptest', '/usr/local/bin/slowhttptest'].find((p) => fs.existsSync(p))
  const found = find()
  if (found !== undefined) return { path: found }
  if (process.getuid?.() !== 0) return { reason: 'slowhttptest is not installed (Debian package slowhttptest) and installing it needs root' }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', 'slowhttptest'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', timeout: 90_000 })
  const installed = find()
  if (installed !== undefined) return { path: installed }
  return { reason: `slowhttptest is not installed and apt-get install slowhttptest failed: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').at(-1) ?? ''}` }
}

export interface SlowLabOptions {
  dir: string
  // The second octet of every internal address: the lab's stand-ins and its HLB VIP keep their real
  // ports (8080/4443, 80/443), so a lab run beside another needs addresses of its own.
  net: number
  certsDir: string
  requestBufferBytes?: number
}

// config/lab.yaml with its internal addresses 127.0.1.x moved to 127.<net>.1.x, the external
// listeners on port 0 of 127.0.0.1, no admin plane (its port is fixed), and one more rule:
// slowhttptest can send no Host but the URL's, 127.0.0.1:<port>, so that name is published on both
// external listeners to pool dir, the pool autodiscover (lyncdiscover.contoso.com) goes to: the
// attack and the ordinary clients then compete for the same pool, as in the issue.
export function slowLabConfig (o: SlowLabOptions): string {
  const config = YAML.parse(fs.readFileSync(path.join(REPO, 'config/lab.yaml'), 'utf8')) as Record<string, unknown>
  const moved = JSON.parse(JSON.stringify(config, (_key, value: unknown) => typeof value === 'string' && value.startsWith('127.0.1.') ? `127.${o.net}.1.${value.slice('127.0.1.'.length)}` : value)) as {
    listeners: Array<Record<string, unknown>>
    rules: Array<Record<string, unknown>>
    defaults: Record<string, unknown>
    [key: string]: unknown
  }
  for (const l of moved.listeners) if (l.name === 'external-http' || l.name === 'external-https') l.port = 0
  moved.admin = { enabled: false }
  moved.certs = { dir: o.certsDir }
  const at = moved.rules.findIndex((r) => r.name === 'lyncdiscover') + 1
  moved.rules.splice(at, 0, { name: 'slowhttptest', publicNames: ['127.0.0.1'], listeners: ['external-http', 'external-https'], action: 'forward', pool: 'dir' })
  if (o.requestBufferBytes !== undefined) moved.defaults = { ...moved.defaults, requestBufferBytes: o.requestBufferBytes }
  const file = path.join(o.dir, `lab-${o.net}-${o.requestBufferBytes ?? 'default'}.yaml`)
  fs.writeFileSync(file, YAML.stringify(moved), { mode: 0o644 })
  return file
}

export interface SlowLab {
  cli: CliProcess
  httpPort: number
  httpsPort: number
  caPem: string
  logFile: string
  close (): Promise<void>
}

export async function startSlowLab (o: SlowLabOptions): Promise<SlowLab> {
  const file = slowLabConfig(o)
  const logFile = path.join(o.dir, `access-${o.net}-${o.requestBufferBytes ?? 'default'}.log`)
  const cli = new CliProcess(['lab', '-c', file, '--log-file', logFile], { prefix: fdPrefix(), timeoutMs: 120_000 })
  const close = async (): Promise<void> => {
    cli.kill('SIGTERM')
    const killer = setTimeout(() => cli.kill('SIGKILL'), 5000)
    await cli.exited
    clearTimeout(killer)
  }
  const ready = await cli.waitFor(/Ctrl-C stops the lab\./, 60_000)
  const port = (name: string): number | undefined => {
    const m = new RegExp(`^\\s*${name}\\s+https?://127\\.0\\.0\\.1:(\\d+)$`, 'm').exec(cli.stdout)
    return m === null ? undefined : Number(m[1])
  }
  const httpPort = port('external-http')
  const httpsPort = port('external-https')
  const ca = /Trust the lab CA: (\S+)/.exec(cli.stdout)?.[1]
  if (ready === undefined || httpPort === undefined || httpsPort === undefined || ca === undefined) {
    await close()
    throw new Error(`the lab did not start:\n${cli.output}`)
  }
  return { cli, httpPort, httpsPort, caPem: fs.readFileSync(ca, 'utf8'), logFile, close }
}

export interface SlowhttptestRun {
  // Exit code, the report without its colours, and the CSV rows (seconds, closed, pending,
  // connected, service available).
  done: Promise<{ code: number | null, report: string, rows: number[][] }>
  kill (): void
}

export function runSlowhttptest (bin: string, args: string[], outPrefix: string, timeoutMs: number): SlowhttptestRun {
  const prefix = fdPrefix()
  const argv = [...args, '-g', '-o', outPrefix]
  const child = prefix.length === 0 ? spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(prefix[0]!, [...prefix.slice(1), bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s })
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<{ code: number | null, report: string, rows: number[][] }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer)
      const report = text.replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '')
      let rows: number[][] = []
      try {
        rows = fs.readFileSync(outPrefix + '.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number))
      } catch { /* no report: the run failed, which `code` and `report` show */ }
      resolve({ code, report, rows })
    })
  })
  return { done, kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') } }
}

export interface ProbeTarget {
  port: number
  host: string
  path: string
  tls?: { ca: string }
}

export interface ProbeResult {
  status: number
  ms: number
  error?: string
}

// One GET on a fresh connection, as an ordinary client sends it; status 0 with the error when it
// fails or gets no answer within timeoutMs.
export function probe (o: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now()
  return new Promise((resolve) => {
    let settled = false
    const finish = (status: number, error?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ status, ms: performance.now() - started, ...(error === undefined ? {} : { error }) })
    }
    const options = { host: '127.0.0.1', port: o.port, path: o.path, method: 'GET', headers: { Host: o.host }, agent: false as const }
    const req = o.tls === undefined ? http.request(options) : https.request({ ...options, ca: o.tls.ca, servername: o.host })
    const timer = setTimeout(() => { finish(0, `no answer in ${timeoutMs} ms`); req.destroy() }, timeoutMs)
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => finish(res.statusCode ?? 0))
      res.on('error', (err) => finish(0, err.message))
    })
    req.on('error', (err) => finish(0, err.message))
    req.end()
  })
}

// `count` probes, one every intervalMs on a fixed clock: a slow answer does not delay the next.
export async function probeEvery (o: ProbeTarget, count: number, intervalMs: number, timeoutMs: number): Promise<ProbeResult[]> {
  const started = performance.now()
  const pending: Array<Promise<ProbeResult>> = []
  for (let i = 0; i < count; i++) {
    const wait = started + i * intervalMs - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    pending.push(probe(o, timeoutMs))
  }
  return Promise.all(pending)
}

export interface AccessRecord {
  kind?: string
  listener: string
  host: string
  method: string
  path: string
  upstream: string
  status: number
  error?: string
  durationMs: number
}

export function readAccessLog (file: string): AccessRecord[] {
  let text = ''
  try { text = fs.readFileSync(file, 'utf8') } catch { return [] }
  const records: AccessRecord[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      const r = JSON.parse(line) as AccessRecord
      if (r.kind === 'exchange') records.push(r)
    } catch { /* a line being written */ }
  }
  return records
}

// Resolves once `count()` has held still for quietMs, or maxMs passed.
export async function settle (count: () => number, quietMs: number, maxMs: number): Promise<number> {
  const end = Date.now() + maxMs
  let last = count()
  let since = Date.now()
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = count()
    if (now !== last) { last = now; since = Date.now() } else if (Date.now() - since >= quietMs) break
  }
  return last
}
