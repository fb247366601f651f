// Requests waiting for one of a member's maxSockets connections. undici arms its own timers only once
// a request is on a connection, so without this a request queued behind a stuck pool would wait for
// as long as its client does. A request that has waited too long is answered 503 and never sent
// (HAProxy's `timeout queue`).
//
// undici hands a request its connection asynchronously even when one is free, so every request
// passes through here. The waiting requests form a list linked through their own fields, so joining
// and leaving touch two neighbours and allocate nothing: a Set's add and delete on every request
// showed as stalls in the tail latency at a fixed request rate (bench/results/2026-11-22-design-measurements.md).
//
// Each proxy instance has its own list (and count), reached through the pool the request is routed
// to: every pool of one instance's tables holds the same one (proxy-counters.ts).

export interface QueuedRequest {
  // performance.now() when the request joined; 0 while it is not waiting.
  queuedAt: number
  readonly queueLimitMs: number
  previousWaiting: QueuedRequest | undefined
  nextWaiting: QueuedRequest | undefined
  // The exchange's route, whose pool leads to the instance's list.
  readonly state: { readonly route: { readonly pool: WaitingListOwner | undefined } }
  // Answers the client; called once, after the request has left the list.
  expire (): void
}

interface WaitingListOwner {
  readonly counters: { readonly waiting: WaitingRequests }
}

// The limit is enforced to within this much.
const SWEEP_MS = 250

export class WaitingRequests {
  private oldest: QueuedRequest | undefined = undefined
  private newest: QueuedRequest | undefined = undefined
  private sweeper: NodeJS.Timeout | undefined = undefined
  // Requests waiting now: the lyncproxy_upstream_waiting_requests gauge.
  count = 0

  add (request: QueuedRequest): void {
    request.queuedAt = performance.now()
    request.previousWaiting = this.newest
    request.nextWaiting = undefined
    if (this.newest === undefined) this.oldest = request
    else this.newest.nextWaiting = request
    this.newest = request
    this.count++
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS)
      // Waiting requests keep their own sockets open; the sweeper must not keep the process alive.
      this.sweeper.unref()
    }
  }

  // Safe to call for a request that is not waiting.
  remove (request: QueuedRequest): void {
    if (request.queuedAt === 0) return
    request.queuedAt = 0
    const before = request.previousWaiting
    const after = request.nextWaiting
    if (before === undefined) this.oldest = after
    else before.nextWaiting = after
    if (after === undefined) this.newest = before
    else after.previousWaiting = before
    request.previousWaiting = undefined
    request.nextWaiting = undefined
    this.count--
  }

  private sweep (): void {
    const now = performance.now()
    // Limits differ between rules, so a request still within its own limit does not prove that every
    // newer one is: the whole list is checked, and it only holds requests that wait.
    let request = this.oldest
    while (request !== undefined) {
      const next = request.nextWaiting
      if (now - request.queuedAt >= request.queueLimitMs) {
        this.remove(request)
        try { request.expire() } catch { /* one failing answer must not stop the sweep */ }
      }
      request = next
    }
    if (this.count === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }
}

// Only forwarded requests wait, and a forwarded route always has its pool.
export function watchQueued (request: QueuedRequest): void {
  request.state.route.pool?.counters.waiting.add(request)
}

export function unwatchQueued (request: QueuedRequest): void {
  request.state.route.pool?.counters.waiting.remove(request)
}
