// Stand-ins for the Director's non-HTTP ports (SIP/MTLS 5061, 444, CLS 50001–50003): TLS servers that
// say which server and port answered, then echo what they receive. Enough to watch an HLB's layer-4
// balancing and to check that TLS passes through it untouched.
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'

export interface EchoServer {
  member: string
  address: string
  port: number
  close (): Promise<void>
}

export function startEcho (member: string, address: string, port: number, cert: { cert: string, key: string }): Promise<EchoServer> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<tls.TLSSocket>()
    const server = tls.createServer({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2' }, (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => socket.destroy())
      socket.write(`${member} ${(server.address() as AddressInfo).port}\r\n`)
      socket.pipe(socket)
    })
    server.on('tlsClientError', (_e, socket) => socket.destroy())
    server.once('error', reject)
    server.listen(port, address, () => {
      server.off('error', reject)
      resolve({
        member,
        address,
        port: (server.address() as AddressInfo).port,
        close: () => new Promise((done) => { for (const s of sockets) s.destroy(); server.close(() => done()) }),
      })
    })
  })
}
