// Helpers for pool tests: several recording upstreams as the members of a `members` pool, a client
// that keeps ONE connection to the proxy (to show per-request balancing inside a TCP session), and a
// gate that holds requests on an upstream until the test lets them go.
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import pino from 'pino'
import { validateConfigObject } from '../../src/config/load.js'
import { startProxy } from '../../src/control/proxy.js'
import { testCertificates, type TestProxy } from './proxy.js'
import { startUpstream, type RecordingUpstream, type UpstreamHandler } from './upstream.js'

// Member upstreams on 127.0.0.1, each on its own port; `handler` sees which member it is.
export async function startMembers (n: number, handler?: (index: number) => UpstreamHandler): Promise<RecordingUpstream[]> {
  const out: RecordingUpstream[] = []
  for (let i = 0; i < n; i++) out.push(await startUpstream(handler === undefined ? nameHandler(i) : handler(i)))
  return out
}

// Answers 200 with the member's index in X-Member and the body.
export function nameHandler (index: number): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(200, { 'X-Member': String(index), 'Content-Type': 'text/plain' })
    res.end(`member ${index}`)
  }
}

// A members pool over the given upstreams (m1, m2, …), no health checks unless `extra` says so.
export function membersPool (ups: ReadonlyArray<{ port: number, address?: string }>, extra: Record<string, unknown> = {}, memberExtra: (i: number) => Record<string, unknown> = () => ({})): Record<string, unknown> {
  return {
    kind: 'members',
    fqdn: 'pool01.contoso.net',
    members: ups.map((u, i) => ({ name: `m${i + 1}`, address: u.address ?? '127.0.0.1', httpPort: u.port, httpsPort: u.port, ...memberExtra(i) })),
    health: { check: 'none' },
    ...extra,
  }
}

// How many requests each upstream received (in member order).
export function counts (ups: readonly RecordingUpstream[]): number[] {
  return ups.map((u) => u.requests.length)
}

export interface KeepAliveReply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  // The client side port of the connection the exchange used: equal ports, same TCP session.
  localPort: number
  reused: boolean
}

// One keep-alive connection to the proxy, used for every request (maxSockets 1).
export class KeepAliveClient {
  readonly agent: http.Agent
  constructor (readonly port: number, readonly tls?: { ca: string, servername: string }, localAddress?: string, readonly address = '127.0.0.1') {
    const common = { keepAlive: true, maxSockets: 1, ...(localAddress === undefined ? {} : { localAddress }) }
    this.agent = tls === undefined ? new http.Agent(common) : new https.Agent({ ...common, ca: tls.ca, servername: tls.servername })
  }

  request (host: string, path = '/', o: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<KeepAliveReply> {
    return new Promise((resolve, reject) => {
      // Node sends a GET's body without any length unless told; the length makes it a body.
      const length: Record<string, string> = o.body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(o.body)) }
      const options = { host: this.address, port: this.port, path, method: o.method ?? 'GET', headers: { Host: host, ...length, ...o.headers }, agent: this.agent }
      const req = this.tls === undefined ? http.request(options) : https.request({ ...options, servername: this.tls.servername })
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), localPort: req.socket?.localPort ?? 0, reused: req.reusedSocket }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(o.body)
    })
  }

  close (): void {
    this.agent.destroy()
  }
}

// Holds requests until released; `arrived` counts those waiting.
export class Gate {
  private waiting: Array<() => void> = []
  private arrivals: Array<() => void> = []
  get arrived (): number { return this.waiting.length }

  hold (release: () => void): void {
    this.waiting.push(release)
    const a = this.arrivals
    this.arrivals = []
    for (const f of a) f()
  }

  // Resolves once `n` requests are held (or rejects after `ms`).
  async until (n: number, ms = 5000): Promise<void> {
    const end = Date.now() + ms
    while (this.waiting.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.waiting.length} of ${n} requests arrived at the gate`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50)
        this.arrivals.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  releaseAll (): void {
    const w = this.waiting
    this.waiting = []
    for (const f of w) f()
  }
}

// A port on which nothing listens (bound, then closed): a connect gets ECONNREFUSED.
// An address no test listens on or connects from: a port freed there is not picked up again by
// another test's ephemeral socket (which a port freed on 127.0.0.1 can be, with tests in parallel).
export const DEAD_ADDRESS = '127.0.0.254'

export async function deadPort (address = DEAD_ADDRESS): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Polls `check` until it is true or `ms` passes; returns the last result.
export async function eventually (check: () => boolean | Promise<boolean>, ms = 5000, every = 50): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await sleep(every)
  }
}

export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
  at: number
}

export interface PlainServer {
  address: string
  port: number
  requests: SeenRequest[]
  // TCP connections accepted so far (health probes included).
  connections: () => number
  close: () => Promise<void>
}

export type SeenHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void

// An HTTP(S) server on a given address and port (0: any), recording every request with its body.
// Unlike startUpstream it can bind 127.0.0.x and a port chosen earlier, so a member that went away
// can come back on the same address and port.
export async function startServerAt (o: { address?: string, port?: number, tls?: { cert: string, key: string }, handler: SeenHandler }): Promise<PlainServer> {
  const requests: SeenRequest[] = []
  let connections = 0
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString(), at: Date.now() }
      requests.push(seen)
      o.handler(req, res, seen)
    })
  }
  const server = o.tls === undefined ? http.createServer(onRequest) : https.createServer({ cert: o.tls.cert, key: o.tls.key }, onRequest)
  server.on('connection', () => { connections++ })
  const address = o.address ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, address, () => { server.off('error', reject); resolve() })
  })
  return {
    address,
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

export interface LoggedProxy extends TestProxy {
  // Every log line the proxy wrote, parsed.
  logs: Array<Record<string, unknown>>
}

// startTestProxy with the log kept, to assert what the operator is told (health transitions).
export async function startLoggedProxy (config: Record<string, unknown>): Promise<LoggedProxy> {
  const certs = await testCertificates()
  const full = {
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
    ],
    certs: { dir: path.dirname(certs.caFile) },
    ...config,
  }
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } })
  const loaded = validateConfigObject(full, { file: 'test-config.yaml', baseDir: process.cwd() })
  const proxy = await startProxy(loaded, { logger, labCerts: certs })
  return {
    proxy,
    certs,
    logs,
    httpPort: proxy.listeners.find((l) => l.protocol === 'http')?.port ?? 0,
    httpsPort: proxy.listeners.find((l) => l.protocol === 'https')?.port ?? 0,
    close: () => proxy.close(0),
  }
}
