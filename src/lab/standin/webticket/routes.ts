// The WebTicket vdir: the OAuth token endpoint (/WebTicket/oauthtoken), as used by UCWA and Lync 2013
// Mobile (a form POST with a grant, answered with a pool-scoped cwt= ticket), and the WS-Trust web
// ticket service (WebTicketService.svc), as used by the desktop clients and SIPE: anonymous
// metadata at /mex, and IssueToken behind Windows authentication, answered with a SAML assertion.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
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
      access_token: issueWebTicket(ctx.ticketKey, ctx.pool.internalFqdn, sipKey(user.sipUri)),
      expires_in: TICKET_LIFETIME_SECONDS,
      ms_rtc_identityscope: 'local',
      token_type: 'Bearer',
    }))
  })

  app.get('/WebTicket/oauthtoken', async (_request, reply) => sendIisMethodNotAllowed(reply, 'POST'))
}
