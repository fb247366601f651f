// A fault-injecting upstream (proxy-correctness.md §5): raw sockets, keep-alive, routing on
// /<kind>/<id>. Every request head it receives is logged as `kind id`, so a test can prove that no
// request reached it twice. Bodies start with the request's own id, so a client can prove it got
// its own answer and nobody else's.
//
// `slow` (no head yet) and `stall` (half a body) outlast the proxy's response timeout. Unless
// told a delay, they wait for the proxy to give up rather than for a clock: that timeout runs on
// undici's coarse clock, which counts event-loop ticks and so falls behind the wall clock as the
// machine gets busier, and an answer due after a fixed delay can come before it. A proxy without
// the timeout then leaves these requests without an outcome, for the test to report; one that gave
// up on `slow` but sent another request on its connection gets the late answer first, as that
// request's response.
import net, { type AddressInfo, type Socket } from 'node:net'

export const CHAOS_KINDS = ['ok', 'okchunked', 'truncate', 'reset', 'garbage', 'dupcl', 'slow', 'stall', 'post'] as const
export type ChaosKind = typeof CHAOS_KINDS[number]

export interface ChaosOptions {
  // When given, `slow` answers and `stall` closes after this long instead of waiting for the proxy.
  slowMs?: number
}

export interface ChaosUpstream {
  port: number
  // `kind id` per request head received, in arrival order.
  log: string[]
  // Destroys every connection (between rounds: nothing is in flight then).
  dropConnections: () => void
  connections: () => number
  close: () => Promise<void>
}

// The body of a truncated or stalled answer: declared 1,000 bytes, only this much sent.
export function partialBody (id: string): string {
  return `${id}:partial`
}

export async function startChaosUpstream (o: ChaosOptions = {}): Promise<ChaosUpstream> {
  const log: string[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const later = (ms: number, f: () => void): void => {
    const timer = setTimeout(() => { timers.delete(timer); f() }, ms)
    timers.add(timer)
  }
  // The answer a `slow` request is still owed on a connection.
  const owed = new Map<Socket, string>()
  const answer = (socket: Socket, kind: string, id: string, body: string): void => {
    const write = (s: string): void => { if (!socket.destroyed) socket.write(s) }
    const late = owed.get(socket)
    if (late !== undefined) {
      owed.delete(socket)
      write(late)
    }
    switch (kind) {
      case 'ok':
        write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${id.length}\r\n\r\n${id}`)
        return
      case 'okchunked': {
        const half = id.length >> 1
        write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${half.toString(16)}\r\n${id.slice(0, half)}\r\n`)
        later(5, () => write(`${(id.length - half).toString(16)}\r\n${id.slice(half)}\r\n0\r\n\r\n`))
        return
      }
      case 'post':
        write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
        return
      case 'truncate':
        write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n${partialBody(id)}`)
        later(20, () => socket.destroy())
        return
      case 'stall':
        write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n${partialBody(id)}`)
        if (o.slowMs !== undefined) later(o.slowMs, () => socket.destroy())
        return
      case 'reset':
        socket.resetAndDestroy()
        return
      case 'garbage':
        write('GARBAGE\r\n\r\n')
        return
      case 'dupcl':
        write(`HTTP/1.1 200 OK\r\nContent-Length: ${id.length}\r\nContent-Length: ${id.length + 1}\r\n\r\n${id}`)
        return
      case 'slow': {
        const response = `HTTP/1.1 200 OK\r\nContent-Length: ${id.length}\r\n\r\n${id}`
        if (o.slowMs === undefined) owed.set(socket, response)
        else later(o.slowMs, () => write(response))
        return
      }
      default:
        write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    }
  }
  // Connections still in the accept queue at close are refused at once (see close below).
  let closing = false
  const server = net.createServer((socket) => {
    if (closing) { socket.destroy(); return }
    sockets.add(socket)
    socket.on('close', () => { sockets.delete(socket); owed.delete(socket) })
    socket.on('error', () => { /* the proxy resets connections it gave up on */ })
    let pending = Buffer.alloc(0)
    socket.on('data', (c: Buffer) => {
      pending = Buffer.concat([pending, c])
      // One request at a time per connection (the proxy does not pipeline): head, then the body.
      for (;;) {
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = pending.subarray(0, end).toString('latin1')
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (pending.length < end + 4 + length) return
        const body = pending.subarray(end + 4, end + 4 + length).toString('latin1')
        pending = pending.subarray(end + 4 + length)
        const target = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/'))
        const [, kind = '', id = ''] = target.split('/')
        log.push(`${kind} ${id}`)
        answer(socket, kind, id, body)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    log,
    dropConnections: () => { for (const s of sockets) s.destroy() },
    connections: () => sockets.size,
    close: () => new Promise((resolve) => {
      closing = true
      for (const timer of timers) clearTimeout(timer)
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
