// The access log: one JSON line per exchange, read from the exchange record. The line is the one
// pino would write (its level number, its time format, the logger's bindings, `msg` last), but it is
// assembled here in one template: the fields are fixed and known, so pino's generic serializer, which
// walks an object per request, was one of the largest items of the request path in the benchmark's
// CPU profile. The profile with this module is in bench/results/2026-11-22-amd-epyc-2c.md ("Where
// lyncproxy spends its time").
// It goes to the logger's own destination, so ordering and asynchronous writes stay pino's.
import pino, { type Logger } from 'pino'
import type { Exchange, ExchangeBus } from './exchange.js'

interface PinoInternals {
  [pino.symbols.streamSym]: { write: (line: string) => unknown }
  [pino.symbols.chindingsSym]: string
  [pino.symbols.timeSym]: () => string
}

export function attachAccessLog (bus: ExchangeBus, logger: Logger): () => void {
  const log = logger.child({ kind: 'exchange' })
  const internals = log as unknown as PinoInternals
  const stream = internals[pino.symbols.streamSym]
  // ',"pid":…,"kind":"exchange"': the base and child bindings, already serialized by pino.
  const bindings = internals[pino.symbols.chindingsSym]
  const info = log.levels.values.info!
  const warn = log.levels.values.warn!
  return bus.subscribe((ex: Exchange) => {
    const level = ex.status >= 500 || ex.aborted ? warn : info
    if (level < log.levelVal) return
    stream.write(accessLine(ex, level, internals[pino.symbols.timeSym](), bindings))
  })
}

export function accessLine (ex: Exchange, level: number, time: string, bindings: string): string {
  return '{"level":' + level + time + bindings +
    ',"id":"' + ex.id + '"' +
    ',"client":' + JSON.stringify(ex.client) +
    ',"listener":' + JSON.stringify(ex.listener) +
    ',"host":' + JSON.stringify(ex.host) +
    ',"method":' + JSON.stringify(ex.method) +
    ',"path":' + JSON.stringify(ex.target) +
    ',"rule":' + JSON.stringify(ex.rule) +
    ',"pool":' + JSON.stringify(ex.pool) +
    ',"upstream":' + JSON.stringify(ex.upstream) +
    ',"status":' + ex.status +
    ',"upstreamStatus":' + ex.upstreamStatus +
    ',"bytesIn":' + ex.bytesIn +
    ',"bytesOut":' + ex.bytesOut +
    ',"durationMs":' + Math.round(ex.durationMs * 1000) / 1000 +
    (ex.error === '' ? '' : ',"error":' + JSON.stringify(ex.error)) +
    (ex.aborted ? ',"aborted":true' : '') +
    // ASCII only: one character outside Latin-1 (an arrow, say) makes V8 store the line, and the
    // whole turn's batch it joins, as two-byte text, which then takes the slow path to UTF-8.
    ',"msg":' + JSON.stringify(ex.method + ' ' + ex.host + ex.target + ' -> ' + ex.status) +
    '}\n'
}
