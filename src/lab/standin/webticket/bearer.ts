// Lync web authentication on the resources that take a web ticket: challenging a request without one
// and checking the ticket of one that has it, whether it comes as an OAuth bearer token
// (`Authorization: Bearer cwt=…`, UCWA and mobile clients) or as the SAML assertion of the WS-Trust
// web ticket service (`X-MS-WebTicket: opaque=…`, desktop clients and SIPE, MS-OCDISCWS). Used by the
// autodiscover user resources and by UCWA.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import type { Caller } from '../types.js'
import { sendIisError, sendIisUnauthorized } from '../iis.js'
import { findUser, webFqdn } from '../topology.js'
import { msDiagnostics } from './diagnostics.js'
import { ticketFromWebTicketHeader } from './saml.js'
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

// The ticket a request presents, from either header; a request that sends an X-MS-WebTicket the lab
// cannot read presents an invalid ticket, not none.
function presentedTicket (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  const m = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim())
  if (m !== null) return m[1]
  const webTicket = request.headers['x-ms-webticket']
  if (typeof webTicket === 'string') return ticketFromWebTicketHeader(webTicket) ?? ''
  return undefined
}

// Returns the signed-in user (or the meeting guest of an anonymous ticket), or sends the Lync answer (401 challenge, or 500 / 28032 for a ticket this
// pool did not issue) and returns undefined.
export function authenticate (request: FastifyRequest, reply: FastifyReply, ctx: StandInContext, site: Site): Caller | undefined {
  const token = presentedTicket(request)
  if (token === undefined) {
    reply.header('X-MS-WebTicketURL', `${webTicketBase(ctx, site)}/WebTicketService.svc`)
    // CreateAnApplication.md, step 4, shows these two beside the challenges.
    reply.header('X-Content-Type-Options', 'nosniff').header('Vary', 'Accept-Encoding')
    sendIisUnauthorized(reply, oauthChallenges(ctx, site))
    return undefined
  }
  const check = verifyWebTicket(ctx.ticketKey, token, ctx.pool.internalFqdn)
  const user: Caller | undefined = !check.ok
    ? undefined
    : check.ticket.conference !== undefined
      ? { sipUri: check.ticket.user, password: '', conference: check.ticket.conference }
      : findUser(ctx.spec.topology, check.ticket.user)
  if (user === undefined) {
    // Lync answers any ticket it cannot use (another pool's, expired, garbled) this way, which is how
    // a Director ticket replayed on a Front End shows up in the field.
    reply.header('X-Ms-diagnostics', msDiagnostics(28032, ctx.spec.serverFqdn, 'The web ticket is invalid.'))
    sendIisError(reply, 500, 'Internal server error.', 'The web ticket is invalid.')
    return undefined
  }
  return user
}
