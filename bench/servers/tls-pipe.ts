// The floor of scenario e: the least a Node process can hold for one long poll. It terminates the
// client's TLS with the lab's external certificate, opens one TLS connection to the backend's https
// port (verified against the lab CA, one shared context, as lyncproxy's pool does) and copies bytes
// both ways. No HTTP, no routing, no logging: what it holds per poll is two TLS sockets and their
// stream state, which any Node proxy holds too. Its http port does the same over plain TCP, so the
// harness's readiness probe and the small load work through it.
import { readFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '0' },
    'https-port': { type: 'string', default: '0' },
    'backend-http': { type: 'string' },
    'backend-https': { type: 'string' },
    servername: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
})

const upstreamContext = tls.createSecureContext({ ca: readFileSync(values.ca!, 'utf8') })

function join (client: net.Socket, upstream: net.Socket): void {
  const close = (): void => { client.destroy(); upstream.destroy() }
  client.on('error', close).on('close', close)
  upstream.on('error', close).on('close', close)
  client.pipe(upstream).pipe(client)
}

function listen (server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => resolve((server.address() as AddressInfo).port))
  })
}

const plain = net.createServer((client) => join(client, net.connect(Number(values['backend-http']), '127.0.0.1')))
const secure = tls.createServer({ cert: readFileSync(values.cert!), key: readFileSync(values.key!) }, (client) => {
  join(client, tls.connect({ host: '127.0.0.1', port: Number(values['backend-https']), servername: values.servername, secureContext: upstreamContext }))
})
const httpPort = await listen(plain, Number(values['http-port']))
const httpsPort = await listen(secure, Number(values['https-port']))
process.stdout.write(JSON.stringify({ ready: true, httpPort, httpsPort }) + '\n')
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
// Orphaned (the harness was killed outright): nothing is left to serve.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
