// Idle long polls, as UCWA event channels make them: each client connection sends one GET for the
// events resource and waits; the backend holds it. Opened in batches so that no accept queue
// overflows, counted while they are held, closed all at once at the end.
import net from 'node:net'
import tls from 'node:tls'
import { PUBLIC_NAME } from './peers.js'

export interface LongPollSet {
  readonly opened: number
  // Connections that received anything (a response means the poll was not held).
  readonly answered: number
  // Connections that failed or were closed by the other side while held.
  readonly lost: number
  readonly firstError: string | undefined
  close: () => Promise<void>
}

export interface LongPollOptions {
  port: number
  tls: boolean
  count: number
  batch?: number
}

export async function openLongPolls (o: LongPollOptions): Promise<LongPollSet> {
  const sockets: net.Socket[] = []
  const state = { opened: 0, answered: 0, lost: 0, closing: false, firstError: undefined as string | undefined }
  let session: Buffer | undefined
  const batch = o.batch ?? 200
  const openOne = (i: number): Promise<void> => new Promise((resolve) => {
    const request = `GET /ucwa/oauth/v1/applications/10${i}/events?ack=1&timeout=900 HTTP/1.1\r\nHost: ${PUBLIC_NAME}\r\nAccept: application/json\r\nUser-Agent: UCWA/bench\r\n\r\n`
    const onReady = (): void => { socket.setTimeout(0); state.opened++; socket.write(request); resolve() }
    const socket: net.Socket = o.tls
      ? tls.connect({ host: '127.0.0.1', port: o.port, servername: PUBLIC_NAME, rejectUnauthorized: false, session, ALPNProtocols: ['http/1.1'] }, onReady)
      : net.connect({ host: '127.0.0.1', port: o.port }, onReady)
    // A proxy whose accept queue is full leaves the SYN unanswered: give up rather than wait for ever.
    socket.setTimeout(15_000, () => socket.destroy(new Error('connect timed out')))
    if (o.tls) socket.on('session', (s: Buffer) => { session ??= s })
    let answered = false
    socket.on('data', () => { if (!answered) { answered = true; state.answered++ } })
    socket.on('error', (err) => {
      state.firstError ??= err.message
      resolve()
    })
    socket.on('close', () => { if (!state.closing) state.lost++ })
    sockets.push(socket)
  })
  for (let i = 0; i < o.count; i += batch) {
    const wave: Promise<void>[] = []
    for (let j = i; j < Math.min(o.count, i + batch); j++) wave.push(openOne(j))
    await Promise.all(wave)
  }
  return {
    get opened () { return state.opened },
    get answered () { return state.answered },
    get lost () { return state.lost },
    get firstError () { return state.firstError },
    close: async () => {
      state.closing = true
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => setImmediate(resolve))
    },
  }
}
