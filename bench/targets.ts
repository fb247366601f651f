// The targets under test. Each runs as its own process (so /proc tells its CPU and memory, and so
// each gets one worker; lyncproxy-2w is a cluster primary whose two workers are its children, counted
// in its process tree), all on 127.0.0.1, all forwarding to the one backend process.
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, chmodSync, constants, mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import { stringify } from 'yaml'
import type { BeforeBuild } from './before.js'
import { haproxyConfig, nginxConfig, POOL_FQDN, PUBLIC_NAME, type PeerCerts } from './peers.js'

export type TargetId = 'direct' | 'lyncproxy' | 'lyncproxy-2w' | 'lyncproxy-before' | 'http-proxy' | 'nginx' | 'haproxy' | 'tls-pipe' | 'undici-floor'

export const TARGET_LABELS: Record<TargetId, string> = {
  direct: 'direct backend',
  lyncproxy: 'lyncproxy',
  'lyncproxy-2w': 'lyncproxy, 2 workers',
  // With its commit once known: targetLabel.
  'lyncproxy-before': 'lyncproxy, build before',
  'http-proxy': 'bare http-proxy',
  nginx: 'nginx',
  haproxy: 'HAProxy',
  'tls-pipe': 'Node TLS pipe (floor)',
  'undici-floor': 'minimal undici forwarder (floor)',
}

export interface LabFiles extends PeerCerts {
  certsDir: string
  internalCertFile: string
  internalKeyFile: string
}

export interface BenchContext {
  repo: string
  tmp: string
  lab: LabFiles
  backend: { pid: number, httpPort: number, httpsPort: number }
  childDir: string
  tools: { nginx?: string, haproxy?: string, wrk?: string }
  // Where lyncproxy writes its log lines (level info), /dev/null unless --log-file.
  logFile: string
  // The most client connections a target must take at once (long polls plus the load beside them).
  maxConnections: number
  // The per-process open file limit the targets inherit.
  fdLimit: number
  // --before: the built checkout measured as lyncproxy-before.
  before?: BeforeBuild
}

export interface RunningTarget {
  id: TargetId
  label: string
  pid: number
  httpPort: number
  httpsPort: number
  stop: () => Promise<void>
}

export interface StartOptions {
  // node --cpu-prof into this directory (lyncproxy only).
  cpuProfDir?: string
}

// Children that are still running; killed if the harness itself exits early.
const live = new Set<ChildProcess>()

export function killAllChildren (): void {
  for (const c of live) c.kill('SIGKILL')
}
process.on('exit', killAllChildren)

export function findTool (name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = path.join(dir, name)
    try { accessSync(file, constants.X_OK); return file } catch { /* next */ }
  }
  return undefined
}

export function targetLabel (id: TargetId, ctx: Pick<BenchContext, 'before'>): string {
  return id === 'lyncproxy-before' && ctx.before !== undefined ? ctx.before.label : TARGET_LABELS[id]
}

export function missingReason (id: TargetId, ctx: BenchContext): string | undefined {
  if (id === 'lyncproxy-before' && ctx.before === undefined) return 'no --before DIR given'
  if (id === 'nginx' && ctx.tools.nginx === undefined) return 'nginx is not installed (apt-get install nginx-light haproxy wrk)'
  if (id === 'haproxy' && ctx.tools.haproxy === undefined) return 'haproxy is not installed (apt-get install nginx-light haproxy wrk)'
  return undefined
}

export async function freePorts (n: number): Promise<number[]> {
  const servers: net.Server[] = []
  const ports: number[] = []
  for (let i = 0; i < n; i++) {
    const s = net.createServer()
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve) })
    servers.push(s)
    ports.push((s.address() as AddressInfo).port)
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

interface Spawned { child: ChildProcess, output: () => string, exited: Promise<number | null> }

export function spawnLogged (cmd: string, args: string[], cwd: string): Spawned {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let tail = ''
  const keep = (c: Buffer): void => { tail = (tail + c.toString()).slice(-4000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => { live.delete(child); resolve(code) })
    child.on('error', (err) => { tail += `\n${err.message}`; live.delete(child); resolve(-1) })
  })
  return { child, output: () => tail, exited }
}

export async function stopChild (s: Spawned, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  s.child.kill(signal)
  const timer = setTimeout(() => s.child.kill('SIGKILL'), graceMs)
  await s.exited
  clearTimeout(timer)
}

// One GET through the target, as a client of the published name would send it.
export function probe (port: number, tls: boolean, reqPath = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: reqPath, headers: { host: PUBLIC_NAME }, agent: false as const, timeout: 2000 }
    const req = tls
      ? https.request({ ...options, servername: PUBLIC_NAME, rejectUnauthorized: false })
      : http.request(options)
    req.on('response', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('timeout', () => req.destroy(new Error('probe timed out')))
    req.on('error', reject)
    req.end()
  })
}

async function waitReady (s: Spawned, what: string, ports: { http: number, https: number }, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      throw new Error(`${what} exited before it was ready (${s.child.exitCode ?? s.child.signalCode}):\n${s.output().trim()}`)
    }
    try {
      const a = await probe(ports.http, false)
      const b = await probe(ports.https, true)
      if (a === 200 && b === 200) return
      last = `statuses ${a} (http) and ${b} (https)`
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) {
      await stopChild(s, 'SIGKILL')
      throw new Error(`${what} was not ready after ${timeoutMs / 1000} s (${last}):\n${s.output().trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function waitAllWorkers (s: Spawned, what: string, adminPort: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: adminPort, path: '/readyz', agent: false, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
        .on('timeout', function (this: http.ClientRequest) { this.destroy() })
        .on('error', () => resolve(0))
    })
    if (status === 200) return
    if (Date.now() > deadline) {
      await stopChild(s, 'SIGKILL')
      throw new Error(`${what}: not every worker was ready after ${timeoutMs / 1000} s (/readyz ${status}):\n${s.output().trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

// lyncproxy's lab-style configuration: the Front End pool behind webext.contoso.com, 80 → 8080 and
// 443 → 4443 bridging (here: the backend's ports), and the UCWA/Mcx long-poll rule of config/lab.yaml.
export function lyncproxyConfig (ctx: Pick<BenchContext, 'lab' | 'backend'>, ports: { http: number, https: number }, cluster?: { workers: number, adminPort: number }): Record<string, unknown> {
  return {
    ...(cluster === undefined ? {} : { workers: cluster.workers, admin: { port: cluster.adminPort } }),
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: ports.http },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: ports.https, certificates: [{ lab: true }] },
    ],
    pools: {
      fe: {
        description: 'Front End pool (external web services): the benchmark backend',
        role: 'frontend',
        fqdn: POOL_FQDN,
        externalWebFqdn: PUBLIC_NAME,
        address: '127.0.0.1',
        httpPort: ctx.backend.httpPort,
        httpsPort: ctx.backend.httpsPort,
        tls: { ca: ['lab'] },
      },
    },
    rules: [
      { name: 'webext-longpoll', publicNames: [PUBLIC_NAME], paths: ['/ucwa', '/mcx'], action: 'forward', pool: 'fe', timeouts: { response: 960 }, longPoll: true },
      { name: 'webext', publicNames: [PUBLIC_NAME], action: 'forward', pool: 'fe' },
    ],
    defaults: { timeouts: { connect: 5, response: 120 } },
    certs: { dir: ctx.lab.certsDir },
    log: { level: 'info' },
  }
}

export async function startTarget (id: TargetId, ctx: BenchContext, options: StartOptions = {}): Promise<RunningTarget> {
  const label = targetLabel(id, ctx)
  if (id === 'direct') {
    return { id, label, pid: ctx.backend.pid, httpPort: ctx.backend.httpPort, httpsPort: ctx.backend.httpsPort, stop: async () => {} }
  }
  const [httpPort, httpsPort] = await freePorts(2) as [number, number]
  const ports = { http: httpPort, https: httpsPort }
  const dir = path.join(ctx.tmp, `${id}-${httpPort}`)
  mkdirSync(dir, { recursive: true })
  let s: Spawned
  let signal: NodeJS.Signals = 'SIGTERM'
  let adminPort: number | undefined
  if (id === 'lyncproxy' || id === 'lyncproxy-2w' || id === 'lyncproxy-before') {
    const file = path.join(dir, 'lyncproxy.yaml')
    // The cluster's admin plane gets a port of its own: its /readyz says when both workers serve.
    if (id === 'lyncproxy-2w') adminPort = (await freePorts(1))[0]
    const cluster = adminPort === undefined ? undefined : { workers: 2, adminPort }
    writeFileSync(file, `# Generated by bench/targets.ts\n${stringify(lyncproxyConfig(ctx, ports, cluster))}`)
    const nodeArgs = options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir]
    // The build before differs from lyncproxy in its program alone: same config, node flags and
    // log settings. It runs in its own checkout, so that it resolves its own node_modules.
    const where = id === 'lyncproxy-before' ? ctx.before! : { dir: ctx.repo, main: path.join(ctx.repo, 'dist/cli/main.js') }
    s = spawnLogged(process.execPath, [...nodeArgs, where.main, 'start', '-c', file, '--log-file', ctx.logFile, '--log-level', 'info'], where.dir)
  } else if (id === 'http-proxy') {
    s = spawnLogged(process.execPath, [path.join(ctx.childDir, 'http-proxy.mjs'),
      '--http-port', String(httpPort), '--https-port', String(httpsPort),
      '--backend-http', String(ctx.backend.httpPort), '--backend-https', String(ctx.backend.httpsPort),
      '--cert', ctx.lab.certFile, '--key', ctx.lab.keyFile, '--ca', ctx.lab.caFile], ctx.repo)
  } else if (id === 'undici-floor') {
    s = spawnLogged(process.execPath, [path.join(ctx.childDir, 'forwarder-undici.mjs'),
      '--port', String(httpPort), '--https-port', String(httpsPort),
      '--upstream', String(ctx.backend.httpPort), '--upstream-https', String(ctx.backend.httpsPort),
      '--servername', POOL_FQDN, '--cert', ctx.lab.certFile, '--key', ctx.lab.keyFile, '--ca', ctx.lab.caFile], ctx.repo)
  } else if (id === 'tls-pipe') {
    s = spawnLogged(process.execPath, [path.join(ctx.childDir, 'tls-pipe.mjs'),
      '--http-port', String(httpPort), '--https-port', String(httpsPort),
      '--backend-http', String(ctx.backend.httpPort), '--backend-https', String(ctx.backend.httpsPort),
      '--servername', POOL_FQDN, '--cert', ctx.lab.certFile, '--key', ctx.lab.keyFile, '--ca', ctx.lab.caFile], ctx.repo)
  } else if (id === 'nginx') {
    // The worker runs as nobody when started by root: it must be able to reach its prefix.
    chmodSync(dir, 0o755)
    const conf = path.join(dir, 'nginx.conf')
    writeFileSync(conf, nginxConfig({ ...ports, backendHttp: ctx.backend.httpPort, backendHttps: ctx.backend.httpsPort }, ctx.lab, dir, ctx.maxConnections, ctx.fdLimit))
    s = spawnLogged(ctx.tools.nginx!, ['-e', path.join(dir, 'error.log'), '-p', dir, '-c', conf, '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')};`], dir)
    // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for the long polls.
  } else if (id === 'haproxy') {
    const conf = path.join(dir, 'haproxy.cfg')
    writeFileSync(conf, haproxyConfig({ ...ports, backendHttp: ctx.backend.httpPort, backendHttps: ctx.backend.httpsPort }, ctx.lab, ctx.maxConnections, ctx.fdLimit))
    s = spawnLogged(ctx.tools.haproxy!, ['-db', '-f', conf], dir)
    signal = 'SIGTERM'
  } else {
    throw new Error(`unknown target ${String(id)}`)
  }
  await waitReady(s, label, ports)
  // The first worker to listen answers the probes; measuring before the second one is up would
  // measure one worker.
  if (adminPort !== undefined) await waitAllWorkers(s, label, adminPort)
  const spawned = s
  return { id, label, pid: s.child.pid!, httpPort, httpsPort, stop: () => stopChild(spawned, signal) }
}
