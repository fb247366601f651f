// The HTTP side of meetings.ts: onlineMeetings, myOnlineMeetings (list, schedule) and each
// myOnlineMeeting (read, delete), for the caller's own meetings.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { sipKey } from '../topology.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { MAX_MEETINGS_PER_ORGANIZER, meetingBody, meetingInput, type OnlineMeeting } from './meetings.js'
import { optionalJsonBody, sendUcwa, sendUcwaError } from './respond.js'

export function onlineMeetingsBody (app: UcwaApplication): object {
  const base = `${APPLICATIONS_PATH}/${app.id}/onlineMeetings`
  return { _links: { self: { href: base }, myOnlineMeetings: { href: `${base}/myOnlineMeetings` } }, rel: 'onlineMeetings' }
}

export function registerMeetings (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const base = `${APPLICATIONS_PATH}/:id/onlineMeetings`
  const { meetings } = ctx
  const { sipDomain } = ctx.spec.topology
  const own = (a: UcwaApplication): string => `${APPLICATIONS_PATH}/${a.id}`

  app.get(base, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site)
    return a === undefined ? reply : sendUcwa(reply, 200, onlineMeetingsBody(a))
  })
  app.get(`${base}/myOnlineMeetings`, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site)
    if (a === undefined) return reply
    const list = meetings.ofOrganizer(sipKey(a.user.sipUri)).map((m) => meetingBody(m, own(a), sipDomain))
    return sendUcwa(reply, 200, { _links: { self: { href: `${own(a)}/onlineMeetings/myOnlineMeetings` } }, _embedded: { myOnlineMeeting: list }, rel: 'myOnlineMeetings' })
  })
  // ScheduleAnOnlineMeeting.md answers the POST 200 with the meeting and its ETag; the sample of
  // myOnlineMeetings_ref.md answers 201. The lab follows the walk-through, which shows a whole
  // exchange; a client should take either.
  app.post(`${base}/myOnlineMeetings`, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site)
    if (a === undefined) return reply
    const body = optionalJsonBody(request.body)
    if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
    const input = meetingInput(body)
    if (typeof input === 'string') return sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', input)
    const meeting = meetings.create(sipKey(a.user.sipUri), input)
    if (meeting === undefined) return sendUcwaError(reply, 409, 'Conflict', 'TooManyOnlineMeetings', `This lab keeps up to ${MAX_MEETINGS_PER_ORGANIZER} meetings per organizer; delete one first.`)
    reply.header('ETag', `"${meeting.etag}"`)
    return sendUcwa(reply, 200, meetingBody(meeting, own(a), sipDomain))
  })
  // One of the caller's meetings, for the routes on a meeting's own link.
  const onMeeting = (answer: (a: UcwaApplication, meeting: OnlineMeeting, reply: FastifyReply) => FastifyReply) =>
    async (request: AppRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const a = callerApplication(request, reply, ctx, site)
      if (a === undefined) return reply
      const meeting = meetings.find(sipKey(a.user.sipUri), request.params.meeting ?? '')
      return meeting === undefined ? sendUcwaError(reply, 404, 'NotFound', undefined, 'The organizer has no such meeting.') : answer(a, meeting, reply)
    }
  app.get(`${base}/myOnlineMeetings/:meeting`, onMeeting((a, meeting, reply) => {
    reply.header('ETag', `"${meeting.etag}"`)
    return sendUcwa(reply, 200, meetingBody(meeting, own(a), sipDomain))
  }))
  app.delete(`${base}/myOnlineMeetings/:meeting`, onMeeting((_a, meeting, reply) => {
    meetings.remove(meeting.id)
    return reply.code(204).send()
  }))
}
