// Runs one client connection of a case: writes its bytes as the plan says (split, paced, stopped,
// stalled, half-closed, closed, reset), reads as the plan says (normally, slowly, never, once), and
// waits for the outcome: every request answered, or the connection closed, or the deadline.
import { openRaw, sleep, type RawConnection } from '../helpers/raw-client.js'
import { methodFraming } from './oracle.js'
import { parseResponses } from './responses.js'
import { TIMEOUTS, type ClientPlan, type Segment } from './model.js'

export interface ConnectionRun {
  segments: Segment[]
  plan: ClientPlan
  // Where each segment starts in the connection's bytes.
  starts: number[]
  length: number
  // Bytes the client wrote while the connection was open.
  written: number
  text: string
  // Where each chunk of the answer starts in `text`, and how many bytes the client had written when
  // it arrived: a response that began before a request's head was written cannot be its answer.
  arrivals: Array<{ at: number, written: number }>
  // The connection ended (either side); the client ended it itself.
  ended: boolean
  closedByClient: boolean
  // The proxy ended it: a clean end, or a reset.
  how: RawConnection['how'] | 'refused'
  // The client waited the whole deadline with requests unanswered and the connection still open.
  hung: boolean
  waitedMs: number
}

// How long a correct proxy can take, after the last byte written, to answer or close: the client
// side's request timeout (Node checks it once a second), or the response timeout for a `slow` head
// and again for a `stall`ed body (undici's coarse clock: counted three times over), whichever is
// longer, and a margin that a busy machine needs.
export const OUTCOME_DEADLINE_MS = Math.max(TIMEOUTS.requestS * 1000 + TIMEOUTS.checkIntervalMs, 3 * TIMEOUTS.responseS * 1000) + 5000
// A stall the plan calls 'long': past the headers timeout and Node's check of it.
export const LONG_STALL_MS = TIMEOUTS.headersS * 1000 + TIMEOUTS.checkIntervalMs + 1000

export function stallMs (plan: ClientPlan): number {
  return plan.stallMs === 'long' ? LONG_STALL_MS : plan.stallMs
}

// The responses a waiting client needs before it is done: one per request it finished writing,
// unless one of them must end the connection (then the proxy's close is the end).
function enough (run: ConnectionRun): number {
  let n = 0
  for (let i = 0; i < run.segments.length; i++) {
    const end = run.starts[i]! + run.segments[i]!.bytes.length
    if (end > run.written) return Infinity
    if (run.segments[i]!.closes) return Infinity
    n++
  }
  return n
}

export async function runConnection (port: number, segments: Segment[], plan: ClientPlan): Promise<ConnectionRun> {
  const bytes = segments.map((s) => s.bytes).join('')
  const starts: number[] = []
  let at = 0
  for (const s of segments) { starts.push(at); at += s.bytes.length }
  const run: ConnectionRun = { segments, plan, starts, length: bytes.length, written: 0, text: '', arrivals: [], ended: false, closedByClient: false, how: 'open', hung: false, waitedMs: 0 }
  let c: RawConnection
  try {
    c = await openRaw(port)
  } catch {
    run.how = 'refused'
    run.ended = true
    return run
  }
  const socket = c.socket
  socket.on('data', (d: Buffer) => { run.arrivals.push({ at: c.text.length - d.length, written: run.written }) })
  let slowTimer: NodeJS.Timeout | undefined
  if (plan.read === 'none' || plan.read === 'slow') socket.pause()
  if (plan.read === 'slow') {
    // One read every few ms: the proxy sees a reader that drains its socket buffer slowly.
    slowTimer = setInterval(() => { socket.resume(); setImmediate(() => socket.pause()) }, 4)
  }
  const clientClose = (reset = false): void => {
    if (c.closed) return
    run.closedByClient = true
    if (reset) socket.resetAndDestroy()
    else socket.destroy()
  }
  if (plan.read === 'once') socket.once('data', () => clientClose())

  const stopAt = Math.min(plan.stopAt, bytes.length)
  const writeRange = async (from: number, to: number): Promise<void> => {
    const cuts = [from, ...plan.splits.filter((s) => s > from && s < to), to]
    for (let i = 0; i + 1 < cuts.length; i++) {
      if (c.closed || !socket.writable) return
      c.write(Buffer.from(bytes.slice(cuts[i], cuts[i + 1]), 'latin1'))
      run.written = cuts[i + 1]!
      if (plan.gapMs > 0 && i + 2 < cuts.length) await sleep(plan.gapMs)
    }
  }
  try {
    await writeRange(0, stopAt)
    switch (plan.then) {
      case 'wait': break
      case 'close': clientClose(); break
      case 'reset': clientClose(true); break
      case 'half-close': if (!c.closed) socket.end(); break
      case 'stall-continue':
        await sleep(stallMs(plan))
        await writeRange(stopAt, bytes.length)
        break
      case 'stall-close':
        await sleep(stallMs(plan))
        clientClose()
        break
    }
    if (plan.read === 'none' && !c.closed) {
      // A client that never reads leaves after a while; what it was sent is never looked at.
      await sleep(stallMs(plan))
      clientClose()
    }
    const started = performance.now()
    const deadline = started + OUTCOME_DEADLINE_MS
    const need = enough(run)
    while (!c.closed && performance.now() < deadline) {
      const parsed = parseResponses(c.text, (i, at) => methodFraming(run, i, at), false)
      const done = parsed.responses.filter((r) => r.complete).length
      if (parsed.error !== '' || done >= need) break
      await sleep(5)
    }
    run.waitedMs = performance.now() - started
    if (!c.closed && performance.now() >= deadline && plan.read === 'normal') run.hung = true
  } finally {
    if (slowTimer !== undefined) clearInterval(slowTimer)
    if (!c.closed) {
      // Whatever is on its way in the same turn is part of what the client saw.
      await sleep(5)
      clientClose()
    }
    await c.waitClose(1000)
  }
  run.text = c.text
  run.ended = true
  run.how = c.how
  return run
}
