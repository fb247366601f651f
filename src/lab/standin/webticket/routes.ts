// The OAuth token endpoint of the WebTicket service (/WebTicket/oauthtoken), as used by UCWA and Lync
// 2013 Mobile: a form POST with a grant, answered with a pool-scoped cwt= ticket.
import type { FastifyInstance } from 'fastify'
import type { StandInContext } from '../context.js'
import { sendIisMethodNotAllowed } from '../iis.js'
import { findUser, sipKey } from '../topology.js'
import { msDiagnostics } from './diagnostics.js'
import { issueWebTicket, TICKET_LIFETIME_SECONDS } from './token.js'

function formOf (body: unknown): URLSearchParams {
  if (Buffer.isBuffer(body)) return new URLSearchParams(body.toString('utf8'))
  return new URLSearchParams()
}

export function registerWebTicket (app: FastifyInstance, ctx: StandInContext): void {
  const source = ctx.spec.serverFqdn

  app.post('/WebTicket/oauthtoken', async (request, reply) => {
    const form = formOf(request.body)
    const grant = form.get('grant_type') ?? ''
    // Only the password grant is modelled: the lab has no domain for urn:microsoft.rtc:windows and no
    // conferences for anonmeeting, so those are refused the way a pool refuses a disabled grant.
    if (grant !== 'password') {
      reply.header('X-Ms-diagnostics', msDiagnostics(28029, source, 'Authentication type not allowed.'))
      return reply.code(400).type('application/json').send('{"error":"unsupported_grant_type"}')
    }
    const user = findUser(ctx.spec.topology, form.get('username') ?? '')
    if (user === undefined || user.password !== (form.get('password') ?? '')) {
      reply.header('X-Ms-diagnostics', msDiagnostics(28000, source, 'The user name or password is not valid.'))
      return reply.code(400).type('application/json').send('{"error":"invalid_grant"}')
    }
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
    return reply.type('application/json').send(JSON.stringify({
      access_token: issueWebTicket(ctx.pool.internalFqdn, sipKey(user.sipUri)),
      expires_in: TICKET_LIFETIME_SECONDS,
      ms_rtc_identityscope: 'local',
      token_type: 'Bearer',
    }))
  })

  app.get('/WebTicket/oauthtoken', async (_request, reply) => sendIisMethodNotAllowed(reply, 'POST'))
}
