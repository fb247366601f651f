// Instant messaging between two lab users, shaped as the UCWA 2.0 reference's walk-throughs show
// both sides of it: SendAnIM.md (the inviter) and ReceiveAnIM.md (the invitee), with
// startMessaging_ref.md, messagingInvitation_ref.md, accept_ref.md, sendMessage_ref.md,
// message_ref.md, messaging_ref.md, stopMessaging_ref.md and OperationResource.md.
//
// A Front End carries an IM over SIP between the two users' endpoints; the lab has no SIP, so a
// conversation is one thread here with a side per application, and each step raises on both event
// channels the events the walk-throughs show. Paths follow the walk-throughs (messagingInvitations,
// messaging/messages, messaging/terminate).
import { randomBytes } from 'node:crypto'
import type { LabUser } from '../types.js'
import { sipKey, sipUriOf } from '../topology.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'

export type ThreadState = 'Connecting' | 'Connected' | 'Disconnected'

interface Side {
  app: UcwaApplication
  conversationId: string
  invitationId: string
}

interface Thread {
  threadId: string
  subject: string
  importance: string
  operationId?: string
  firstMessage?: string
  inviter: Side
  invitee: Side
  state: ThreadState
  messages: SentMessage[]
}

interface SentMessage { number: number, from: Side, text: string, at: number }

export interface Send { app: UcwaApplication, senders: object[] }

const id = (): string => randomBytes(8).toString('hex')

function appBase (app: UcwaApplication): string {
  return `${APPLICATIONS_PATH}/${app.id}`
}

function conversationHref (side: Side): string {
  return `${appBase(side.app)}/communication/conversations/${side.conversationId}`
}

function invitationHref (side: Side): string {
  return `${appBase(side.app)}/communication/messagingInvitations/${side.invitationId}`
}

function contactHref (side: Side, user: LabUser): string {
  return `${appBase(side.app)}/people/${encodeURIComponent(sipKey(user.sipUri))}`
}

// PayloadFormat.md: "UCWA 2.0 always uses URL encoding in data URIs"; ReceiveAnIM.md shows the
// form encoding (Hi+Tosh%0d%0a).
export function textDataUri (text: string): string {
  return 'data:text/plain;charset=utf-8,' + new URLSearchParams({ t: text }).toString().slice(2)
}

// The text of a data URI a client sent (startMessaging_ref.md's _links.message), or undefined.
export function textOfDataUri (href: unknown): string | undefined {
  if (typeof href !== 'string') return undefined
  const m = /^\s*data\s*:([^,]*),(.*)$/s.exec(href)
  if (m === null) return undefined
  // startMessaging_ref.md breaks its base64 sample over lines; the URL-encoded form has no spaces.
  if (/;\s*base64\s*$/i.test(m[1]!)) return Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64').toString('utf8')
  try { return decodeURIComponent(m[2]!.replace(/\+/g, ' ')) } catch { return undefined }
}

export class ConversationRegistry {
  private readonly threads = new Map<string, Thread>()
  // Conversation ids and invitation ids of either side, to their thread.
  private readonly byConversation = new Map<string, Thread>()
  private readonly byInvitation = new Map<string, Thread>()
  // Invitations that could ring nowhere: what GET on their Location answers.
  private readonly unanswered = new Map<string, { app: UcwaApplication, body: object }>()

  start (inviter: UcwaApplication, invitee: UcwaApplication, o: { subject: string, importance: string, operationId?: string, threadId?: string, firstMessage?: string }): Thread {
    const thread: Thread = {
      threadId: o.threadId ?? randomBytes(16).toString('hex'),
      subject: o.subject,
      importance: o.importance,
      ...(o.operationId === undefined ? {} : { operationId: o.operationId }),
      ...(o.firstMessage === undefined ? {} : { firstMessage: o.firstMessage }),
      inviter: { app: inviter, conversationId: id(), invitationId: id() },
      invitee: { app: invitee, conversationId: id(), invitationId: id() },
      state: 'Connecting',
      messages: [],
    }
    this.threads.set(thread.threadId, thread)
    for (const side of [thread.inviter, thread.invitee]) {
      this.byConversation.set(side.conversationId, thread)
      this.byInvitation.set(side.invitationId, thread)
    }
    return thread
  }

  // A threadId is taken while its conversation is not over (ErrorSubcode_ref.md, ThreadIdAlreadyExists).
  hasThread (threadId: string): boolean {
    const thread = this.threads.get(threadId)
    return thread !== undefined && thread.state !== 'Disconnected'
  }

  remember (invitationId: string, app: UcwaApplication, body: object): void {
    this.unanswered.set(invitationId, { app, body })
  }

  unansweredInvitation (app: UcwaApplication, invitationId: string): object | undefined {
    const found = this.unanswered.get(invitationId)
    return found?.app === app ? found.body : undefined
  }

  // The thread and the caller's side of it, for a conversation (or an invitation) id the caller's
  // application owns; another application's ids are not found.
  find (app: UcwaApplication, someId: string, kind: 'conversation' | 'invitation' = 'conversation'): { thread: Thread, side: Side, other: Side } | undefined {
    const thread = (kind === 'conversation' ? this.byConversation : this.byInvitation).get(someId)
    if (thread === undefined) return undefined
    if (thread.inviter.app === app) return { thread, side: thread.inviter, other: thread.invitee }
    if (thread.invitee.app === app) return { thread, side: thread.invitee, other: thread.inviter }
    return undefined
  }

  // Everything of an application that is deleted, or of every application when the stand-in stops.
  forget (app?: UcwaApplication): void {
    for (const [id, thread] of this.threads) {
      if (app !== undefined && thread.inviter.app !== app && thread.invitee.app !== app) continue
      this.threads.delete(id)
      for (const side of [thread.inviter, thread.invitee]) {
        this.byConversation.delete(side.conversationId)
        this.byInvitation.delete(side.invitationId)
      }
    }
    for (const [id, u] of this.unanswered) if (app === undefined || u.app === app) this.unanswered.delete(id)
  }

  of (app: UcwaApplication): Array<{ thread: Thread, side: Side }> {
    return [...this.threads.values()].flatMap((thread) =>
      thread.inviter.app === app ? [{ thread, side: thread.inviter }] : thread.invitee.app === app ? [{ thread, side: thread.invitee }] : [])
  }
}

function participant (side: Side, user: LabUser): object {
  return {
    sourceNetwork: 'SameEnterprise',
    anonymous: false,
    name: user.displayName ?? user.sipUri.replace(/@.*$/, ''),
    uri: sipUriOf(user),
    _links: { conversation: { href: conversationHref(side) }, contact: { href: contactHref(side, user) }, contactPresence: { href: contactHref(side, user) + '/presence' } },
    rel: 'participant',
  }
}

export function conversationBody (thread: Thread, side: Side): object {
  const href = conversationHref(side)
  const incoming = side === thread.invitee && thread.state === 'Connecting'
  return {
    state: incoming ? 'Incoming' : thread.state,
    threadId: thread.threadId,
    subject: thread.subject,
    activeModalities: thread.state === 'Disconnected' ? [] : ['Messaging'],
    importance: thread.importance,
    recording: false,
    _links: { self: { href }, messaging: { href: `${href}/messaging` } },
    rel: 'conversation',
  }
}

export function messagingBody (thread: Thread, side: Side): object {
  const href = `${conversationHref(side)}/messaging`
  const links: Record<string, { href: string }> = { self: { href }, conversation: { href: conversationHref(side) } }
  if (thread.state !== 'Disconnected') links.stopMessaging = { href: `${href}/terminate` }
  if (thread.state === 'Connected') links.sendMessage = { href: `${href}/messages` }
  return { state: thread.state, negotiatedMessageFormats: ['Plain'], _links: links, rel: 'messaging' }
}

export function invitationBody (thread: Thread, side: Side, other: Side): object {
  const outgoing = side === thread.inviter
  const href = invitationHref(side)
  const links: Record<string, { href: string }> = {
    self: { href },
    to: { href: contactHref(side, thread.invitee.app.user) },
    conversation: { href: conversationHref(side) },
    messaging: { href: `${conversationHref(side)}/messaging` },
  }
  if (!outgoing && thread.state === 'Connecting') {
    links.accept = { href: `${href}/accept` }
    links.decline = { href: `${href}/decline` }
  }
  if (!outgoing && thread.firstMessage !== undefined) links.message = { href: textDataUri(thread.firstMessage) }
  return {
    direction: outgoing ? 'Outgoing' : 'Incoming',
    importance: thread.importance,
    threadId: thread.threadId,
    state: thread.state,
    ...(outgoing && thread.operationId !== undefined ? { operationId: thread.operationId } : {}),
    subject: thread.subject,
    _links: links,
    ...(outgoing ? {} : { _embedded: { from: participant(side, other.app.user) } }),
    rel: 'messagingInvitation',
  }
}

function communicationSender (side: Side, events: object[]): object {
  return { rel: 'communication', href: `${appBase(side.app)}/communication`, events }
}

function conversationSender (side: Side, events: object[]): object {
  return { rel: 'conversation', href: conversationHref(side), events }
}

function invitationEvent (thread: Thread, side: Side, other: Side, type: string, status?: string): object {
  return { link: { rel: 'messagingInvitation', href: invitationHref(side) }, ...(status === undefined ? {} : { status }), _embedded: { messagingInvitation: invitationBody(thread, side, other) }, type }
}

function conversationEvent (thread: Thread, side: Side, type: string): object {
  return { link: { rel: 'conversation', href: conversationHref(side) }, _embedded: { conversation: conversationBody(thread, side) }, type }
}

function messagingEvent (thread: Thread, side: Side): object {
  return { link: { rel: 'messaging', href: `${conversationHref(side)}/messaging` }, _embedded: { messaging: messagingBody(thread, side) }, type: 'updated' }
}

// SendAnIM.md step 4 and ReceiveAnIM.md step 8: the invitation started, the conversation added.
export function startedEvents (thread: Thread): Send[] {
  const { inviter, invitee } = thread
  return [
    { app: inviter.app, senders: [communicationSender(inviter, [invitationEvent(thread, inviter, invitee, 'started'), conversationEvent(thread, inviter, 'added')])] },
    { app: invitee.app, senders: [communicationSender(invitee, [invitationEvent(thread, invitee, inviter, 'started'), conversationEvent(thread, invitee, 'added')])] },
  ]
}

// Accepted (SendAnIM.md step 6, ReceiveAnIM.md step 15): messaging and the conversation connected,
// then the invitation completed with Success; or declined, completed with a reason.
export function answer (thread: Thread, accepted: boolean, why = 'The invitation was declined.'): Send[] {
  const { inviter, invitee } = thread
  thread.state = accepted ? 'Connected' : 'Disconnected'
  const completed = (side: Side, other: Side): object => accepted
    ? { ...invitationEvent(thread, side, other, 'completed', 'Success') }
    : { ...invitationEvent(thread, side, other, 'completed', 'Failure'), reason: { code: 'RemoteFailure', message: why } }
  const forSide = (side: Side, other: Side): Send => ({
    app: side.app,
    senders: accepted
      ? [
          communicationSender(side, [conversationEvent(thread, side, 'updated')]),
          conversationSender(side, [messagingEvent(thread, side)]),
          communicationSender(side, [completed(side, other)]),
        ]
      : [communicationSender(side, [completed(side, other)])],
  })
  return [forSide(inviter, invitee), forSide(invitee, inviter)]
}

// sendMessage (sendMessage_ref.md; SendAnIM.md step 12, ReceiveAnIM.md step 16): the message
// completed on both sides, the receiver's with its text.
// A message as one side sees it (message_ref.md): the receiver's carries the text.
export function messageBody (side: Side, m: SentMessage): object {
  const href = `${conversationHref(side)}/messaging/messages/${m.number}`
  const incoming = m.from !== side
  const links: Record<string, { href: string }> = { self: { href }, messaging: { href: `${conversationHref(side)}/messaging` } }
  if (incoming) {
    links.contact = { href: contactHref(side, m.from.app.user) }
    links.plainMessage = { href: textDataUri(m.text) }
  }
  return { direction: incoming ? 'Incoming' : 'Outgoing', timeStamp: `/Date(${m.at})/`, _links: links, rel: 'message' }
}

// The lab keeps the last KEPT_MESSAGES of a conversation readable at their Locations (older ones
// answer 404), so that a chatty client cannot fill the process; the reference names no such bound.
export const KEPT_MESSAGES = 200

// Appends the next message (numbered on from the last) and forgets the oldest past the bound.
export function appendMessage<T extends { number: number }> (list: T[], make: (number: number) => T): T {
  const m = make((list.at(-1)?.number ?? 0) + 1)
  list.push(m)
  if (list.length > KEPT_MESSAGES) list.shift()
  return m
}

export function findMessage (thread: Thread, number: number): SentMessage | undefined {
  return thread.messages.find((m) => m.number === number)
}

export function messageSent (thread: Thread, from: Side, to: Side, text: string): { number: number, sends: Send[] } {
  const m = appendMessage(thread.messages, (number): SentMessage => ({ number, from, text, at: Date.now() }))
  const event = (side: Side): object => ({ link: { rel: 'message', href: `${conversationHref(side)}/messaging/messages/${m.number}` }, status: 'Success', _embedded: { message: messageBody(side, m) }, type: 'completed' })
  return {
    number: m.number,
    sends: [
      { app: from.app, senders: [conversationSender(from, [event(from)])] },
      { app: to.app, senders: [conversationSender(to, [event(to)])] },
    ],
  }
}

// stopMessaging: messaging and the conversation disconnected on both sides.
export function stopped (thread: Thread): Send[] {
  thread.state = 'Disconnected'
  return [thread.inviter, thread.invitee].map((side) => ({
    app: side.app,
    senders: [conversationSender(side, [messagingEvent(thread, side)]), communicationSender(side, [conversationEvent(thread, side, 'updated')])],
  }))
}

// The application's conversations that are not over, and the meetings it is in (their hrefs).
export function conversationsBody (app: UcwaApplication, registry: ConversationRegistry, meetings: string[]): object {
  const href = `${appBase(app)}/communication/conversations`
  const twoParty = registry.of(app).filter(({ thread }) => thread.state !== 'Disconnected').map(({ side }) => conversationHref(side))
  return { rel: 'conversations', _links: { self: { href }, conversation: [...twoParty, ...meetings].map((h) => ({ href: h })) } }
}

// An invitation to someone with no application that can take it: started, then at once completed
// with a reason (messagingInvitation_ref.md: an invitation nobody answers completes with failure).
export function unansweredEvents (inviter: UcwaApplication, invitee: LabUser, o: { subject: string, importance: string, operationId?: string }): { invitationId: string, body: object, sends: Send[] } {
  const invitationId = id()
  const href = `${appBase(inviter)}/communication/messagingInvitations/${invitationId}`
  const body = (state: string): object => ({
    direction: 'Outgoing',
    importance: o.importance,
    state,
    ...(o.operationId === undefined ? {} : { operationId: o.operationId }),
    subject: o.subject,
    _links: { self: { href }, to: { href: `${appBase(inviter)}/people/${encodeURIComponent(sipKey(invitee.sipUri))}` } },
    rel: 'messagingInvitation',
  })
  const sender = (events: object[]): object => ({ rel: 'communication', href: `${appBase(inviter)}/communication`, events })
  return {
    invitationId,
    body: body('Disconnected'),
    sends: [{
      app: inviter,
      senders: [sender([
        { link: { rel: 'messagingInvitation', href }, _embedded: { messagingInvitation: body('Connecting') }, type: 'started' },
        { link: { rel: 'messagingInvitation', href }, status: 'Failure', reason: { code: 'RemoteFailure', message: `${sipUriOf(invitee)} is not signed in to messaging.` }, _embedded: { messagingInvitation: body('Disconnected') }, type: 'completed' },
      ])],
    }],
  }
}
