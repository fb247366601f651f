// Error lines for exchanges that failed on the upstream side or in the proxy's own code, at level
// error so that an operator who filters on errors sees them. They carry the exchange id under the same
// key as the access log (`id`), so one grep finds the access line, the error line and the flow-feed
// record of a request.
import type { Logger } from 'pino'
import type { Exchange, ExchangeBus } from './exchange.js'

export function attachErrorLog (bus: ExchangeBus, logger: Logger): () => void {
  const log = logger.child({ kind: 'request-error' })
  const internal = logger.child({ kind: 'internal-error' })
  return bus.subscribe((ex: Exchange) => {
    if (ex.error === 'internal_error') {
      internal.error({ id: ex.id, err: ex.fault, listener: ex.listener, rule: ex.rule, path: ex.target, status: ex.status },
        `request ${ex.id} ended by an internal error (rule ${ex.rule || '-'}); the proxy keeps serving`)
      return
    }
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

let escapedErrorsLogged = false

// What escapes every exchange's own guard (a timer, a health check, a library callback outside any
// request) is logged with its stack, and the process carries on serving, for the reason given in
// respond/fault.ts. A supervisor still restarts a process that dies for any other cause.
export function logEscapedErrors (logger: Logger): void {
  if (escapedErrorsLogged) return
  escapedErrorsLogged = true
  const log = logger.child({ kind: 'internal-error' })
  process.on('uncaughtException', (err) => {
    log.error({ err }, `internal error outside any request: ${err.message}; the proxy keeps serving`)
  })
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, `unhandled rejection outside any request: ${reason instanceof Error ? reason.message : String(reason)}; the proxy keeps serving`)
  })
}
