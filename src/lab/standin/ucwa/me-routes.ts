// The HTTP side of me.ts: each route finds the caller's application, applies the change, answers
// as the reference does (204 for the POSTs, the resource for the GETs), and raises the events.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { callerApplication, type AppRequest } from './caller.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'
import { availableEvents, communicationBody, locationBody, makeMeAvailable, meBody, noteBody, PHONE_TYPES, phoneBody, phonesBody, presenceBody, requireAvailable, setLocation, setNote, setPresence, updatedEvent, type MeFailure } from './me.js'
import { optionalJsonBody, sendUcwa, sendUcwaError } from './respond.js'
import { notifyWatchers } from './subscriptions-routes.js'
import type { ContactResource } from './subscriptions.js'

type Request = AppRequest

export function registerMe (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const base = `${APPLICATIONS_PATH}/:id`
  const found = (request: Request, reply: FastifyReply, guests = false): UcwaApplication | undefined => callerApplication(request, reply, ctx, site, { guests })
  const fail = (reply: FastifyReply, f: MeFailure): FastifyReply => sendUcwaError(reply, f.status, f.code, f.subcode, f.message)
  // What needs no makeMeAvailable (me, communication) is a meeting guest's too.
  const get = (path: string, body: (a: UcwaApplication) => object, gate: boolean): void => {
    app.get(base + path, async (request: Request, reply) => {
      const application = found(request, reply, !gate)
      if (application === undefined) return reply
      const refused = gate ? requireAvailable(application) : undefined
      return refused === undefined ? sendUcwa(reply, 200, body(application)) : fail(reply, refused)
    })
  }
  // watched: what the user's watchers (presence subscriptions) are told has changed.
  const post = (path: string, change: (a: UcwaApplication, body: Record<string, unknown> | undefined, request: Request) => MeFailure | undefined, events: (a: UcwaApplication) => object[], watched?: ContactResource): void => {
    app.post(base + path, async (request: Request, reply) => {
      const application = found(request, reply)
      if (application === undefined) return reply
      const body = optionalJsonBody(request.body)
      if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
      const refused = change(application, body, request)
      if (refused !== undefined) return fail(reply, refused)
      const senders = events(application)
      if (senders.length > 0) ctx.channels.publish(application.id, ...senders)
      if (watched !== undefined) notifyWatchers(ctx, application.user.sipUri, watched)
      return reply.code(204).send()
    })
  }

  get('/me', meBody, false)
  get('/communication', communicationBody, false)
  get('/me/presence', presenceBody, true)
  get('/me/note', noteBody, true)
  get('/me/location', locationBody, true)
  get('/me/phones', phonesBody, true)
  for (const type of PHONE_TYPES) get(`/me/phones/${type}`, (a) => phoneBody(a, type), true)
  post('/me/makeMeAvailable', (a, body) => makeMeAvailable(a, body), availableEvents, 'presence')
  post('/me/presence', (a, body) => setPresence(a, body), (a) => [updatedEvent(a, 'presence')], 'presence')
  post('/me/note', (a, body, request) => setNote(a, body, request.query), (a) => [updatedEvent(a, 'note')], 'note')
  post('/me/location', (a, body) => setLocation(a, body), (a) => [updatedEvent(a, 'location')], 'location')
  post('/me/reportMyActivity', (a) => requireAvailable(a), () => [])
}
