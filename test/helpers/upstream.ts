// Test upstreams on 127.0.0.1, port 0. A recording upstream keeps, per request, the parsed request
// and the exact bytes its connection received, so tests assert what was forwarded, not only what
// the client saw.
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'

export interface RecordedRequest {
  method: string
  url: string
  rawHeaders: string[]
  headers: http.IncomingHttpHeaders
  body: Buffer
  // Which upstream connection it came on (1, 2, …), to assert pinning and reuse.
  connection: number
  localPort: number
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest) => void

export interface RecordingUpstream {
  port: number
  requests: RecordedRequest[]
  // Everything every connection received, concatenated in arrival order per connection.
  rawBytes: () => string
  connections: () => number
  close: () => Promise<void>
}

const kConnection = Symbol('connection')

export async function startUpstream (handler: UpstreamHandler = defaultHandler, tls?: { cert: string, key: string }, options: { readBody?: boolean } = {}): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = []
  const raw = new Map<number, Buffer[]>()
  let connections = 0
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const connection = (req.socket as Socket & { [kConnection]: number })[kConnection]
    const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers, body: Buffer.alloc(0), connection, localPort: req.socket.localPort ?? 0 }
    requests.push(recorded)
    if (options.readBody === false) { handler(req, res, recorded); return }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks)
      handler(req, res, recorded)
    })
  }
  const server = tls === undefined ? http.createServer(onRequest) : https.createServer({ cert: tls.cert, key: tls.key }, onRequest)
  server.keepAliveTimeout = 30_000
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    const id = ++connections
    ;(socket as Socket & { [kConnection]: number })[kConnection] = id
    const chunks: Buffer[] = []
    raw.set(id, chunks)
    socket.on('data', (c: Buffer) => chunks.push(c))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    rawBytes: () => [...raw.values()].map((c) => Buffer.concat(c).toString('latin1')).join(''),
    connections: () => connections,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

function defaultHandler (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest): void {
  const body = JSON.stringify({ url: req.url, host: req.headers.host, bytes: recorded.body.length })
  res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream-Port': String(req.socket.localPort) })
  res.end(body)
}
