// The OAuth side of Lync web authentication: challenging a request without a web ticket and checking
// the ticket of one that has it. Used by the autodiscover user resources and by UCWA.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import type { LabUser } from '../types.js'
import { sendIisError, sendIisUnauthorized } from '../iis.js'
import { findUser, webFqdn } from '../topology.js'
import { msDiagnostics } from './diagnostics.js'
import { verifyWebTicket } from './token.js'

// Well-known ids of the Lync/Skype first-party OAuth principals that Lync puts in its Bearer challenge.
const LYNC_ISSUER = '00000002-0000-0ff1-ce00-000000000000'
const LYNC_CLIENT = '00000004-0000-0ff1-ce00-000000000000'

function webTicketBase (ctx: StandInContext, site: Site): string {
  // The token service is this pool's, on the name the client used to reach this site.
  return `https://${webFqdn(ctx.pool, site.kind)}/WebTicket`
}

export function oauthChallenges (ctx: StandInContext, site: Site): string[] {
  return [
    `Bearer trusted_issuers="${LYNC_ISSUER}@${ctx.spec.topology.sipDomain}", client_id="${LYNC_CLIENT}"`,
    `MsRtcOAuth href="${webTicketBase(ctx, site)}/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"`,
  ]
}

function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const m = /^Bearer\s+(.+)$/i.exec(header.trim())
  return m === null ? undefined : m[1]
}

// Returns the signed-in user, or sends the Lync answer (401 challenge, or 500 / 28032 for a ticket this
// pool did not issue) and returns undefined.
export function authenticate (request: FastifyRequest, reply: FastifyReply, ctx: StandInContext, site: Site): LabUser | undefined {
  const token = bearerToken(request)
  if (token === undefined) {
    reply.header('X-MS-WebTicketURL', `${webTicketBase(ctx, site)}/WebTicketService.svc`)
    sendIisUnauthorized(reply, oauthChallenges(ctx, site))
    return undefined
  }
  const check = verifyWebTicket(token, ctx.pool.internalFqdn)
  const user = check.ok ? findUser(ctx.spec.topology, check.ticket.user) : undefined
  if (user === undefined) {
    // Lync answers any ticket it cannot use (another pool's, expired, garbled) this way, which is how
    // a Director ticket replayed on a Front End shows up in the field.
    reply.header('X-Ms-diagnostics', msDiagnostics(28032, ctx.spec.serverFqdn, 'The web ticket is invalid.'))
    sendIisError(reply, 500, 'Internal server error.', 'The web ticket is invalid.')
    return undefined
  }
  return user
}
