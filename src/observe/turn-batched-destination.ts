// Hands the log lines of one event-loop turn to the destination as a single write.
//
// Why: sonic-boom (pino's asynchronous destination) measures the byte length of its pending chunk
// on every write, and sends one chunk per completed fs.write, whose callback comes back once per
// event-loop turn. Under saturation (bench scenario d's client connections, long turns) the access
// log's line-per-request writes outran it: a heap snapshot held the queued lines, and the queue
// grows for as long as the overload lasts (bench/results/2026-11-22-design-measurements.md). One write per turn keeps the queue at one turn's
// lines, and the byte length is measured once per turn instead of once per line. A log file is
// written synchronously (logger.ts); there it makes one system call per turn instead of one per line.
//
// The turn's lines go over as one Buffer, encoded once. Handed a string, sonic-boom measures its byte
// length, has it encoded by the write, then encodes it again to learn what is left after a write
// (releaseWritingBuf): three passes where one does. The destination is opened in its 'buffer' content
// mode (logger.ts), so the bytes are written as they are.
//
// Every line of the logger passes through here, so the order of lines is the order of the calls.

export interface SyncCapableDestination {
  write (chunk: Buffer): unknown
  flush (cb?: (err?: Error) => void): void
  flushSync (): void
}

export class TurnBatchedDestination {
  private pending = ''
  private scheduled = false
  private readonly dest: SyncCapableDestination

  constructor (dest: SyncCapableDestination) {
    this.dest = dest
    // A process that exits right after logging must not lose the turn's lines; pino's own exit
    // hook may already have flushed the destination, so this one hands over and flushes again.
    process.once('exit', () => {
      this.drain()
      try { this.dest.flushSync() } catch { /* destination closed or not open yet: nothing to save */ }
    })
  }

  write (line: string): boolean {
    this.pending += line
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
    return true
  }

  // pino's logger.flush(cb) calls this.
  flush (cb?: (err?: Error) => void): void {
    this.drain()
    this.dest.flush(cb)
  }

  flushSync (): void {
    this.drain()
    this.dest.flushSync()
  }

  private readonly drain = (): void => {
    this.scheduled = false
    if (this.pending === '') return
    const lines = this.pending
    this.pending = ''
    this.dest.write(Buffer.from(lines, 'utf8'))
  }
}
