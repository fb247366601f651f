// What `start` and `lab` share once the proxy runs: signals. SIGHUP reloads the config file (a bad
// file leaves the running table in place), SIGTERM and SIGINT stop accepting, let requests in
// flight finish for a while, and exit 0. The console's `reload` and `stop` do the same.
import type { RunningProxy } from '../control/proxy.js'
import { readConsoleCommands } from '../control/console-commands.js'
import { createReloader } from '../control/reload.js'
import type { Logger } from '../observe/logger.js'

// How long requests in flight may take to finish after SIGTERM before the process exits anyway.
export const DEFAULT_GRACE_MS = 10_000

interface CommonSignalOptions {
  file: string
  logger: Logger
  // Given the grace the log line announces, so that what it says is what happens.
  close: (graceMs: number) => Promise<void>
  graceMs?: number
  // Where console commands are read from (control/console-commands.ts), when they are.
  console?: NodeJS.ReadableStream
}

// SIGHUP reloads through `reload` when given: the admin plane's reload takes the same path as
// POST /api/reload (one queue, one log line, one metric), and a cluster primary's reaches every
// worker. Without it, `proxy` reloads from the file through the same reloader, without the metric.
export type SignalOptions = CommonSignalOptions & (
  | { reload: () => Promise<unknown>, proxy?: RunningProxy }
  | { reload?: undefined, proxy: RunningProxy }
)

export function handleSignals ({ file, logger, proxy, close, graceMs = DEFAULT_GRACE_MS, reload, console: input }: SignalOptions): void {
  const onHangup = reload ?? (proxy === undefined ? undefined : createReloader({ file, proxy, logger, env: process.env }))
  process.on('SIGHUP', () => { void onHangup?.() })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info(`${signal}: closing listeners, finishing requests in flight (up to ${graceMs / 1000} s)`)
    const hard = setTimeout(() => process.exit(0), graceMs + 2000)
    hard.unref()
    close(graceMs).then(() => { logger.flush(); process.exit(0) }, () => process.exit(1))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  if (input !== undefined) readConsoleCommands(input, { reload: () => { void onHangup?.() }, stop: () => stop('console stop') }, logger)
}
