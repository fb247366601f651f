// The WebTicket vdir: the OAuth token endpoint (/WebTicket/oauthtoken), as used by UCWA and Lync 2013
// Mobile (a form POST with a grant, answered with a pool-scoped cwt= ticket), and the WS-Trust web
// ticket service (WebTicketService.svc), as used by the desktop clients and SIPE: anonymous
// metadata at /mex, and IssueToken behind Windows authentication, answered with a SAML assertion.
import { randomInt } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseConferenceUri } from '../conference.js'
import type { Site, StandInContext } from '../context.js'
import { sendIisMethodNotAllowed, sendIisNotFound } from '../iis.js'
import { findUser, sipKey, sipUriOf, webFqdn } from '../topology.js'
import { sendAuthenticatedPlaceholder, withWindowsAuth, type WindowsUser } from '../winauth.js'
import { msDiagnostics } from './diagnostics.js'
import { issueSamlAssertion } from './saml.js'
import { issueWebTicket, TICKET_LIFETIME_SECONDS } from './token.js'
import { ISSUE_ACTION, metadataDocument, parseTokenRequest, tokenResponse, trustFault, WEBTICKET_SERVICE } from './wstrust.js'

function formOf (body: unknown): URLSearchParams {
  if (Buffer.isBuffer(body)) return new URLSearchParams(body.toString('utf8'))
  return new URLSearchParams()
}

function sendSoap (reply: FastifyReply, status: number, xml: string): FastifyReply {
  return reply.code(status).type('text/xml; charset=utf-8').send(xml)
}

// MS-OCAUTHWS 3.2.4.1.1: the ticket is for the Windows user who authenticated; a uri claim naming
// somebody else is refused rather than honoured.
function issueToken (ctx: StandInContext, site: Site, request: FastifyRequest, reply: FastifyReply, who: WindowsUser): FastifyReply {
  if (request.method !== 'POST') return sendAuthenticatedPlaceholder(request, reply, who)
  const action = request.headers.soapaction
  if (typeof action === 'string' && action.replace(/^"|"$/g, '') !== ISSUE_ACTION) {
    return sendSoap(reply, 500, trustFault('InvalidRequest', `The service has no operation for the action ${action}.`))
  }
  const body = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : ''
  const parsed = parseTokenRequest(body)
  if (!parsed.ok) return sendSoap(reply, 500, trustFault('InvalidRequest', parsed.reason))
  const sipUri = sipUriOf(who.user)
  if (parsed.request.uriClaim !== undefined && sipKey(parsed.request.uriClaim) !== sipKey(sipUri)) {
    return sendSoap(reply, 500, trustFault('FailedAuthentication', `${who.identity.domain}\\${who.identity.user} is not ${parsed.request.uriClaim}.`))
  }
  const serviceUrl = `https://${webFqdn(ctx.pool, site.kind)}${WEBTICKET_SERVICE}`
  const assertion = issueSamlAssertion({ key: ctx.ticketKey, pool: ctx.pool.internalFqdn, sipUri, issuer: serviceUrl, audience: parsed.request.appliesTo ?? serviceUrl })
  reply.header('Cache-Control', 'no-store')
  return sendSoap(reply, 200, tokenResponse(parsed.request, assertion))
}

export function registerWebTicket (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const source = ctx.spec.serverFqdn

  // The metadata is anonymous: a client reads it to learn how to authenticate (MS-OCAUTHWS 1.3.1.1).
  app.get(`${WEBTICKET_SERVICE}/mex`, async (_request, reply) => {
    return reply.type('text/xml; charset=utf-8').send(metadataDocument(`https://${webFqdn(ctx.pool, site.kind)}${WEBTICKET_SERVICE}`))
  })
  app.route({ method: ['GET', 'POST'], url: WEBTICKET_SERVICE, handler: withWindowsAuth(ctx, (request, reply, who) => issueToken(ctx, site, request, reply, who)) })
  app.route({ method: ['GET', 'POST'], url: `${WEBTICKET_SERVICE}/*`, handler: withWindowsAuth(ctx, (_request, reply) => sendIisNotFound(reply)) })

  const refuse = (reply: FastifyReply, error: string, code: number, reason: string): FastifyReply => {
    reply.header('X-Ms-diagnostics', msDiagnostics(code, source, reason))
    return reply.code(400).type('application/json').send(JSON.stringify({ error }))
  }
  // AuthenticationInUCWA.md: the password grant's answer, which the anonmeeting grant shares.
  const sendTicket = (reply: FastifyReply, ticket: string): FastifyReply => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
    return reply.type('application/json').send(JSON.stringify({
      access_token: ticket,
      expires_in: TICKET_LIFETIME_SECONDS,
      ms_rtc_identityscope: 'local',
      token_type: 'Bearer',
    }))
  }

  app.post('/WebTicket/oauthtoken', async (request, reply) => {
    const form = formOf(request.body)
    const grant = form.get('grant_type') ?? ''
    if (grant === 'password') {
      const user = findUser(ctx.spec.topology, form.get('username') ?? '')
      if (user === undefined || user.password !== (form.get('password') ?? '')) return refuse(reply, 'invalid_grant', 28000, 'The user name or password is not valid.')
      return sendTicket(reply, issueWebTicket(ctx.ticketKey, ctx.pool.internalFqdn, sipKey(user.sipUri)))
    }
    // AuthenticationInUCWA.md, "Anonymous meeting attendee grant type": the conference URI and its
    // key (password), which is the conference id. The ticket is checked against the conference's
    // own name here; whether the meeting exists is joinOnlineMeeting's question (404
    // DestinationNotFound), asked on the pool that holds the meetings, so every server of a pool
    // issues the ticket without sharing that state. (A Director issues one too, good on the
    // Director only: the guest's sign-in follows its redirect and asks the Front End again.)
    if (grant === 'urn:microsoft.rtc:anonmeeting') {
      const uri = form.get('ms_rtc_conferenceuri') ?? ''
      const conference = parseConferenceUri(uri)
      if (conference === undefined) return refuse(reply, 'invalid_request', 28000, 'ms_rtc_conferenceuri is not a conference URI (<organizer SIP URI>;gruu;opaque=app:conf:focus:id:<id>).')
      if (findUser(ctx.spec.topology, conference.organizer) === undefined) return refuse(reply, 'invalid_grant', 28000, 'The conference organizer is not a user of this deployment.')
      if ((form.get('password') ?? '').toUpperCase() !== conference.id) return refuse(reply, 'invalid_grant', 28000, 'The conference key is not valid.')
      const guest = `${randomInt(1_000_000_000, 10_000_000_000)}@anonymous.invalid`
      return sendTicket(reply, issueWebTicket(ctx.ticketKey, ctx.pool.internalFqdn, guest, Date.now(), uri.replace(/\s+/g, '')))
    }
    // The lab has no domain for urn:microsoft.rtc:windows: refused as a pool refuses a disabled grant.
    return refuse(reply, 'unsupported_grant_type', 28029, 'Authentication type not allowed.')
  })

  app.get('/WebTicket/oauthtoken', async (_request, reply) => sendIisMethodNotAllowed(reply, 'POST'))
}
