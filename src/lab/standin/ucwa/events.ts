// UCWA event channels: one held GET (P-GET) per application, answered when an event arrives or its
// timeout passes. Events that arrive while no P-GET is held wait in a small queue, so a client that is
// between two polls does not lose them.
//
// The ack numbers follow the UCWA 2.0 reference, EventChannelDetails.md: the answer to the P-GET with
// ack=N links `self` to ack=N and `next` to ack=N+1, and following `next` acknowledges that answer.
// Until then the server keeps it, so a client whose answer was lost (a proxy cut the connection after
// the server sent it) asks again with the same ack and gets the same events. Any other ack is out of
// order and is answered with a lone `resync` link to the first unacknowledged set ("Special
// responses").

export type ChannelOutcome =
  | { kind: 'events'; ack: number; sender: object[] }
  | { kind: 'resync'; ack: number } // the ack was out of order; `ack` is the one to follow
  | { kind: 'replaced' } // a newer P-GET for the same application took over
  | { kind: 'deleted' } // the application was deleted
  | { kind: 'closed' } // the stand-in is shutting down
  | { kind: 'gone' } // the client went away

export interface HeldGet { outcome: Promise<ChannelOutcome>; timeoutS: number; cancel (): void }

// events_ref.md, the timeout query parameter: "The default value is 180 seconds. The minimum possible
// value is 180 seconds and the maximum possible value is 1800 seconds."
export const EVENT_TIMEOUT_S = { default: 180, min: 180, max: 1800 } as const

export interface PollRequest {
  ack: number
  // The client's timeout parameter, if it gave one; EventChannelDetails.md: the server remembers
  // it for the P-GETs that follow.
  timeoutS?: number
}

interface Waiter { ack: number; timeoutS: number; settle (outcome: ChannelOutcome): void }
interface Channel {
  waiter?: Waiter
  queue: object[]
  // The newest answer, until the client acknowledges it by asking for ack + 1.
  answered: { ack: number; sender: object[] }
  timeoutS: number
}

// Enough for a demo; older events are dropped first if a client stops polling.
const QUEUE_LIMIT = 100

export class EventChannels {
  private readonly channels = new Map<string, Channel>()

  // minTimeoutS is the lab's floor (lab.ucwa.minEventTimeout): the reference's 180 s unless a test
  // lowers it to see an empty answer sooner.
  constructor (private readonly minTimeoutS: number = EVENT_TIMEOUT_S.min) {}

  private channel (appId: string): Channel {
    let ch = this.channels.get(appId)
    if (ch === undefined) {
      // No answer yet: the application's events link is ack=1, as if answer 0 had been acknowledged.
      ch = { queue: [], answered: { ack: 0, sender: [] }, timeoutS: EVENT_TIMEOUT_S.default }
      this.channels.set(appId, ch)
    }
    return ch
  }

  private clamp (seconds: number): number {
    return Math.min(Math.max(seconds, this.minTimeoutS), EVENT_TIMEOUT_S.max)
  }

  hold (appId: string, poll: PollRequest): HeldGet {
    const ch = this.channel(appId)
    if (poll.timeoutS !== undefined) ch.timeoutS = this.clamp(poll.timeoutS)
    const { timeoutS } = ch
    const now = (outcome: ChannelOutcome): HeldGet => ({ outcome: Promise.resolve(outcome), timeoutS, cancel: () => {} })
    const { answered } = ch
    if (poll.ack === answered.ack && answered.sender.length > 0) return now({ kind: 'events', ack: answered.ack, sender: answered.sender })
    if (poll.ack !== answered.ack && poll.ack !== answered.ack + 1) return now({ kind: 'resync', ack: this.nextAck(appId) })
    // Asking for ack + 1 acknowledges the previous answer; asking again for an empty one is the same.
    const deliver = (sender: object[]): ChannelOutcome => {
      ch.answered = { ack: poll.ack, sender }
      return { kind: 'events', ack: poll.ack, sender }
    }
    if (ch.queue.length > 0) return now(deliver(ch.queue.splice(0)))
    // UCWA allows one P-GET per application: the older one is answered 409 PGetReplaced.
    ch.waiter?.settle({ kind: 'replaced' })
    let resolve!: (o: ChannelOutcome) => void
    const outcome = new Promise<ChannelOutcome>((r) => { resolve = r })
    const waiter: Waiter = {
      ack: poll.ack,
      timeoutS,
      settle: (o) => {
        clearTimeout(timer)
        if (ch.waiter === waiter) delete ch.waiter
        resolve(o)
      },
    }
    const timer = setTimeout(() => waiter.settle(deliver([])), timeoutS * 1000)
    ch.waiter = waiter
    // Settling twice is harmless (the promise keeps its first value), so cancel needs no state check.
    return { outcome, timeoutS, cancel: () => { if (ch.waiter === waiter) waiter.settle({ kind: 'gone' }) } }
  }

  // Returns true when a held P-GET was woken, false when the event was queued. Several senders
  // given at once reach the client in one response, in their order.
  publish (appId: string, ...senders: object[]): boolean {
    const ch = this.channel(appId)
    const waiter = ch.waiter
    if (waiter !== undefined) {
      ch.answered = { ack: waiter.ack, sender: senders }
      waiter.settle({ kind: 'events', ack: waiter.ack, sender: senders })
      return true
    }
    ch.queue.push(...senders)
    if (ch.queue.length > QUEUE_LIMIT) ch.queue.splice(0, ch.queue.length - QUEUE_LIMIT)
    return false
  }

  // The ack of the first P-GET a client should send now: the unacknowledged answer's, if it had
  // events, else the next one. The application resource links to it (EventChannelDetails.md: the
  // first P-GET takes its URL from the application).
  nextAck (appId: string): number {
    const answered = this.channels.get(appId)?.answered
    if (answered === undefined) return 1
    return answered.sender.length > 0 ? answered.ack : answered.ack + 1
  }

  drop (appId: string): void {
    this.channels.get(appId)?.waiter?.settle({ kind: 'deleted' })
    this.channels.delete(appId)
  }

  // The timeouts of the P-GETs held right now, one per application.
  heldTimeouts (): number[] {
    const held: number[] = []
    for (const ch of this.channels.values()) if (ch.waiter !== undefined) held.push(ch.waiter.timeoutS)
    return held
  }

  closeAll (): void {
    for (const ch of this.channels.values()) ch.waiter?.settle({ kind: 'closed' })
    this.channels.clear()
  }
}
