// The process logger: JSON lines, one write per event-loop turn, pretty when a person watches a
// terminal.
import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'
import { isoTimeField } from './log-time.js'
import { TurnBatchedDestination, type SyncCapableDestination } from './turn-batched-destination.js'

export type { Logger }

export interface LoggerOptions {
  level: string
  pretty?: boolean
  // A file to append to instead of stdout.
  file?: string
}

export function createLogger (options: LoggerOptions): Logger {
  const base = { level: options.level, base: { pid: process.pid }, timestamp: isoTimeField }
  // A file takes each turn's lines in one synchronous write, as nginx writes its access log: the
  // write lands in the page cache, and an asynchronous one costs a thread-pool round trip per turn.
  // Measured on the benchmark machine (GET through the proxy, log file /dev/null), synchronous
  // writes cost less CPU per request both at saturation and at an even rate, where every request is
  // a turn of its own (bench/results/2026-11-22-design-measurements.md).
  if (options.file !== undefined) return pino(base, new TurnBatchedDestination(byteDestination({ dest: options.file, sync: true, mkdir: true })))
  if (options.pretty ?? process.stdout.isTTY === true) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  // A terminal or a pipe may be slow to read, so stdout is written asynchronously; one write per
  // event-loop turn keeps the queue short under overload (see turn-batched-destination.ts).
  return pino(base, new TurnBatchedDestination(byteDestination({ dest: 1, sync: false })))
}

// sonic-boom in its 'buffer' content mode, which writes the Buffers it is handed as they are. Its type
// declarations know only the string-taking write of the default mode.
function byteDestination (options: { dest: string | number, sync: boolean, mkdir?: boolean }): SyncCapableDestination {
  return pino.destination({ ...options, contentMode: 'buffer' }) as unknown as SyncCapableDestination
}
