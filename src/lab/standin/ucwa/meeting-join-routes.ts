// The HTTP side of meeting-conversation.ts: joinOnlineMeeting, the invitations it and addMessaging
// start, and a meeting conversation's own resources. messaging-routes.ts owns the conversation
// paths that a meeting shares with a two-party IM, and asks meetingConversationRoutes for the ids
// that are a meeting's.
import type { FastifyInstance, FastifyReply } from 'fastify'
import { conferenceUri, parseConferenceUri } from '../conference.js'
import type { Site, StandInContext } from '../context.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { requireAvailable } from './me.js'
import {
  admits, conversationBody, conversationHref, findMessage, invitationBody, joinedEvents, leftEvents, MAX_ATTENDEES, messageBody, messageSentEvents, messagingAddedEvents,
  messagingBody, messagingInvitationBody, messagingStoppedEvents, participantBody, participantsBody, refusedEvents, type Attendee, type Conference,
} from './meeting-conversation.js'
import type { Send } from './messaging.js'
import { optionalJsonBody, property, sendUcwa, sendUcwaError } from './respond.js'

type Request = AppRequest & { params: { id: string, item: string, participant?: string, number?: string } }
type Found = { conference: Conference, attendee: Attendee }

// onlineMeetingInvitation_ref.md: anonymousDisplayName and operationId have at most 250 and 50 characters.
const MAX_DISPLAY_NAME = 250
const MAX_OPERATION_ID = 50

const publisher = (ctx: StandInContext) => (sends: Send[]): void => {
  for (const s of sends) if (ctx.applications.has(s.app.id)) ctx.channels.publish(s.app.id, ...s.senders)
}

// The routes a meeting conversation shares with a two-party one (messaging-routes.ts calls these
// when the id is not a two-party conversation's): each answers, or returns undefined for an id that
// is no meeting's either.
export interface MeetingConversationRoutes {
  active (a: UcwaApplication): string[]
  conversation (a: UcwaApplication, id: string, reply: FastifyReply): FastifyReply | undefined
  messaging (a: UcwaApplication, id: string, reply: FastifyReply): FastifyReply | undefined
  send (a: UcwaApplication, id: string, text: string, reply: FastifyReply): FastifyReply | undefined
  message (a: UcwaApplication, id: string, number: number, reply: FastifyReply): FastifyReply | undefined
  stop (a: UcwaApplication, id: string, reply: FastifyReply): FastifyReply | undefined
}

export function meetingConversationRoutes (ctx: StandInContext): MeetingConversationRoutes {
  const publish = publisher(ctx)
  const mine = (a: UcwaApplication, id: string): Found | undefined => {
    const found = ctx.conferences.find(a, id)
    return found?.attendee.conversationId === id ? found : undefined
  }
  return {
    active: (a) => ctx.conferences.of(a).filter(({ attendee }) => attendee.state === 'Connected').map(({ attendee }) => conversationHref(attendee)),
    conversation: (a, id, reply) => {
      const f = mine(a, id)
      return f === undefined ? undefined : sendUcwa(reply, 200, conversationBody(f.conference, f.attendee))
    },
    messaging: (a, id, reply) => {
      const f = mine(a, id)
      return f === undefined ? undefined : sendUcwa(reply, 200, messagingBody(f.attendee))
    },
    send: (a, id, text, reply) => {
      const f = mine(a, id)
      if (f === undefined) return undefined
      if (text === '') return sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', 'The message is the body, as text/plain.')
      if (f.attendee.messaging !== 'Connected') return sendUcwaError(reply, 409, 'Conflict', undefined, 'Messaging is not connected: add it first (addMessaging).')
      const { number, sends } = messageSentEvents(f.conference, f.attendee, text)
      publish(sends)
      return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/conversations/${id}/messaging/messages/${number}`).send()
    },
    message: (a, id, number, reply) => {
      const f = mine(a, id)
      if (f === undefined) return undefined
      const m = findMessage(f.conference, f.attendee, number)
      return m === undefined ? sendUcwaError(reply, 404, 'NotFound', undefined, 'No such message in this conversation.') : sendUcwa(reply, 200, messageBody(f.attendee, m))
    },
    stop: (a, id, reply) => {
      const f = mine(a, id)
      if (f === undefined) return undefined
      if (f.attendee.messaging === 'Connected') publish(messagingStoppedEvents(f.attendee))
      return reply.code(204).send()
    },
  }
}

// An application deleted (routes.ts) leaves its meetings: the others see it go.
export function leaveMeetingsOf (ctx: StandInContext, app: UcwaApplication): void {
  const publish = publisher(ctx)
  for (const { conference, attendee } of ctx.conferences.of(app)) {
    if (attendee.state !== 'Connected') continue
    publish(leftEvents(conference, attendee).filter((s) => s.app !== app))
  }
  ctx.conferences.forget(app)
}

export function registerMeetingJoin (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const communication = `${APPLICATIONS_PATH}/:id/communication`
  const publish = publisher(ctx)
  const invalid = (reply: FastifyReply, message: string): FastifyReply => sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', message)
  const notFound = (reply: FastifyReply): FastifyReply => sendUcwaError(reply, 404, 'NotFound', undefined, 'No such meeting conversation or invitation in this application.')
  // Meeting guests reach these: a meeting is all their application has.
  const route = (method: 'GET' | 'POST' | 'DELETE', path: string, handle: (a: UcwaApplication, request: Request, reply: FastifyReply) => FastifyReply): void => {
    app.route({ method, url: communication + path, handler: async (request, reply) => {
      const a = callerApplication(request as Request, reply, ctx, site, { guests: true })
      return a === undefined ? reply : handle(a, request as Request, reply)
    } })
  }
  const conversationOf = (a: UcwaApplication, request: Request): Found | undefined => {
    const found = ctx.conferences.find(a, request.params.item)
    return found?.attendee.conversationId === request.params.item ? found : undefined
  }

  // joinOnlineMeeting_ref.md: the meeting's URI in the body or the query; a guest's ticket admits
  // to one conference only (403), and a guest goes by anonymousDisplayName (onlineMeetingInvitation_ref.md:
  // required for guests, not to be set for users; a user's is ignored, and the user keeps the
  // directory's name). 201 with the invitation's Location, then the events (meeting-conversation.ts).
  route('POST', '/joinOnlineMeeting', (a, request, reply) => {
    const body = optionalJsonBody(request.body)
    if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
    const field = (name: string): unknown => property(body, name) ?? request.query[name]
    if (a.guest === undefined) {
      const refused = requireAvailable(a)
      if (refused !== undefined) return sendUcwaError(reply, refused.status, refused.code, refused.subcode, refused.message)
    }
    const uri = field('onlineMeetingUri') ?? a.guest?.conference
    if (typeof uri !== 'string' || uri.trim() === '') return invalid(reply, 'onlineMeetingUri is required: the conference URI of the meeting (sip:<organizer>;gruu;opaque=app:conf:focus:id:<id>).')
    const name = parseConferenceUri(uri)
    if (a.guest !== undefined && (name === undefined || JSON.stringify(name) !== JSON.stringify(parseConferenceUri(a.guest.conference)))) {
      return sendUcwaError(reply, 403, 'Forbidden', undefined, 'The target conference URI does not match the conference URI provisioned in the anonymous web ticket.')
    }
    const meeting = name === undefined ? undefined : ctx.meetings.find(name.organizer, name.id)
    if (meeting === undefined || meeting.expirationTime <= Date.now()) return sendUcwaError(reply, 404, 'NotFound', 'DestinationNotFound', 'The meeting could not be found.')
    const displayName = a.guest === undefined ? a.user.displayName ?? a.user.sipUri.replace(/@.*$/, '') : field('anonymousDisplayName') ?? a.guest.name
    if (typeof displayName !== 'string' || displayName.trim() === '' || displayName.length > MAX_DISPLAY_NAME) {
      return invalid(reply, `anonymousDisplayName is required for an anonymous join: 1 to ${MAX_DISPLAY_NAME} characters.`)
    }
    const operationId = field('operationId')
    if (operationId !== undefined && (typeof operationId !== 'string' || operationId.length > MAX_OPERATION_ID)) return invalid(reply, `operationId has at most ${MAX_OPERATION_ID} characters.`)
    if (ctx.conferences.attending(meeting.id, a) !== undefined) return sendUcwaError(reply, 409, 'Conflict', 'AlreadyExists', 'This application is in the meeting already.')
    if (ctx.conferences.present(meeting.id) >= MAX_ATTENDEES) return sendUcwaError(reply, 409, 'Conflict', undefined, `The lab holds up to ${MAX_ATTENDEES} attendees in a meeting.`)
    const alias = meeting.organizer.split('@')[0] ?? meeting.organizer
    const joined = ctx.conferences.join(meeting, conferenceUri(alias, ctx.spec.topology.sipDomain, meeting.id), a, displayName, typeof operationId === 'string' ? operationId : undefined)
    publish(admits(meeting, a)
      ? joinedEvents(joined.conference, joined.attendee)
      : refusedEvents(joined.conference, joined.attendee, `The meeting's accessLevel is ${meeting.choices.accessLevel}: a real meeting would hold you in its lobby until a leader admits you, and the lab has no lobby.`))
    return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/invitations/${joined.attendee.invitationId}`).send()
  })

  route('GET', '/invitations/:item', (a, request, reply) => {
    const found = ctx.conferences.find(a, request.params.item)
    const { item } = request.params
    if (found?.attendee.invitationId === item) return sendUcwa(reply, 200, invitationBody(found.conference, found.attendee))
    if (found?.attendee.messagingInvitationId === item) return sendUcwa(reply, 200, messagingInvitationBody(found.attendee))
    return notFound(reply)
  })

  // addMessaging_ref.md: 201 with the messagingInvitation's Location.
  route('POST', '/conversations/:item/messaging/addMessaging', (a, request, reply) => {
    const found = conversationOf(a, request)
    if (found === undefined) return notFound(reply)
    const { conference, attendee } = found
    if (attendee.state !== 'Connected') return sendUcwaError(reply, 409, 'Conflict', undefined, 'The meeting conversation is not connected.')
    if (attendee.messaging === 'Connected') return sendUcwaError(reply, 409, 'Conflict', 'AlreadyExists', 'Messaging is connected already.')
    const body = optionalJsonBody(request.body)
    if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
    const operationId = property(body, 'operationId')
    if (operationId !== undefined && (typeof operationId !== 'string' || operationId.length > MAX_OPERATION_ID)) return invalid(reply, `operationId has at most ${MAX_OPERATION_ID} characters.`)
    ctx.conferences.newMessagingInvitation(conference, attendee, typeof operationId === 'string' ? operationId : undefined)
    publish(messagingAddedEvents(attendee))
    return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/invitations/${attendee.messagingInvitationId ?? ''}`).send()
  })

  // The roster is for those in the meeting: not for one refused, or gone.
  const present = (a: UcwaApplication, request: Request): Found | undefined => {
    const found = conversationOf(a, request)
    return found?.attendee.state === 'Connected' ? found : undefined
  }
  route('GET', '/conversations/:item/participants', (a, request, reply) => {
    const found = present(a, request)
    return found === undefined ? notFound(reply) : sendUcwa(reply, 200, participantsBody(found.conference, found.attendee))
  })
  route('GET', '/conversations/:item/participants/:participant', (a, request, reply) => {
    const found = present(a, request)
    const whom = found?.conference.attendees.find((x) => x.participantId === request.params.participant && x.state === 'Connected')
    return found === undefined || whom === undefined ? notFound(reply) : sendUcwa(reply, 200, participantBody(found.conference, found.attendee, whom))
  })

  // conversation_ref.md, DELETE: leave the meeting.
  route('DELETE', '/conversations/:item', (a, request, reply) => {
    const found = conversationOf(a, request)
    if (found === undefined) return notFound(reply)
    if (found.attendee.state === 'Connected') publish(leftEvents(found.conference, found.attendee))
    return reply.code(204).send()
  })
}
