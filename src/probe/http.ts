// The probe's HTTP client. Every request goes to the target address while SNI and Host name the
// public name, which is how the probe needs no DNS: the same as curl --resolve. Each request is
// bounded by the per-request timeout, and bodies are capped, so a misbehaving proxy cannot hang or
// flood the probe.
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'

// Enough for any Lync page the checks read; the rest is drained, not kept.
const MAX_BODY_BYTES = 1 << 20

export interface Endpoint {
  target: string
  httpPort: number
  httpsPort: number
  ca?: string | Buffer
  timeoutMs: number
}

export interface ProbeRequest {
  scheme: 'http' | 'https'
  name: string
  // Path and query exactly as they go on the request line.
  path: string
  method?: string
  headers?: Record<string, string>
  body?: string
  // A keep-alive agent when several requests must share one connection (NTLM); otherwise each
  // request has a connection of its own.
  agent?: http.Agent
  // For names that are not supposed to be published: what matters is what the proxy does with the
  // request, not whether its certificate carries the name.
  anyCertificate?: boolean
  // Overrides the endpoint's timeout for this request.
  timeoutMs?: number
}

export interface ProbeResponse {
  status: number
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
  elapsedMs: number
  // The connection it came on, to tell whether a keep-alive connection was reused.
  socket: Socket
}

export class ProbeTimeoutError extends Error {
  readonly code = 'PROBE_TIMEOUT'
  constructor (readonly ms: number) {
    super(`no answer within ${ms / 1000} s`)
  }
}

// As a browser or curl writes it: the port only when it is not the scheme's default.
export function hostHeader (scheme: 'http' | 'https', name: string, port: number): string {
  return port === (scheme === 'https' ? 443 : 80) ? name : `${name}:${port}`
}

// The name part of a Host header value (no port, lower case, no trailing dot).
export function hostOnly (value: string): string {
  let v = value.trim().toLowerCase()
  if (!v.startsWith('[')) v = v.replace(/:\d*$/, '')
  return v.endsWith('.') ? v.slice(0, -1) : v
}

// Every line of a header as the server sent it. Node joins repeated WWW-Authenticate lines with
// ", ", which is ambiguous for challenges that carry commas themselves (MsRtcOAuth).
export function headerLines (res: Pick<ProbeResponse, 'rawHeaders'>, name: string): string[] {
  const wanted = name.toLowerCase()
  const out: string[] = []
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i]!.toLowerCase() === wanted) out.push(res.rawHeaders[i + 1]!)
  }
  return out
}

export function send (endpoint: Endpoint, req: ProbeRequest): Promise<ProbeResponse> {
  const port = req.scheme === 'https' ? endpoint.httpsPort : endpoint.httpPort
  const timeoutMs = req.timeoutMs ?? endpoint.timeoutMs
  const options: https.RequestOptions = {
    host: endpoint.target,
    port,
    path: req.path,
    method: req.method ?? 'GET',
    headers: { Host: hostHeader(req.scheme, req.name, port), 'User-Agent': 'lyncproxy-probe', ...req.headers },
    agent: req.agent ?? false,
  }
  if (req.scheme === 'https') {
    options.servername = req.name
    if (endpoint.ca !== undefined) options.ca = endpoint.ca
    if (req.anyCertificate === true) options.rejectUnauthorized = false
  }
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const request = req.scheme === 'https' ? https.request(options) : http.request(options)
    const timer = setTimeout(() => request.destroy(new ProbeTimeoutError(timeoutMs)), timeoutMs)
    request.on('error', (err) => { clearTimeout(timer); reject(err) })
    request.on('response', (res) => {
      const chunks: Buffer[] = []
      let kept = 0
      res.on('data', (chunk: Buffer) => {
        if (kept >= MAX_BODY_BYTES) return
        chunks.push(chunk)
        kept += chunk.length
      })
      res.on('end', () => {
        clearTimeout(timer)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
          elapsedMs: Date.now() - started,
          socket: request.socket as Socket,
        })
      })
      // A reset mid-body surfaces here, after 'response'; a close before the end without an error
      // is a cut-off answer all the same.
      res.on('error', (err) => { clearTimeout(timer); reject(err) })
      res.on('close', () => { clearTimeout(timer); if (!res.complete) reject(new Error('the connection closed in the middle of the answer')) })
    })
    request.end(req.body)
  })
}
