// The access log: one pino line per exchange, read from the exchange record.
import type { Logger } from 'pino'
import type { Exchange, ExchangeBus } from './exchange.js'

export function attachAccessLog (bus: ExchangeBus, logger: Logger): () => void {
  const log = logger.child({ kind: 'exchange' })
  return bus.subscribe((ex: Exchange) => {
    const level = ex.status >= 500 || ex.aborted ? 'warn' : 'info'
    log[level]({
      id: ex.id,
      client: ex.client,
      listener: ex.listener,
      host: ex.host,
      method: ex.method,
      path: ex.target,
      rule: ex.rule,
      pool: ex.pool,
      upstream: ex.upstream,
      status: ex.status,
      upstreamStatus: ex.upstreamStatus,
      bytesIn: ex.bytesIn,
      bytesOut: ex.bytesOut,
      durationMs: Math.round(ex.durationMs * 1000) / 1000,
      error: ex.error === '' ? undefined : ex.error,
      aborted: ex.aborted || undefined,
    }, `${ex.method} ${ex.host}${ex.target} → ${ex.status}`)
  })
}
