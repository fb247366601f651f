// The HTTP side of subscriptions.ts: presenceSubscriptions (create), each presenceSubscription (read,
// extend, delete) and subscribedContacts; and notifyWatchers, which me-routes.ts calls when a user's
// published state changes.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { findUser, sipKey } from '../topology.js'
import { APPLICATIONS_PATH } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { contactBody } from './people.js'
import { optionalJsonBody, property, sendUcwa, sendUcwaError } from './respond.js'
import { contactChangedEvent, DURATION_MINUTES, subscribedEvents, subscriptionBody, type ContactResource, type PresenceSubscription } from './subscriptions.js'

// Every application that watches this user learns that its presence, note or location changed.
export function notifyWatchers (ctx: StandInContext, sipUri: string, what: ContactResource): void {
  const contact = sipKey(sipUri)
  for (const appId of ctx.subscriptions.watchersOf(contact)) {
    if (ctx.applications.has(appId)) ctx.channels.publish(appId, contactChangedEvent(appId, contact, what))
  }
}

function minutesOf (value: unknown): number | string {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isInteger(n) || n < DURATION_MINUTES.min || n > DURATION_MINUTES.max) return `duration is a whole number of minutes from ${DURATION_MINUTES.min} to ${DURATION_MINUTES.max}.`
  return n
}

export function registerSubscriptions (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const base = `${APPLICATIONS_PATH}/:id/people`
  const { subscriptions } = ctx
  const invalid = (reply: FastifyReply, message: string): FastifyReply =>
    sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', message)

  app.post(`${base}/presenceSubscriptions`, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site)
    if (a === undefined) return reply
    const body = optionalJsonBody(request.body)
    if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
    const minutes = minutesOf(property(body, 'duration'))
    if (typeof minutes === 'string') return invalid(reply, minutes)
    const uris = property(body, 'uris')
    if (!Array.isArray(uris) || uris.length === 0 || !uris.every((u) => typeof u === 'string')) return invalid(reply, 'uris is a list of the contacts\' SIP URIs.')
    // The lab's directory is its users; a real pool would also take people it cannot see.
    const unknown = (uris as string[]).filter((u) => findUser(ctx.spec.topology, u) === undefined)
    if (unknown.length > 0) return invalid(reply, `Not in this lab's directory: ${unknown.join(', ')}.`)
    const created = subscriptions.create(a.id, (uris as string[]).map(sipKey), minutes)
    ctx.channels.publish(a.id, subscribedEvents(created))
    return sendUcwa(reply, 201, subscriptionBody(created))
  })

  // One of the caller's subscriptions, for the routes on a subscription's own link.
  const onSubscription = (answer: (s: PresenceSubscription, request: AppRequest, reply: FastifyReply) => FastifyReply) =>
    async (request: AppRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const a = callerApplication(request, reply, ctx, site)
      if (a === undefined) return reply
      const s = subscriptions.find(a.id, request.params.subscription ?? '')
      return s === undefined ? sendUcwaError(reply, 404, 'NotFound', undefined, 'No such presence subscription.') : answer(s, request, reply)
    }
  app.get(`${base}/presenceSubscriptions/:subscription`, onSubscription((s, _request, reply) => sendUcwa(reply, 200, subscriptionBody(s))))
  // ExtendAPresenceSubscription.md: POST with the new duration in the query, 200 with the subscription.
  app.post(`${base}/presenceSubscriptions/:subscription`, onSubscription((s, request, reply) => {
    const minutes = minutesOf(request.query.duration)
    if (typeof minutes === 'string') return invalid(reply, minutes)
    subscriptions.extend(s, minutes)
    return sendUcwa(reply, 200, subscriptionBody(s))
  }))
  app.delete(`${base}/presenceSubscriptions/:subscription`, onSubscription((s, _request, reply) => {
    subscriptions.remove(s.id)
    return reply.code(204).send()
  }))

  app.get(`${base}/subscribedContacts`, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site)
    if (a === undefined) return reply
    const contacts = subscriptions.contactsOf(a.id).flatMap((c) => {
      const user = findUser(ctx.spec.topology, c)
      return user === undefined ? [] : [contactBody(a, user)]
    })
    return sendUcwa(reply, 200, { _links: { self: { href: `${APPLICATIONS_PATH}/${a.id}/people/subscribedContacts` } }, _embedded: { contact: contacts }, rel: 'subscribedContacts' })
  })
}
