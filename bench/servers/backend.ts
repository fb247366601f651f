// The backend every target forwards to, standing in for a Front End pool's external web services:
// a Node server that answers any GET with a ~1 KB JSON document shaped like a Lync autodiscover
// answer, reads and discards request bodies, and holds UCWA event-channel GETs open (long polls)
// until the client goes away. One process, plain HTTP on one port and HTTPS (the pool's internal lab
// certificate) on another, like 8080/4443. GET /__bench/stats says how many long polls it holds.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '0' },
    'https-port': { type: 'string', default: '0' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
})

function autodiscoverBody (): Buffer {
  const base = 'https://webext.contoso.com'
  const doc = {
    AccessLocation: 'External',
    Root: { Links: [] as Array<{ token: string, href: string }> },
    _links: {
      self: { href: `${base}/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com` },
      user: { href: `${base}/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.com` },
      xframe: { href: `${base}/Autodiscover/XFrame/XFrame.html` },
    },
  }
  const tokens = ['Internal/Autodiscover', 'Internal/AuthBroker', 'Internal/WebScheduler', 'Internal/Mcx', 'Internal/Ucwa',
    'External/Autodiscover', 'External/AuthBroker', 'External/WebScheduler', 'External/Mcx', 'External/Ucwa']
  for (const token of tokens) doc.Root.Links.push({ token, href: `${base}/${token.split('/')[1]}/` })
  return Buffer.from(JSON.stringify(doc))
}

const BODY = autodiscoverBody()
const HEADERS: http.OutgoingHttpHeaders = {
  'Content-Type': 'application/vnd.microsoft.rtc.autodiscover+json; v=1',
  'Content-Length': String(BODY.length),
  'Cache-Control': 'no-cache',
}
const EVENTS_TIMEOUT_MS = 900_000

const held = new Set<http.ServerResponse>()
let requests = 0

function onRequest (req: http.IncomingMessage, res: http.ServerResponse): void {
  requests++
  const url = req.url ?? '/'
  if (url === '/__bench/stats') {
    const stats = Buffer.from(JSON.stringify({ held: held.size, requests, body: BODY.length }))
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(stats.length) })
    res.end(stats)
    return
  }
  if (url === '/__bench/release') {
    // Answers every held poll: frees what a proxy left behind when its client went away.
    const n = held.size
    for (const r of held) { r.writeHead(200, HEADERS); r.end(BODY) }
    const answer = Buffer.from(JSON.stringify({ held: held.size, requests, released: n }))
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) })
    res.end(answer)
    return
  }
  if (url.startsWith('/ucwa/') && url.includes('/events')) {
    holdEvents(res)
    return
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, HEADERS)
    res.end(BODY)
    return
  }
  // Uploads: read everything (so the sender's bytes really cross the proxy), then answer.
  req.on('data', ignore)
  req.on('end', () => {
    res.writeHead(200, HEADERS)
    res.end(BODY)
  })
}

// A UCWA event channel: the server answers when there is an event or after the long-poll timeout.
function holdEvents (res: http.ServerResponse): void {
  held.add(res)
  const timer = setTimeout(() => { res.writeHead(200, HEADERS); res.end(BODY) }, EVENTS_TIMEOUT_MS)
  timer.unref()
  res.on('close', () => { held.delete(res); clearTimeout(timer) })
}

function ignore (): void {}

function tune (server: http.Server): http.Server {
  // Longer than any proxy's upstream idle timeout, so that the proxy, not the backend, closes idle
  // keep-alive connections (as IIS's 120 s does for Lync).
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 121_000
  server.requestTimeout = 0
  server.timeout = 0
  server.maxRequestsPerSocket = 0
  return server
}

function listen (server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => resolve((server.address() as AddressInfo).port))
  })
}

const plain = tune(http.createServer({ noDelay: true }, onRequest))
const httpPort = await listen(plain, Number(values['http-port']))
let httpsPort = 0
if (values.cert !== undefined && values.key !== undefined) {
  const secure = tune(https.createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key), noDelay: true }, onRequest))
  httpsPort = await listen(secure, Number(values['https-port']))
}
process.stdout.write(JSON.stringify({ ready: true, httpPort, httpsPort, bodyBytes: BODY.length }) + '\n')
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
// Orphaned (the harness was killed outright): nothing is left to serve.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
