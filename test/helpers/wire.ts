// Exact request bytes over plain TCP or TLS, and everything the server answered, with how the
// connection ended: closed by the server, reset, or left open until `idleMs` passed quietly. Unlike
// rawExchange it never rejects once connected, so a reset after a partial answer still shows the bytes.
import net from 'node:net'
import tls from 'node:tls'

export interface WireResult {
  bytes: string
  ended: 'close' | 'error' | 'idle'
}

export interface WireOptions {
  tls?: { ca: string, servername: string }
  idleMs?: number
}

export function wireExchange (port: number, bytes: string | Buffer, o: WireOptions = {}): Promise<WireResult> {
  return new Promise((resolve, reject) => {
    const idleMs = o.idleMs ?? 500
    const socket = o.tls === undefined
      ? net.connect(port, '127.0.0.1')
      : tls.connect({ port, host: '127.0.0.1', ca: o.tls.ca, servername: o.tls.servername })
    const chunks: Buffer[] = []
    let connected = false
    let ended: WireResult['ended'] = 'close'
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => { ended = 'idle'; socket.destroy() }, idleMs)
    }
    socket.once(o.tls === undefined ? 'connect' : 'secureConnect', () => {
      connected = true
      arm()
      socket.write(bytes)
    })
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      arm()
    })
    socket.on('error', (err) => {
      if (!connected) { clearTimeout(timer); reject(err); return }
      ended = 'error'
    })
    socket.on('close', () => {
      clearTimeout(timer)
      if (connected) resolve({ bytes: Buffer.concat(chunks).toString('latin1'), ended })
    })
  })
}

// Splits an HTTP/1.1 response into status, header lines (as sent) and the bytes after the head.
export function parseResponseHead (bytes: string): { status: number, lines: string[], body: string } {
  const end = bytes.indexOf('\r\n\r\n')
  const head = end < 0 ? bytes : bytes.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  return { status: Number(statusLine.split(' ')[1] ?? 0), lines, body: end < 0 ? '' : bytes.slice(end + 4) }
}

// The header lines named `name` (case-insensitive), values as sent.
export function headerValues (lines: string[], name: string): string[] {
  const lower = name.toLowerCase() + ':'
  return lines.filter((l) => l.toLowerCase().startsWith(lower)).map((l) => l.slice(lower.length).trim())
}
