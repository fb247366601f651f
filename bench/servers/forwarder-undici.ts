// The smallest forwarder on undici's dispatcher (the engine lyncproxy uses): the other half of
// bench/engines.ts, and the floor beside lyncproxy in scenarios a and f of `npm run bench`. Raw
// header bytes in, a legacy dispatch handler writing straight into the client's response,
// backpressure through the handler's return values.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Pool, type Dispatcher } from 'undici'

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } })
const pool = new Pool(`http://127.0.0.1:${values.upstream}`, { connections: 1024, pipelining: 1 })
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

const server = http.createServer((req, res) => {
  const headers: string[] = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!HOP.has(req.rawHeaders[i]!.toLowerCase())) headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
  }
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, new Relay(res))
})
server.listen({ port: Number(values.port), host: '127.0.0.1', backlog: 1024 }, () => {
  process.stdout.write(JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port }) + '\n')
})
process.on('SIGTERM', () => process.exit(0))
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
