// The long-poll clients of scenario e, in a process of their own: thousands of idle TLS sockets
// would otherwise weigh on the harness's heap and garbage collector, and so on the latencies that
// its load generator measures beside them. Driven over IPC: it opens the connections, each sends
// one GET for a UCWA events resource, and reports; 'status' asks again; 'close' ends them all.
import net from 'node:net'
import tls from 'node:tls'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    count: { type: 'string' },
    host: { type: 'string', default: 'webext.contoso.com' },
    tls: { type: 'boolean', default: false },
    batch: { type: 'string', default: '200' },
  },
})

const port = Number(values.port)
const count = Number(values.count)
const batch = Number(values.batch)
const host = values.host
const sockets: net.Socket[] = []
const state = { opened: 0, answered: 0, lost: 0, closing: false, firstError: null as string | null }
let session: Buffer | undefined

function status (): object {
  return { opened: state.opened, answered: state.answered, lost: state.lost, firstError: state.firstError }
}

function openOne (i: number): Promise<void> {
  return new Promise((resolve) => {
    const request = `GET /ucwa/oauth/v1/applications/10${i}/events?ack=1&timeout=900 HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nUser-Agent: UCWA/bench\r\n\r\n`
    const onReady = (): void => { socket.setTimeout(0); state.opened++; socket.write(request); resolve() }
    const socket: net.Socket = values.tls
      ? tls.connect({ host: '127.0.0.1', port, servername: host, rejectUnauthorized: false, session, ALPNProtocols: ['http/1.1'] }, onReady)
      : net.connect({ host: '127.0.0.1', port }, onReady)
    // A proxy whose accept queue is full leaves the SYN unanswered: give up rather than wait for ever.
    socket.setTimeout(15_000, () => socket.destroy(new Error('connect timed out')))
    if (values.tls) socket.on('session', (s: Buffer) => { session ??= s })
    let answered = false
    socket.on('data', () => { if (!answered) { answered = true; state.answered++ } })
    socket.on('error', (err) => { state.firstError ??= err.message; resolve() })
    socket.on('close', () => { if (!state.closing) state.lost++ })
    sockets.push(socket)
  })
}

async function open (): Promise<void> {
  for (let i = 0; i < count; i += batch) {
    const wave: Promise<void>[] = []
    for (let j = i; j < Math.min(count, i + batch); j++) wave.push(openOne(j))
    await Promise.all(wave)
  }
  process.send!({ type: 'opened', ...status() })
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'status') process.send!({ type: 'status', ...status() })
  if (m.type === 'close') {
    state.closing = true
    for (const s of sockets) s.destroy()
    setImmediate(() => process.send!({ type: 'closed', ...status() }, () => process.exit(0)))
  }
})
process.on('disconnect', () => process.exit(0))
// Orphaned (the harness was killed outright): nothing is left to serve.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
void open()
