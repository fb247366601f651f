// A client connection driven byte by byte: the test writes when it wants (a head now, the body after
// a 100 Continue, one header byte every 200 ms) and waits for patterns in what came back, with the
// time each piece arrived and how the connection ended. It never throws once connected: a reset is
// an outcome to assert on, not a test failure.
import net from 'node:net'
import tls from 'node:tls'

export interface RawConnectOptions {
  tls?: { ca: string, servername: string }
}

export class RawConnection {
  readonly socket: net.Socket
  // Everything received so far, as latin1 text.
  text = ''
  // When each piece arrived (performance.now()) and where it starts in `text`.
  readonly arrivals: Array<{ at: number, offset: number }> = []
  // 'open' until the connection ends: 'end' (the peer closed cleanly), 'error' (reset), 'close'.
  how: 'open' | 'end' | 'error' | 'close' = 'open'
  errorCode = ''
  closedAt = 0
  readonly openedAt = performance.now()
  private waiters: Array<() => void> = []

  constructor (socket: net.Socket) {
    this.socket = socket
    socket.on('data', (c: Buffer) => {
      this.arrivals.push({ at: performance.now(), offset: this.text.length })
      this.text += c.toString('latin1')
      this.notify()
    })
    socket.on('end', () => { if (this.how === 'open') this.how = 'end' })
    socket.on('error', (err: NodeJS.ErrnoException) => { this.errorCode = err.code ?? err.message; if (this.how === 'open') this.how = 'error' })
    socket.on('close', () => {
      if (this.how === 'open') this.how = 'close'
      this.closedAt = performance.now()
      this.notify()
    })
  }

  get closed (): boolean {
    return this.closedAt !== 0
  }

  // Writes unless the connection is gone; returns whether it could.
  write (bytes: string | Buffer): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false
    this.socket.write(bytes)
    return true
  }

  // The time the first match of `pattern` arrived (performance.now()), or undefined when the
  // connection closed or `ms` passed first.
  async waitFor (pattern: RegExp | string, ms = 5000): Promise<number | undefined> {
    const end = performance.now() + ms
    for (;;) {
      const at = typeof pattern === 'string' ? this.text.indexOf(pattern) : (pattern.exec(this.text)?.index ?? -1)
      if (at >= 0) return this.arrivalOf(at)
      if (this.closed || performance.now() > end) return undefined
      await this.nextEvent(end)
    }
  }

  // Whether the connection closed within `ms`.
  async waitClose (ms = 5000): Promise<boolean> {
    const end = performance.now() + ms
    while (!this.closed && performance.now() < end) await this.nextEvent(end)
    return this.closed
  }

  destroy (): void {
    this.socket.destroy()
  }

  private arrivalOf (offset: number): number {
    let at = 0
    for (const a of this.arrivals) {
      if (a.offset > offset) break
      at = a.at
    }
    return at
  }

  private nextEvent (end: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, Math.min(100, end - performance.now())))
      this.waiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  private notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

// Connects (and completes the TLS handshake when asked); rejects only if that fails.
export function openRaw (port: number, o: RawConnectOptions = {}): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = o.tls === undefined
      ? net.connect(port, '127.0.0.1')
      : tls.connect({ port, host: '127.0.0.1', ca: o.tls.ca, servername: o.tls.servername })
    const conn = new RawConnection(socket)
    const onError = (err: Error): void => reject(err)
    socket.once('error', onError)
    socket.once(o.tls === undefined ? 'connect' : 'secureConnect', () => {
      socket.off('error', onError)
      resolve(conn)
    })
  })
}

// The status codes of the responses in `text`, in order. A status line may follow a body directly,
// so this is a plain search: tests keep their bodies free of anything that looks like one.
export function statusCodes (text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]))
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
