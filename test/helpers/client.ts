// Clients for tests: a request through the proxy with any Host and SNI, over a fresh connection, and
// a raw socket for exact bytes.
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
  complete: boolean
}

export interface RequestOptions {
  port: number
  host: string
  path?: string
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Buffer
  tls?: { ca: string, servername?: string }
  agent?: http.Agent
}

export function request (o: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const common = {
      host: '127.0.0.1',
      port: o.port,
      path: o.path ?? '/',
      method: o.method ?? 'GET',
      headers: { Host: o.host, ...o.headers },
      agent: o.agent ?? false,
    }
    const req = o.tls === undefined
      ? http.request(common)
      : https.request({ ...common, ca: o.tls.ca, servername: o.tls.servername ?? o.host.replace(/:\d+$/, '') })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString(), complete: res.complete })
      res.on('end', done)
      res.on('error', done)
      res.on('aborted', () => { /* reported through complete=false */ })
    })
    req.on('error', reject)
    req.end(o.body)
  })
}

// Sends exact bytes and collects everything until the server closes or `idleMs` passes quietly.
export function rawExchange (port: number, bytes: string | Buffer, idleMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let timer = setTimeout(() => socket.destroy(), idleMs)
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      clearTimeout(timer)
      timer = setTimeout(() => socket.destroy(), idleMs)
    })
    socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
    socket.on('error', reject)
    socket.write(bytes)
  })
}
