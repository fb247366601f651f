// Faults injected on purpose (rules.<name>.fault), the way Envoy's fault filter injects them: a
// client developer turns them on to see what a Lync client does behind a proxy that delays, refuses,
// resets, stalls, truncates or cuts a long poll. They act only on requests that were about to be
// forwarded, after every check the edge makes, so a fault never lets through what a rule would
// refuse. Nothing here runs for a rule without a fault: the edge compares route.fault once.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Exchange } from '../observe/exchange.js'
import { failureOf, InjectedFaults } from '../respond/failure.js'
import { refuseRawSocket, sendFailure } from '../respond/local-response.js'
import type { InjectedFault, Route } from '../routing/table.js'

type Write = (chunk: unknown, ...rest: unknown[]) => boolean
type End = (...args: unknown[]) => ServerResponse

// Runs `forward` as the fault allows: at once, later, or never.
export function injectFault (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, fault: InjectedFault, forward: () => void): void {
  if (fault.percent < 100 && Math.random() * 100 >= fault.percent) { forward(); return }
  if (fault.delayMs === 0) { act(ex, req, res, route, fault, forward); return }
  const timer = setTimeout(() => { if (!res.destroyed) act(ex, req, res, route, fault, forward) }, fault.delayMs)
  res.once('close', () => { clearTimeout(timer) })
}

function act (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, fault: InjectedFault, forward: () => void): void {
  if (fault.reset) {
    ex.error = InjectedFaults.reset.code
    ex.aborted = true
    req.socket.destroy()
    return
  }
  if (fault.stall) {
    // The request is read and dropped, so the client's body is not what holds it: it waits for
    // an answer that never comes, until it gives up or the proxy shuts down.
    ex.error = InjectedFaults.stall.code
    req.resume()
    return
  }
  if (fault.abortStatus !== 0) {
    ex.error = InjectedFaults.abort.code
    req.resume()
    sendFailure(res, failureOf({ status: fault.abortStatus, code: InjectedFaults.abort.code }, InjectedFaults.abort.reason), route)
    return
  }
  if (fault.truncateAfter >= 0) truncateAfter(ex, res, fault.truncateAfter)
  if (fault.cutAfterMs > 0) cutAfter(ex, res, fault.cutAfterMs)
  forward()
}

// Lets `limit` bytes of the response body through, then closes the connection: the client sees a
// body that breaks off, as behind a proxy that drops a connection mid-response.
function truncateAfter (ex: Exchange, res: ServerResponse, limit: number): void {
  let sent = 0
  let cutting = false
  const write = res.write.bind(res) as Write
  const end = res.end.bind(res) as End
  // The allowed bytes (and the head) must reach the client before the connection goes: destroying
  // at once would drop what is still buffered, so the cut waits for the last write to flush.
  const cut = (last: Buffer): void => {
    cutting = true
    ex.error = InjectedFaults.truncated.code
    ex.aborted = true
    write(last, () => { res.destroy() })
  }
  // Writes the part of `chunk` that fits; false once the limit is reached (and the cut begun).
  const pass = (chunk: unknown, encoding: unknown): boolean => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return true
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8') : Buffer.from(chunk as Uint8Array)
    if (sent + bytes.length <= limit) {
      sent += bytes.length
      if (bytes.length > 0) write(bytes)
      return true
    }
    const last = bytes.subarray(0, limit - sent)
    sent = limit
    cut(last)
    return false
  }
  ;(res as unknown as { write: Write }).write = (chunk, encoding) => {
    if (cutting || res.destroyed) return false
    return pass(chunk, encoding) && !res.writableNeedDrain
  }
  ;(res as unknown as { end: End }).end = (chunk?: unknown, encoding?: unknown) => {
    if (!cutting && !res.destroyed && pass(chunk, encoding)) end()
    return res
  }
}

// Closes the connection `ms` after the request arrived unless the response has ended by then.
function cutAfter (ex: Exchange, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (res.writableFinished || res.destroyed) return
    ex.error = InjectedFaults.cut.code
    ex.aborted = true
    res.destroy()
  }, ms)
  res.once('close', () => { clearTimeout(timer) })
}

// The same faults on a WebSocket upgrade, which has the client's socket and no response object.
// delay, reset, stall and abort act before the upgrade goes upstream; cutAfter closes the tunnel
// that long after the upgrade arrived; truncateAfter lets that many bytes after the answer's head
// reach the client (the 101's frames, or a refusal's body), then closes. `done` records the
// exchange (once) where the tunnel would have.
export function injectUpgradeFault (ex: Exchange, socket: Socket, route: Route, fault: InjectedFault, forward: () => void, done: () => void): void {
  if (fault.percent < 100 && Math.random() * 100 >= fault.percent) { forward(); return }
  if (fault.delayMs === 0) { actOnUpgrade(ex, socket, route, fault, forward, done); return }
  let acted = false
  const timer = setTimeout(() => {
    // A socket destroyed in this turn has its 'close' still to come, which records the exchange.
    if (socket.destroyed) return
    acted = true
    // Outside onUpgrade's guard now: what throws here must still end the exchange, not the process.
    try {
      actOnUpgrade(ex, socket, route, fault, forward, done)
    } catch {
      ex.error ||= 'internal_error'
      socket.destroy()
      done()
    }
  }, fault.delayMs)
  // A client that leaves during the delay ends the exchange here: nothing else holds it yet.
  socket.once('close', () => {
    clearTimeout(timer)
    if (acted) return
    ex.aborted = true
    done()
  })
}

function actOnUpgrade (ex: Exchange, socket: Socket, route: Route, fault: InjectedFault, forward: () => void, done: () => void): void {
  if (fault.reset) {
    ex.error = InjectedFaults.reset.code
    ex.aborted = true
    if ((socket as TLSSocket).encrypted === true) socket.destroy()
    else socket.resetAndDestroy()
    done()
    return
  }
  if (fault.stall) {
    // The client's bytes are read and dropped; once it ends its side, the connection goes (an
    // upgraded socket is half-open, and nothing else would close it).
    ex.error = InjectedFaults.stall.code
    socket.resume()
    socket.once('end', () => { socket.destroy() })
    socket.once('close', done)
    return
  }
  if (fault.abortStatus !== 0) {
    refuseRawSocket(socket, ex, failureOf({ status: fault.abortStatus, code: InjectedFaults.abort.code }, InjectedFaults.abort.reason), route, done)
    return
  }
  if (fault.truncateAfter >= 0) truncateTunnel(ex, socket, fault.truncateAfter)
  if (fault.cutAfterMs > 0) {
    const timer = setTimeout(() => {
      if (socket.destroyed) return
      ex.error = InjectedFaults.cut.code
      ex.aborted = true
      socket.destroy()
    }, fault.cutAfterMs)
    socket.once('close', () => { clearTimeout(timer) })
  }
  forward()
}

// The tunnel writes the answer's head in one write, then relays; the bytes after it are counted.
// The first byte past the limit cuts the connection, once what was allowed has been flushed.
function truncateTunnel (ex: Exchange, socket: Socket, limit: number): void {
  const write = socket.write.bind(socket) as Write
  let head = true
  let sent = 0
  let cutting = false
  ;(socket as unknown as { write: Write }).write = (chunk, ...rest) => {
    if (head) {
      head = false
      return write(chunk, ...rest)
    }
    if (cutting || socket.destroyed) return false
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array)
    if (sent + bytes.length <= limit) {
      sent += bytes.length
      return write(bytes)
    }
    cutting = true
    ex.error = InjectedFaults.truncated.code
    ex.aborted = true
    write(bytes.subarray(0, limit - sent), () => { socket.destroy() })
    sent = limit
    return false
  }
}
