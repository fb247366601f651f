// The smallest forwarder on undici's dispatcher (the engine lyncproxy uses): the other half of
// bench/engines.ts, and the floor beside lyncproxy in scenarios a, b and f of `npm run bench`. Raw
// header bytes in, a legacy dispatch handler writing straight into the client's response,
// backpressure through the handler's return values. Given --https-port it also terminates TLS with
// the lab certificate and forwards to the backend's TLS port (one pool, verified against the lab CA),
// as scenario b's targets do.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Pool, type Dispatcher } from 'undici'

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    'https-port': { type: 'string' },
    'upstream-https': { type: 'string' },
    servername: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
})
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding'])

class Relay implements Dispatcher.DispatchHandler {
  constructor (private readonly res: http.ServerResponse) {}
  onConnect (): void {}
  onError (): void { this.res.destroy() }
  onHeaders (status: number, raw: Buffer[]): boolean {
    const headers: string[] = []
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1')
      if (!HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1]!.toString('latin1'))
    }
    this.res.writeHead(status, headers)
    return true
  }

  onData (chunk: Buffer): boolean { return this.res.write(chunk) }
  onComplete (): void { this.res.end() }
}

function forwardTo (pool: Pool): http.RequestListener {
  return (req, res) => {
    const headers: string[] = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!HOP.has(req.rawHeaders[i]!.toLowerCase())) headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
    }
    pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, new Relay(res))
  }
}

function listen (server: http.Server, port: string): Promise<number> {
  return new Promise((resolve) => server.listen({ port: Number(port), host: '127.0.0.1', backlog: 1024 }, () => resolve((server.address() as AddressInfo).port)))
}

const port = await listen(http.createServer(forwardTo(new Pool(`http://127.0.0.1:${values.upstream}`, { connections: 1024, pipelining: 1 }))), values.port)
let httpsPort: number | undefined
if (values['https-port'] !== undefined) {
  const pool = new Pool(`https://127.0.0.1:${values['upstream-https']}`, { connections: 1024, pipelining: 1, connect: { ca: readFileSync(values.ca!, 'utf8'), servername: values.servername } })
  httpsPort = await listen(https.createServer({ cert: readFileSync(values.cert!, 'utf8'), key: readFileSync(values.key!, 'utf8') }, forwardTo(pool)), values['https-port'])
}
process.stdout.write(JSON.stringify({ ready: true, port, ...(httpsPort === undefined ? {} : { httpsPort }) }) + '\n')
process.on('SIGTERM', () => process.exit(0))
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
