// Requests from the primary to one worker and their replies. Each request has a deadline, and a
// worker that exits fails what it had not answered: an admin request must never wait on a dead
// process.
import type { Worker } from 'node:cluster'
import type { OpName, OpResults, PrimaryMessage, WorkerMessage, WorkerOp } from './protocol.js'

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class WorkerChannel {
  private next = 1
  private readonly pending = new Map<number, Pending>()
  private closed: string | undefined

  constructor (private readonly worker: Worker, private readonly label: string) {}

  call<N extends OpName> (op: Extract<WorkerOp, { name: N }>, timeoutMs: number): Promise<OpResults[N]> {
    if (this.closed !== undefined) return Promise.reject(new Error(`${this.label}: ${this.closed}`))
    const id = this.next++
    return new Promise<OpResults[N]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.label} did not answer '${op.name}' within ${timeoutMs / 1000} s`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer })
      const message: PrimaryMessage = { lyncproxy: 'request', id, op }
      try {
        this.worker.send(message, (err: Error | null) => { if (err !== null) this.settle(id, undefined, err) })
      } catch (err) {
        this.settle(id, undefined, err as Error)
      }
    })
  }

  handle (reply: Extract<WorkerMessage, { lyncproxy: 'reply' }>): void {
    if (reply.ok) this.settle(reply.id, reply.value)
    else this.settle(reply.id, undefined, new Error(reply.error))
  }

  close (reason: string): void {
    this.closed = reason
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, new Error(`${this.label}: ${reason}`))
  }

  private settle (id: number, value: unknown, err?: Error): void {
    const p = this.pending.get(id)
    if (p === undefined) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    if (err === undefined) p.resolve(value)
    else p.reject(err)
  }
}
