// The HTTP side of messaging.ts: start an invitation, accept or decline it, send messages, stop.
// Each POST answers as the reference does (201 with Location for what starts an operation, 204
// otherwise) and raises its events on both users' event channels.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { findUser } from '../topology.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { requireAvailable } from './me.js'
import { meetingConversationRoutes } from './meeting-join-routes.js'
import { answer, conversationBody, conversationsBody, findMessage, invitationBody, messageBody, messageSent, messagingBody, startedEvents, stopped, textOfDataUri, unansweredEvents, type Send } from './messaging.js'
import { optionalJsonBody, property, sendUcwa, sendUcwaError } from './respond.js'

type Request = AppRequest & { params: { id: string, item: string } }

// startMessaging_ref.md: the limits of subject, operationId and threadId, and importance's values.
const MAX_SUBJECT = 250
const MAX_OPERATION_ID = 50
const MAX_THREAD_ID = 250
const IMPORTANCE = ['Normal', 'Urgent', 'Emergency']

export function registerMessaging (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const communication = `${APPLICATIONS_PATH}/:id/communication`
  // An application deleted meanwhile has no channel left to queue for.
  const publish = (sends: Send[]): void => { for (const s of sends) if (ctx.applications.has(s.app.id)) ctx.channels.publish(s.app.id, ...s.senders) }
  const messaging = (a: UcwaApplication): boolean => a.me.supportedModalities.some((m) => m.toLowerCase() === 'messaging')
  const invalid = (reply: FastifyReply, message: string): FastifyReply => sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', message)
  const notFound = (reply: FastifyReply): FastifyReply => sendUcwaError(reply, 404, 'NotFound', undefined, 'No such conversation or invitation in this application.')
  const conflict = (reply: FastifyReply, message: string): FastifyReply => sendUcwaError(reply, 409, 'Conflict', undefined, message)
  // The conversation paths are a meeting guest's too: its meeting conversation is found there.
  const route = (method: 'GET' | 'POST', path: string, handle: (a: UcwaApplication, request: Request, reply: FastifyReply) => FastifyReply, guests = false): void => {
    app.route({ method, url: communication + path, handler: async (request, reply) => {
      const application = callerApplication(request as Request, reply, ctx, site, { guests })
      return application === undefined ? reply : handle(application, request as Request, reply)
    } })
  }
  const meeting = meetingConversationRoutes(ctx)

  route('POST', '/messagingInvitations', (a, request, reply) => {
    const refused = requireAvailable(a)
    if (refused !== undefined) return sendUcwaError(reply, refused.status, refused.code, refused.subcode, refused.message)
    if (!messaging(a)) return sendUcwaError(reply, 403, 'Forbidden', undefined, 'This application did not sign in with the Messaging modality.')
    const body = optionalJsonBody(request.body)
    if (body === 'invalid') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', 'The body is not a JSON object.')
    const field = (name: string): unknown => property(body, name)
    const to = field('to') ?? request.query.to
    if (typeof to !== 'string' || to.trim() === '') return invalid(reply, 'to is required: the SIP URI of the person to invite.')
    const invitee = findUser(ctx.spec.topology, to.replace(/\s+/g, '').replace(/^sip:/i, ''))
    if (invitee === undefined) return invalid(reply, `to names nobody in this directory: ${to}`)
    const subject = field('subject') ?? ''
    const importanceValue = field('importance') ?? 'Normal'
    const importance = typeof importanceValue === 'string' ? IMPORTANCE.find((i) => i.toLowerCase() === importanceValue.toLowerCase()) : undefined
    const operationId = field('operationId')
    const threadId = field('threadId')
    if (typeof subject !== 'string' || subject.length > MAX_SUBJECT) return invalid(reply, `subject has at most ${MAX_SUBJECT} characters.`)
    if (importance === undefined) return invalid(reply, `importance is one of ${IMPORTANCE.join(', ')}.`)
    if (operationId !== undefined && (typeof operationId !== 'string' || operationId.length > MAX_OPERATION_ID)) return invalid(reply, `operationId has at most ${MAX_OPERATION_ID} characters.`)
    if (threadId !== undefined && (typeof threadId !== 'string' || threadId.length > MAX_THREAD_ID)) return invalid(reply, `threadId has at most ${MAX_THREAD_ID} characters.`)
    if (typeof threadId === 'string' && ctx.conversations.hasThread(threadId)) return sendUcwaError(reply, 409, 'Conflict', 'ThreadIdAlreadyExists', 'A conversation with this threadId exists already.')
    const links = field('_links') as Record<string, { href?: unknown }> | undefined
    const firstMessage = textOfDataUri(links?.message?.href)
    const options = { subject, importance, ...(typeof operationId === 'string' ? { operationId } : {}) }
    // Lync rings every endpoint of the invitee; the lab rings the newest one that is available.
    const answering = ctx.applications.ofUser(invitee.sipUri).filter((b) => b.me.available && messaging(b) && b !== a).at(-1)
    if (answering === undefined) {
      const { invitationId, body: invitation, sends } = unansweredEvents(a, invitee, options)
      ctx.conversations.remember(invitationId, a, invitation)
      publish(sends)
      return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/messagingInvitations/${invitationId}`).send()
    }
    const thread = ctx.conversations.start(a, answering, { ...options, ...(typeof threadId === 'string' ? { threadId } : {}), ...(firstMessage === undefined ? {} : { firstMessage }) })
    publish(startedEvents(thread))
    return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/messagingInvitations/${thread.inviter.invitationId}`).send()
  })

  route('GET', '/messagingInvitations/:item', (a, request, reply) => {
    const found = ctx.conversations.find(a, request.params.item, 'invitation')
    if (found !== undefined) return sendUcwa(reply, 200, invitationBody(found.thread, found.side, found.other))
    const unanswered = ctx.conversations.unansweredInvitation(a, request.params.item)
    return unanswered === undefined ? notFound(reply) : sendUcwa(reply, 200, unanswered)
  })
  for (const [verb, accepted] of [['accept', true], ['decline', false]] as const) {
    route('POST', `/messagingInvitations/:item/${verb}`, (a, request, reply) => {
      const found = ctx.conversations.find(a, request.params.item, 'invitation')
      if (found === undefined || found.side !== found.thread.invitee) return notFound(reply)
      if (found.thread.state !== 'Connecting') return conflict(reply, 'The invitation has been answered already.')
      publish(answer(found.thread, accepted))
      return reply.code(204).send()
    })
  }

  route('GET', '/conversations', (a, _request, reply) => sendUcwa(reply, 200, conversationsBody(a, ctx.conversations, meeting.active(a))), true)
  route('GET', '/conversations/:item', (a, request, reply) => {
    const found = ctx.conversations.find(a, request.params.item)
    return found === undefined ? meeting.conversation(a, request.params.item, reply) ?? notFound(reply) : sendUcwa(reply, 200, conversationBody(found.thread, found.side))
  }, true)
  route('GET', '/conversations/:item/messaging', (a, request, reply) => {
    const found = ctx.conversations.find(a, request.params.item)
    return found === undefined ? meeting.messaging(a, request.params.item, reply) ?? notFound(reply) : sendUcwa(reply, 200, messagingBody(found.thread, found.side))
  }, true)
  route('POST', '/conversations/:item/messaging/messages', (a, request, reply) => {
    const text = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : ''
    const found = ctx.conversations.find(a, request.params.item)
    if (found === undefined) return meeting.send(a, request.params.item, text, reply) ?? notFound(reply)
    if (found.thread.state !== 'Connected') return conflict(reply, 'Messaging is not connected.')
    if (text === '') return invalid(reply, 'The message is the body, as text/plain.')
    const { number, sends } = messageSent(found.thread, found.side, found.other, text)
    publish(sends)
    return reply.code(201).header('Location', `${APPLICATIONS_PATH}/${a.id}/communication/conversations/${found.side.conversationId}/messaging/messages/${number}`).send()
  }, true)
  route('GET', '/conversations/:item/messaging/messages/:number', (a, request, reply) => {
    const number = Number((request.params as { number?: string }).number)
    const found = ctx.conversations.find(a, request.params.item)
    if (found === undefined) return meeting.message(a, request.params.item, number, reply) ?? notFound(reply)
    const message = findMessage(found.thread, number)
    return message === undefined ? notFound(reply) : sendUcwa(reply, 200, messageBody(found.side, message))
  }, true)
  // Before the invitee has answered, stopping cancels the invitation: it completes on both sides.
  route('POST', '/conversations/:item/messaging/terminate', (a, request, reply) => {
    const found = ctx.conversations.find(a, request.params.item)
    if (found === undefined) return meeting.stop(a, request.params.item, reply) ?? notFound(reply)
    if (found.thread.state === 'Connecting') publish(answer(found.thread, false, 'The inviter stopped before an answer.'))
    else if (found.thread.state === 'Connected') publish(stopped(found.thread))
    return reply.code(204).send()
  }, true)
}

// An application deleted (routes.ts) ends its conversations: the other side is told, as if the
// deleted side had stopped, and nothing of them is kept.
export function endConversationsOf (ctx: StandInContext, app: UcwaApplication): void {
  for (const { thread } of ctx.conversations.of(app)) {
    const sends = thread.state === 'Connecting' ? answer(thread, false, 'The other side signed out.') : thread.state === 'Connected' ? stopped(thread) : []
    for (const s of sends) if (s.app !== app && ctx.applications.has(s.app.id)) ctx.channels.publish(s.app.id, ...s.senders)
  }
  ctx.conversations.forget(app)
}
