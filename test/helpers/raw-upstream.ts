// An upstream that speaks raw bytes: it records everything each connection sent and answers each
// request head (up to the blank line) through a responder that writes whatever bytes a test needs,
// including invalid or truncated responses that a Node server would never produce.
import net, { type AddressInfo, type Socket } from 'node:net'
import tls from 'node:tls'

export type RawResponder = (socket: Socket, head: string, index: number) => void

export interface RawUpstream {
  port: number
  // The request heads received so far, in arrival order.
  heads: string[]
  // Everything every connection received, concatenated per connection in arrival order.
  rawBytes: () => string
  close: () => Promise<void>
}

export async function startRawUpstream (respond: RawResponder, cert?: { cert: string, key: string }): Promise<RawUpstream> {
  const heads: string[] = []
  const raw: Buffer[][] = []
  const sockets = new Set<Socket>()
  const onConnection = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => { /* the proxy may reset; the test asserts on what arrived */ })
    const chunks: Buffer[] = []
    raw.push(chunks)
    let pending = ''
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      pending += c.toString('latin1')
      for (;;) {
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = pending.slice(0, end + 4)
        pending = pending.slice(end + 4)
        heads.push(head)
        respond(socket, head, heads.length - 1)
      }
    })
  }
  const server = cert === undefined ? net.createServer(onConnection) : tls.createServer({ cert: cert.cert, key: cert.key }, onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    heads,
    rawBytes: () => raw.map((c) => Buffer.concat(c).toString('latin1')).join(''),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
