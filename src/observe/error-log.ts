// Error lines for exchanges that failed on the upstream side, at level error so that an operator who
// filters on errors sees them. They carry the exchange id under the same key as the access log
// (`id`), so one grep finds the access line, the error line and the flow-feed record of a request.
import type { Logger } from 'pino'
import type { Exchange, ExchangeBus } from './exchange.js'

export function attachErrorLog (bus: ExchangeBus, logger: Logger): () => void {
  const log = logger.child({ kind: 'request-error' })
  return bus.subscribe((ex: Exchange) => {
    if (!ex.error.startsWith('upstream_') && ex.error !== 'no_healthy_member') return
    log.error({
      id: ex.id,
      error: ex.error,
      listener: ex.listener,
      rule: ex.rule,
      pool: ex.pool,
      upstream: ex.upstream,
      status: ex.status,
    }, `request ${ex.id} failed: ${ex.error} (rule ${ex.rule}, pool ${ex.pool} at ${ex.upstream}) -> ${ex.status}`)
  })
}
