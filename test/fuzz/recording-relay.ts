// The recording upstream of the fuzz: a TCP relay in front of the chaos upstream. Every connection
// the proxy opens is parsed strictly as HTTP/1.1 requests, and each request is recorded (its head the
// moment it is complete, its body as it arrives), so a case can prove what reached the upstream and
// what did not. Framing the relay cannot read unambiguously (two framing fields, a bare LF, a bad
// chunk) is itself recorded: the proxy must only ever send canonical requests.
//
// The chaos upstream reads a body by Content-Length only, so a chunked body is handed to it de-chunked
// (Transfer-Encoding replaced by Content-Length) once complete; every other request goes through byte
// for byte. Responses come back untouched, and a reset or close of the chaos side is mirrored to the
// proxy.
import net, { type AddressInfo, type Socket } from 'node:net'

export interface UpstreamRequest {
  // Which relay connection (in accept order) and the request's place on it.
  conn: number
  index: number
  head: string
  method: string
  target: string
  // Field names as sent, values trimmed.
  fields: Array<[string, string]>
  body: string
  // The whole body, as framed, has arrived.
  complete: boolean
  at: number
}

export interface RecordingRelay {
  port: number
  requests: UpstreamRequest[]
  // Framing errors in what the proxy sent, with the bytes around them.
  malformed: string[]
  // Connections from the proxy that are open now.
  connections: () => number
  // Destroys every connection (between cases: the proxy's pooled upstream sockets close with them).
  dropConnections: () => void
  close: () => Promise<void>
}

// A parse of what one proxy connection has sent so far. Returns the requests it completed or began.
class RequestParser {
  private buf = ''
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'broken' = 'head'
  private remaining = 0
  current: UpstreamRequest | undefined
  count = 0
  private chunked = false

  constructor (readonly conn: number, readonly onHead: (r: UpstreamRequest) => void, readonly onComplete: (r: UpstreamRequest, chunked: boolean) => void, readonly onError: (why: string) => void) {}

  push (data: string): void {
    this.buf += data
    for (;;) {
      if (this.state === 'broken') return
      if (this.state === 'head') {
        // The proxy never sends leading empty lines; a head is everything up to the first blank line.
        const end = this.buf.indexOf('\r\n\r\n')
        if (end < 0) {
          if (/(^|[^\r])\n/.test(this.buf)) this.fail('bare LF in a request head')
          return
        }
        const head = this.buf.slice(0, end + 4)
        this.buf = this.buf.slice(end + 4)
        if (!this.startRequest(head)) return
        continue
      }
      const r = this.current!
      if (this.state === 'length') {
        const take = Math.min(this.remaining, this.buf.length)
        r.body += this.buf.slice(0, take)
        this.buf = this.buf.slice(take)
        this.remaining -= take
        if (this.remaining > 0) return
        this.finish()
        continue
      }
      if (this.state === 'chunk-size') {
        const eol = this.buf.indexOf('\r\n')
        if (eol < 0) {
          if (this.buf.length > 100) this.fail('chunk size line without CRLF')
          return
        }
        const line = this.buf.slice(0, eol)
        this.buf = this.buf.slice(eol + 2)
        const m = /^([0-9a-fA-F]{1,15})(;[^\r\n]*)?$/.exec(line)
        if (m === null) { this.fail(`bad chunk size line ${JSON.stringify(line)}`); return }
        this.remaining = parseInt(m[1]!, 16)
        this.state = this.remaining === 0 ? 'trailers' : 'chunk-data'
        continue
      }
      if (this.state === 'chunk-data') {
        const take = Math.min(this.remaining, this.buf.length)
        r.body += this.buf.slice(0, take)
        this.buf = this.buf.slice(take)
        this.remaining -= take
        if (this.remaining > 0) return
        this.state = 'chunk-crlf'
        continue
      }
      if (this.state === 'chunk-crlf') {
        if (this.buf.length < 2) return
        if (!this.buf.startsWith('\r\n')) { this.fail('chunk data not followed by CRLF'); return }
        this.buf = this.buf.slice(2)
        this.state = 'chunk-size'
        continue
      }
      // trailers: field lines up to an empty line.
      const eol = this.buf.indexOf('\r\n')
      if (eol < 0) return
      const line = this.buf.slice(0, eol)
      this.buf = this.buf.slice(eol + 2)
      if (line === '') { this.finish(); continue }
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(line)) { this.fail(`bad trailer line ${JSON.stringify(line)}`); return }
    }
  }

  private startRequest (head: string): boolean {
    const lines = head.slice(0, -4).split('\r\n')
    const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.1$/.exec(lines[0] ?? '')
    if (requestLine === null) { this.fail(`bad request line ${JSON.stringify(lines[0])}`); return false }
    const fields: Array<[string, string]> = []
    for (const line of lines.slice(1)) {
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line)
      if (m === null || /[\r\n\0]/.test(m[2]!)) { this.fail(`bad field line ${JSON.stringify(line)}`); return false }
      fields.push([m[1]!, m[2]!])
    }
    const r: UpstreamRequest = { conn: this.conn, index: this.count++, head, method: requestLine[1]!, target: requestLine[2]!, fields, body: '', complete: false, at: performance.now() }
    this.current = r
    this.onHead(r)
    const cl = fields.filter(([n]) => n.toLowerCase() === 'content-length')
    const te = fields.filter(([n]) => n.toLowerCase() === 'transfer-encoding')
    if (te.length > 0) {
      if (te.length > 1 || cl.length > 0 || te[0]![1].toLowerCase() !== 'chunked') { this.fail(`ambiguous framing sent upstream: ${JSON.stringify(head)}`); return false }
      this.chunked = true
      this.state = 'chunk-size'
      return true
    }
    this.chunked = false
    if (cl.length > 1 || (cl.length === 1 && !/^\d+$/.test(cl[0]![1]))) { this.fail(`bad Content-Length sent upstream: ${JSON.stringify(head)}`); return false }
    this.remaining = cl.length === 1 ? Number(cl[0]![1]) : 0
    this.state = 'length'
    return true
  }

  private finish (): void {
    const r = this.current!
    r.complete = true
    this.state = 'head'
    this.onComplete(r, this.chunked)
  }

  private fail (why: string): void {
    this.state = 'broken'
    this.onError(why)
  }
}

export async function startRecordingRelay (targetPort: number): Promise<RecordingRelay> {
  const requests: UpstreamRequest[] = []
  const malformed: string[] = []
  const sockets = new Set<Socket>()
  const fromProxy = new Set<Socket>()
  let conns = 0
  // Once closing, a connection that was still in the accept queue is refused at once: server.close
  // waits for every open connection, and one accepted after the sweep would hold it (and the test
  // process) open for good.
  let closing = false
  const server = net.createServer((proxySide) => {
    if (closing) { proxySide.destroy(); return }
    const conn = conns++
    sockets.add(proxySide)
    fromProxy.add(proxySide)
    proxySide.on('error', () => { /* the proxy resets upstream connections it gave up on */ })
    const chaos = net.connect(targetPort, '127.0.0.1')
    sockets.add(chaos)
    chaos.on('data', (c: Buffer) => { if (!proxySide.destroyed) proxySide.write(c) })
    chaos.on('end', () => proxySide.end())
    chaos.on('error', (err: NodeJS.ErrnoException) => {
      // The chaos `reset` kind: the proxy must see a reset too, not a clean close.
      if (err.code === 'ECONNRESET' && !proxySide.destroyed) proxySide.resetAndDestroy()
    })
    chaos.on('close', () => { sockets.delete(chaos); proxySide.destroy() })
    proxySide.on('close', () => { sockets.delete(proxySide); fromProxy.delete(proxySide); chaos.destroy() })
    const parser = new RequestParser(conn,
      (r) => requests.push(r),
      (r, chunked) => {
        if (!chunked) {
          chaos.write(r.head + r.body, 'latin1')
          return
        }
        const head = r.head.slice(0, -2).split('\r\n').filter((l) => !/^transfer-encoding:/i.test(l)).join('\r\n')
        chaos.write(head + `Content-Length: ${r.body.length}\r\n\r\n` + r.body, 'latin1')
      },
      (why) => {
        malformed.push(`connection ${conn}: ${why}`)
        proxySide.destroy()
      })
    proxySide.on('data', (c: Buffer) => parser.push(c.toString('latin1')))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    malformed,
    connections: () => fromProxy.size,
    dropConnections: () => { for (const s of sockets) s.destroy() },
    close: () => new Promise((resolve) => {
      closing = true
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
