// The smallest forwarder on node:http's client that keeps the same contract as lyncproxy's engines
// (keep-alive upstream, response streamed back): one half of bench/engines.ts, which measures what
// the engine alone costs per request, with nothing of lyncproxy around it.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
const upstreamPort = Number(values.upstream)
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })

const server = http.createServer((req, res) => {
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers)
    upRes.pipe(res)
  })
  up.on('error', () => { res.destroy() })
  req.pipe(up)
})
server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
  process.stdout.write(JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port }) + '\n')
})
process.on('SIGTERM', () => process.exit(0))
// Orphaned (the harness was killed outright): nothing is left to serve.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
