// UCWA event channels: one held GET (P-GET) per application, answered when an event arrives or its
// timeout passes. Events that arrive while no P-GET is held wait in a small queue, so a client that is
// between two polls does not lose them.

export type ChannelOutcome =
  | { kind: 'events'; sender: object[] }
  | { kind: 'timeout' }
  | { kind: 'replaced' } // a newer P-GET for the same application took over
  | { kind: 'deleted' } // the application was deleted
  | { kind: 'closed' } // the stand-in is shutting down
  | { kind: 'gone' } // the client went away

export interface HeldGet { outcome: Promise<ChannelOutcome>; cancel (): void }

interface Waiter { settle (outcome: ChannelOutcome): void }
interface Channel { waiter?: Waiter; queue: object[] }

// Enough for a demo; older events are dropped first if a client stops polling.
const QUEUE_LIMIT = 100

export class EventChannels {
  private readonly channels = new Map<string, Channel>()

  private channel (appId: string): Channel {
    let ch = this.channels.get(appId)
    if (ch === undefined) {
      ch = { queue: [] }
      this.channels.set(appId, ch)
    }
    return ch
  }

  hold (appId: string, timeoutMs: number): HeldGet {
    const ch = this.channel(appId)
    if (ch.queue.length > 0) {
      const sender = ch.queue.splice(0)
      return { outcome: Promise.resolve({ kind: 'events', sender }), cancel: () => {} }
    }
    // UCWA allows one P-GET per application: the older one is answered 409 PGetReplaced.
    ch.waiter?.settle({ kind: 'replaced' })
    let resolve!: (o: ChannelOutcome) => void
    const outcome = new Promise<ChannelOutcome>((r) => { resolve = r })
    const waiter: Waiter = {
      settle: (o) => {
        clearTimeout(timer)
        if (ch.waiter === waiter) delete ch.waiter
        resolve(o)
      },
    }
    const timer = setTimeout(() => waiter.settle({ kind: 'timeout' }), timeoutMs)
    ch.waiter = waiter
    // Settling twice is harmless (the promise keeps its first value), so cancel needs no state check.
    return { outcome, cancel: () => { if (ch.waiter === waiter) waiter.settle({ kind: 'gone' }) } }
  }

  // Returns true when a held P-GET was woken, false when the event was queued. Several senders
  // given at once reach the client in one response, in their order.
  publish (appId: string, ...senders: object[]): boolean {
    const ch = this.channel(appId)
    if (ch.waiter !== undefined) {
      ch.waiter.settle({ kind: 'events', sender: senders })
      return true
    }
    ch.queue.push(...senders)
    if (ch.queue.length > QUEUE_LIMIT) ch.queue.splice(0, ch.queue.length - QUEUE_LIMIT)
    return false
  }

  drop (appId: string): void {
    this.channels.get(appId)?.waiter?.settle({ kind: 'deleted' })
    this.channels.delete(appId)
  }

  // How many P-GETs are held right now; tests and the lab status use it.
  get held (): number {
    let n = 0
    for (const ch of this.channels.values()) if (ch.waiter !== undefined) n++
    return n
  }

  closeAll (): void {
    for (const ch of this.channels.values()) ch.waiter?.settle({ kind: 'closed' })
    this.channels.clear()
  }
}
