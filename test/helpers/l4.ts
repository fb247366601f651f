// Layer-4 members for tcp frontend tests: plain TCP or TLS servers on a chosen loopback address and
// port, each connection handed to the test, and a client that says how its connection ended.
import { createHash, randomBytes } from 'node:crypto'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'

export interface L4Server {
  address: string
  port: number
  // Connections accepted so far (after the TLS handshake for a TLS server).
  accepted: () => number
  close: () => Promise<void>
}

export async function startL4Server (o: { address: string, port?: number, tls?: tls.TlsOptions, onSocket: (s: net.Socket) => void }): Promise<L4Server> {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const handle = (s: net.Socket): void => {
    accepted++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => { /* the test looks at the client side */ })
    o.onSocket(s)
  }
  // Half-open, as real servers are: a client's FIN ends its direction only.
  const server = o.tls === undefined ? net.createServer({ allowHalfOpen: true }, handle) : tls.createServer({ allowHalfOpen: true, ...o.tls }, handle)
  if (o.tls !== undefined) server.on('tlsClientError', () => { /* probes connect and leave */ })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, o.address, () => { server.off('error', reject); resolve() })
  })
  return {
    address: o.address,
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      if (!server.listening) { resolve(); return }
      server.close(() => resolve())
    }),
  }
}

export interface Ending {
  // 'end': a clean FIN; 'error': the connection failed (code in `code`); 'close': closed without end.
  how: 'end' | 'error' | 'close'
  code: string
  data: Buffer
}

// Collects what arrives and reports how the connection ended.
export function watchEnding (socket: net.Socket): Promise<Ending> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let how: Ending['how'] = 'close'
    let code = ''
    socket.on('data', (c: Buffer) => chunks.push(c))
    // The peer has finished: finish too, as a client does (the socket may be half-open).
    socket.on('end', () => { if (how === 'close') how = 'end'; socket.end() })
    socket.on('error', (err: NodeJS.ErrnoException) => { how = 'error'; code = err.code ?? err.message })
    socket.on('close', () => resolve({ how, code, data: Buffer.concat(chunks) }))
  })
}

// Writes `total` random bytes in 64 KiB chunks, honouring backpressure, and returns their sha256.
export async function writeStream (socket: net.Socket, total: number, end = true): Promise<string> {
  const hash = createHash('sha256')
  let sent = 0
  while (sent < total) {
    const chunk = randomBytes(Math.min(65536, total - sent))
    hash.update(chunk)
    sent += chunk.length
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { socket.off('close', onClose); resolve() }
        const onClose = (): void => { socket.off('drain', onDrain); reject(new Error(`closed after ${sent} bytes`)) }
        socket.once('drain', onDrain)
        socket.once('close', onClose)
      })
    }
  }
  if (end) socket.end()
  return hash.digest('hex')
}

// Reads until the peer ends; resolves with the byte count and sha256.
export function readStream (socket: net.Socket): Promise<{ bytes: number, sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (c: Buffer) => { hash.update(c); bytes += c.length })
    socket.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }))
    socket.on('error', reject)
  })
}
