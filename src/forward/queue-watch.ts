// Requests waiting for one of a member's maxSockets connections. undici arms its own timers only once
// a request is on a connection, so without this a request queued behind a stuck pool would wait for
// as long as its client does. A request that has waited too long is answered 503 and never sent
// (HAProxy's `timeout queue`).
//
// undici hands a request its connection asynchronously even when one is free, so every request
// passes through the set: one add and one delete, no timer of its own. A single interval timer
// checks the set, and runs only while it is not empty.

export interface QueuedRequest {
  // performance.now() when the request was handed to the dispatcher.
  readonly queuedAt: number
  readonly queueLimitMs: number
  // Answers the client; called once, and the request then leaves the set.
  expire (): void
}

// The limit is enforced to within this much.
const SWEEP_MS = 250

const waiting = new Set<QueuedRequest>()
let sweeper: NodeJS.Timeout | undefined

export function watchQueued (request: QueuedRequest): void {
  waiting.add(request)
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, SWEEP_MS)
    // Waiting requests keep their own sockets open; the sweeper must not keep the process alive.
    sweeper.unref()
  }
}

export function unwatchQueued (request: QueuedRequest): void {
  waiting.delete(request)
}

export function queuedCount (): number {
  return waiting.size
}

function sweep (): void {
  const now = performance.now()
  for (const request of waiting) {
    if (now - request.queuedAt < request.queueLimitMs) continue
    waiting.delete(request)
    try { request.expire() } catch { /* one failing answer must not stop the sweep */ }
  }
  if (waiting.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper)
    sweeper = undefined
  }
}
