// Requests waiting for one of a member's maxSockets connections. undici arms its own timers only once
// a request is on a connection, so without this a request queued behind a stuck pool would wait for
// as long as its client does. A request that has waited too long is answered 503 and never sent
// (HAProxy's `timeout queue`).
//
// undici hands a request its connection asynchronously even when one is free, so every request
// passes through here. The waiting requests form a list linked through their own fields: joining
// and leaving touch two neighbours and allocate nothing. A Set did the same job, but its add and
// delete on every request brought stalls of ~25 ms into the p99.9 of an even 2,000 req/s (the load
// of bench scenario f); with the list they are gone (A/B, 3 rounds each).

export interface QueuedRequest {
  // performance.now() when the request joined; 0 while it is not waiting.
  queuedAt: number
  readonly queueLimitMs: number
  previousWaiting: QueuedRequest | undefined
  nextWaiting: QueuedRequest | undefined
  // Answers the client; called once, after the request has left the list.
  expire (): void
}

// The limit is enforced to within this much.
const SWEEP_MS = 250

let oldest: QueuedRequest | undefined
let newest: QueuedRequest | undefined
let count = 0
let sweeper: NodeJS.Timeout | undefined

export function watchQueued (request: QueuedRequest): void {
  request.queuedAt = performance.now()
  request.previousWaiting = newest
  request.nextWaiting = undefined
  if (newest === undefined) oldest = request
  else newest.nextWaiting = request
  newest = request
  count++
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, SWEEP_MS)
    // Waiting requests keep their own sockets open; the sweeper must not keep the process alive.
    sweeper.unref()
  }
}

// Safe to call for a request that is not waiting.
export function unwatchQueued (request: QueuedRequest): void {
  if (request.queuedAt === 0) return
  request.queuedAt = 0
  const before = request.previousWaiting
  const after = request.nextWaiting
  if (before === undefined) oldest = after
  else before.nextWaiting = after
  if (after === undefined) newest = before
  else after.previousWaiting = before
  request.previousWaiting = undefined
  request.nextWaiting = undefined
  count--
}

export function queuedCount (): number {
  return count
}

function sweep (): void {
  const now = performance.now()
  // Limits differ between rules, so a request still within its own limit does not prove that every
  // newer one is: the whole list is checked, and it only holds requests that wait.
  let request = oldest
  while (request !== undefined) {
    const next = request.nextWaiting
    if (now - request.queuedAt >= request.queueLimitMs) {
      unwatchQueued(request)
      try { request.expire() } catch { /* one failing answer must not stop the sweep */ }
    }
    request = next
  }
  if (count === 0 && sweeper !== undefined) {
    clearInterval(sweeper)
    sweeper = undefined
  }
}
