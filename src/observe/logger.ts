// The process logger: JSON lines written asynchronously, pretty when a person watches a terminal.
import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'
import { isoTimeField } from './log-time.js'
import { TurnBatchedDestination } from './turn-batched-destination.js'

export type { Logger }

export interface LoggerOptions {
  level: string
  pretty?: boolean
  // A file to append to instead of stdout.
  file?: string
}

export function createLogger (options: LoggerOptions): Logger {
  const base = { level: options.level, base: { pid: process.pid }, timestamp: isoTimeField }
  if (options.file !== undefined) return pino(base, new TurnBatchedDestination(pino.destination({ dest: options.file, sync: false, mkdir: true })))
  if (options.pretty ?? process.stdout.isTTY === true) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  // Asynchronous writes keep the request path off the terminal's or pipe's pace; one write per
  // event-loop turn keeps the queue short under overload (see turn-batched-destination.ts).
  return pino(base, new TurnBatchedDestination(pino.destination({ dest: 1, sync: false })))
}
