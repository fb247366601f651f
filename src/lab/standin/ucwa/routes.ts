// UCWA on the Front End: creating an application and its event channel (the long-poll P-GET that a
// reverse proxy must let live for up to 1800 s, events.ts); the application's own resources are registered
// from me-routes.ts, people-routes.ts and messaging-routes.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { authenticate } from '../webticket/bearer.js'
import { APPLICATIONS_PATH, type NewApplication, type UcwaApplication } from './applications.js'
import { registerBatch } from './batch.js'
import { leaveMeetingsOf, registerMeetingJoin } from './meeting-join-routes.js'
import { registerMe } from './me-routes.js'
import { onlineMeetingsBody, registerMeetings } from './meetings-routes.js'
import { endConversationsOf, registerMessaging } from './messaging-routes.js'
import { registerPeople } from './people-routes.js'
import { registerPolicies } from './policies.js'
import { notifyWatchers, registerSubscriptions } from './subscriptions-routes.js'
import { peopleBody } from './people.js'
import { parseJson, property, sendAppNotFound, sendUcwa, sendUcwaError } from './respond.js'
import { communicationBody, meBody } from './me.js'

// applications_ref.md, culture: "The maximum length is 100 characters"; onlineMeetingInvitation_ref.md,
// anonymousDisplayName: 250.
const MAX_CULTURE_LENGTH = 100
const MAX_DISPLAY_NAME = 250

// A resource the UCWA application does not have: UCWA's JSON error body
// (ErrorsAndInformationalMessages.md, "Error response body": code is the one required property), not
// IIS's HTML page, since the UCWA virtual directory answers everything under it. The ticket is checked first, as the OAuth module
// runs before the application sees the path.
export function sendUcwaNotFound (request: FastifyRequest, reply: FastifyReply, ctx: StandInContext, site: Site): FastifyReply {
  if (authenticate(request, reply, ctx, site) === undefined) return reply
  return sendUcwaError(reply, 404, 'NotFound', undefined, 'This lab server has no such UCWA resource.')
}

// A meeting guest's application embeds only me and communication: it has no people and no meetings
// of its own (an anonymous application of a pool, as AnonMeeting.js's flow meets it).
function applicationBody (app: UcwaApplication, nextAck: number): object {
  const base = `${APPLICATIONS_PATH}/${app.id}`
  const link = (path: string): { href: string } => ({ href: base + path })
  return {
    culture: app.culture,
    userAgent: app.userAgent,
    type: 'Application',
    endpointId: app.endpointId,
    id: app.id,
    _links: { self: link(''), policies: link('/policies'), batch: link('/batch'), events: link(`/events?ack=${nextAck}`) },
    _embedded: app.guest !== undefined
      ? { me: meBody(app), communication: communicationBody(app) }
      : { me: meBody(app), people: peopleBody(app), onlineMeetings: onlineMeetingsBody(app), communication: communicationBody(app) },
    rel: 'application',
  }
}

// The POST body of the applications resource (UCWA 2.0 reference, applications_ref.md, "Request
// body"): culture, endpointId and userAgent are required strings, culture neither empty nor longer
// than the reference allows; instanceId is optional. The reference names them in camelCase, while
// its walk-through (CreateAnApplication.md) sends UserAgent, EndpointId and Culture: both are taken,
// as a name matched without regard to case.
// Returns what is wrong, in the message of a ParameterValidationFailure, when the body will not do.
// A meeting guest's POST (anonApplications_ref.md) needs only culture and userAgent, and may give the
// guest's name as AnonymousDisplayName, as the Skype Web SDK does.
function applicationInput (body: Record<string, unknown> | undefined, guest: boolean): NewApplication | string {
  const required = guest ? ['userAgent', 'culture'] as const : ['userAgent', 'endpointId', 'culture'] as const
  if (body === undefined) return `The body must be a JSON object with ${required.join(', ')}.`
  const missing = required.filter((name) => typeof property(body, name) !== 'string')
  if (missing.length > 0) return `Required and missing: ${missing.join(', ')}.`
  const culture = property(body, 'culture') as string
  if (culture === '' || culture.length > MAX_CULTURE_LENGTH) return `culture must have 1 to ${MAX_CULTURE_LENGTH} characters.`
  const endpointId = property(body, 'endpointId')
  const guestName = property(body, 'anonymousDisplayName')
  if (guest && guestName !== undefined && (typeof guestName !== 'string' || guestName.length > MAX_DISPLAY_NAME)) return `anonymousDisplayName has at most ${MAX_DISPLAY_NAME} characters.`
  return {
    userAgent: property(body, 'userAgent') as string,
    // A guest's ticket is its identity: without an endpointId, one application per ticket.
    endpointId: typeof endpointId === 'string' ? endpointId : 'anonymous',
    culture,
    ...(guest && typeof guestName === 'string' ? { guestName } : {}),
  }
}

// The client's timeout parameter; one that is not a positive number counts as not given.
function timeoutOf (value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 ? n : undefined
}

// The ack parameter; the application's events link starts at 1 (EventChannelDetails.md). One that is
// not a number is out of order like any other, and gets the resync link.
function ackOf (value: unknown): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : NaN
  return Number.isSafeInteger(n) && n >= 0 ? n : -1
}

// An application that is gone (deleted, or the oldest past the lab's bounds): its event channel, its
// subscriptions, its conversations and meetings end, and its user's watchers learn it may be offline.
function retireApplication (ctx: StandInContext, gone: UcwaApplication): void {
  ctx.channels.drop(gone.id)
  ctx.subscriptions.dropApplication(gone.id)
  endConversationsOf(ctx, gone)
  leaveMeetingsOf(ctx, gone)
  if (gone.me.available) notifyWatchers(ctx, gone.user.sipUri, 'presence')
}

export function registerUcwa (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const { applications, channels } = ctx
  registerMe(app, ctx, site)
  registerPeople(app, ctx, site)
  registerMessaging(app, ctx, site)
  registerBatch(app, ctx, site)
  registerMeetings(app, ctx, site)
  registerMeetingJoin(app, ctx, site)
  registerPolicies(app, ctx, site)
  registerSubscriptions(app, ctx, site)

  app.post(APPLICATIONS_PATH, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const input = applicationInput(parseJson(request.body), user.conference !== undefined)
    if (typeof input === 'string') return sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', input)
    const { app: created, evicted } = applications.create(user, input)
    for (const gone of evicted) retireApplication(ctx, gone)
    // The photo cookie is scoped to the application's photos and marked secure/HttpOnly, as UCWA does;
    // proxies must pass Set-Cookie through untouched.
    reply.header('Set-Cookie', `cwt_ucwa=${created.photoCookie}; path=${APPLICATIONS_PATH}/${created.id}/photos; secure; HttpOnly`)
    return sendUcwa(reply, 201, applicationBody(created, channels.nextAck(created.id)))
  })

  app.get<{ Params: { id: string } }>(`${APPLICATIONS_PATH}/:id`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    return found === undefined ? sendAppNotFound(reply) : sendUcwa(reply, 200, applicationBody(found, channels.nextAck(found.id)))
  })

  app.delete<{ Params: { id: string } }>(`${APPLICATIONS_PATH}/:id`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    if (found === undefined) return sendAppNotFound(reply)
    applications.remove(found.id)
    retireApplication(ctx, found)
    return reply.code(204).send()
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(`${APPLICATIONS_PATH}/:id/events`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    if (found === undefined) return sendAppNotFound(reply)
    const timeoutS = timeoutOf(request.query.timeout)
    const held = channels.hold(found.id, { ack: ackOf(request.query.ack), ...(timeoutS === undefined ? {} : { timeoutS }) })
    // A client (or a proxy) that gives up must not leave its P-GET behind: it would swallow the next
    // event. 'close' also fires after a normal response, when cancel is a no-op.
    reply.raw.on('close', held.cancel)
    const outcome = await held.outcome
    const events = `${APPLICATIONS_PATH}/${found.id}/events`
    switch (outcome.kind) {
      case 'events':
        return sendUcwa(reply, 200, {
          _links: { self: { href: `${events}?ack=${outcome.ack}` }, next: { href: `${events}?ack=${outcome.ack + 1}` } },
          sender: outcome.sender,
        })
      case 'resync':
        return sendUcwa(reply, 200, { _links: { resync: { href: `${events}?ack=${outcome.ack}` } } })
      case 'replaced':
        return sendUcwaError(reply, 409, 'Conflict', 'PGetReplaced', 'A newer event channel request replaced this one.')
      case 'deleted':
        return sendAppNotFound(reply)
      case 'closed':
      case 'gone':
        // Nobody is listening (client left) or the server is stopping: the connection ends either way.
        return sendUcwaError(reply, 503, 'ServiceFailure', undefined, 'The server is shutting down.')
    }
  })
}
