// The live flow feed: exchange records as Server-Sent Events. Each client has a bounded queue; a
// client that reads too slowly loses the oldest records (and is told how many) instead of making
// the proxy buffer without limit. Nothing is built per exchange unless a client is connected: the
// recent history keeps references to the records, and JSON is made when a record is written.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Exchange, ExchangeBus } from '../observe/exchange.js'
import { flowRecord, type RecordContext } from './flow-record.js'

export interface FlowFeedOptions {
  // Records replayed to a client when it connects, so the page is not empty.
  history?: number
  // Records a slow client may have waiting before the oldest are dropped.
  perClient?: number
  heartbeatMs?: number
  onDrop?: (count: number) => void
  // What the records say of the proxy (its listeners' ports, its Via pseudonym).
  context?: RecordContext
}

export interface FlowFeed {
  attach (req: IncomingMessage, res: ServerResponse): void
  // The kept history, oldest first (what a connecting client is replayed, and the HAR export).
  recent (): Exchange[]
  clients (): number
  close (): void
}

interface Client {
  res: ServerResponse
  queue: Exchange[]
  blocked: boolean
  dropped: number
}

export function createFlowFeed (bus: ExchangeBus, options: FlowFeedOptions = {}): FlowFeed {
  // Kept small on purpose: every record in the history outlives the young generation, so a longer
  // one promotes each exchange's objects into the old generation and costs collections on every
  // request, feed client or not (bench/results/2026-11-22-design-measurements.md).
  const historySize = options.history ?? 50
  const perClient = options.perClient ?? 256
  const history: Array<Exchange | undefined> = new Array(historySize)
  let next = 0
  const clients = new Set<Client>()

  const detach = bus.subscribe((ex) => {
    if (historySize > 0) {
      history[next] = ex
      next = (next + 1) % historySize
    }
    for (const client of clients) offer(client, ex)
  })

  function recent (): Exchange[] {
    const out: Exchange[] = []
    for (let i = 0; i < historySize; i++) {
      const ex = history[(next + i) % historySize]
      if (ex !== undefined) out.push(ex)
    }
    return out
  }

  function offer (client: Client, ex: Exchange): void {
    if (!client.blocked) { send(client, ex); return }
    if (client.queue.length >= perClient) {
      client.queue.shift()
      client.dropped++
      options.onDrop?.(1)
    }
    client.queue.push(ex)
  }

  function send (client: Client, ex: Exchange): void {
    const ok = client.res.write(`id: ${ex.id}\nevent: exchange\ndata: ${JSON.stringify(flowRecord(ex, options.context))}\n\n`)
    if (!ok) {
      client.blocked = true
      client.res.once('drain', () => flush(client))
    }
  }

  function flush (client: Client): void {
    client.blocked = false
    if (client.dropped > 0) {
      client.res.write(`event: dropped\ndata: {"dropped":${client.dropped}}\n\n`)
      client.dropped = 0
    }
    while (!client.blocked && client.queue.length > 0) send(client, client.queue.shift()!)
  }

  // Comments keep idle connections open through proxies and let a dead client surface as an error.
  const heartbeat = setInterval(() => { for (const c of clients) if (!c.blocked) c.res.write(': ping\n\n') }, options.heartbeatMs ?? 15_000)
  heartbeat.unref()

  return {
    attach (req, res) {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      })
      res.write('retry: 2000\n\n')
      const client: Client = { res, queue: [], blocked: false, dropped: 0 }
      for (const ex of recent()) offer(client, ex)
      clients.add(client)
      const gone = (): void => { clients.delete(client) }
      req.socket.setKeepAlive(true)
      res.on('close', gone)
      res.on('error', gone)
    },
    recent,
    clients: () => clients.size,
    close () {
      detach()
      clearInterval(heartbeat)
      for (const c of clients) c.res.end()
      clients.clear()
    },
  }
}
