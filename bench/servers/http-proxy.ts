// The Node baseline of issue 6: bare http-proxy (the design card's package) with a keep-alive agent,
// nothing else. An http listener forwarding to the backend's http port and an https listener (the
// lab's external certificate) forwarding over TLS to its https port, verifying it against the lab CA.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import httpProxy from 'http-proxy'

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '0' },
    'https-port': { type: 'string', default: '0' },
    'backend-http': { type: 'string' },
    'backend-https': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
})

const plainProxy = httpProxy.createProxyServer({
  target: `http://127.0.0.1:${values['backend-http']}`,
  agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  xfwd: true,
})
const ca = values.ca === undefined ? undefined : readFileSync(values.ca, 'utf8')
const tlsProxy = httpProxy.createProxyServer({
  // The agent derives SNI and the name to verify from the forwarded Host (webext.contoso.com),
  // which the pool's internal certificate carries.
  target: { protocol: 'https:', host: '127.0.0.1', port: Number(values['backend-https']), ca },
  agent: new https.Agent({ keepAlive: true, maxSockets: 256, ca }),
  secure: true,
  xfwd: true,
})

function onProxyError (err: Error, _req: http.IncomingMessage, res: http.ServerResponse | import('node:net').Socket): void {
  if (res instanceof http.ServerResponse) {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' })
    res.end(`bad gateway: ${err.message}`)
  } else {
    res.destroy()
  }
}
plainProxy.on('error', onProxyError)
tlsProxy.on('error', onProxyError)

function listen (server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => resolve((server.address() as AddressInfo).port))
  })
}

const plain = http.createServer((req, res) => plainProxy.web(req, res))
const httpPort = await listen(plain, Number(values['http-port']))
let httpsPort = 0
if (values.cert !== undefined && values.key !== undefined) {
  const secure = https.createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, (req, res) => tlsProxy.web(req, res))
  httpsPort = await listen(secure, Number(values['https-port']))
}
process.stdout.write(JSON.stringify({ ready: true, httpPort, httpsPort }) + '\n')
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
// Orphaned (the harness was killed outright): nothing is left to serve.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
