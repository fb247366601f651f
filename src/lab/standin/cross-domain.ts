// CsWebServiceConfiguration's CrossDomainAuthorizationList (ConfiguringATopology.md): a browser
// application's requests reach the pool through its XFrame (xframe.ts) with X-Ms-Origin set to the
// application's origin, and the pool refuses those from an origin it does not list, with 403 and
// X-Ms-diagnostics 28070 ("Service does not allow a cross domain request from this origin.", the
// string the reference's samples alert). Requests without X-Ms-Origin (native clients, curl) are
// not cross-domain and pass.
import type { FastifyInstance } from 'fastify'
import type { StandInContext } from './context.js'
import { sendIisError } from './iis.js'
import { msDiagnostics } from './webticket/diagnostics.js'

export const CROSS_DOMAIN_REFUSED = 'Service does not allow a cross domain request from this origin.'

// The origin an X-Ms-Origin names, or '' when it is not exactly one origin: a path, a second value
// joined with a comma, or anything else that is not scheme://host[:port] is refused.
function originOf (value: string): string {
  if (!/^https?:\/\/[^/?#\s,]+\/?$/i.test(value)) return ''
  try { return new URL(value).origin } catch { return '' }
}

export function addCrossDomainCheck (app: FastifyInstance, ctx: StandInContext): void {
  const allowed = new Set(ctx.spec.topology.crossDomainOrigins ?? [])
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers['x-ms-origin']
    if (origin === undefined || (typeof origin === 'string' && allowed.has(originOf(origin.trim())))) return
    reply.header('X-Ms-diagnostics', msDiagnostics(28070, ctx.spec.serverFqdn, CROSS_DOMAIN_REFUSED))
    return sendIisError(reply, 403, 'Forbidden: Access is denied.', 'This origin is not in the pool\'s cross-domain authorization list.')
  })
}
