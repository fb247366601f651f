// The conversation of an online meeting, as joinOnlineMeeting_ref.md, onlineMeetingInvitation_ref.md,
// addMessaging_ref.md, participant_ref.md and conversation_ref.md give it, and as the reference's
// anonymous join sample (samples/javascript/AnonMeeting.js) drives it: join, wait for the
// invitation to complete, add messaging when messaging is Disconnected, then send and receive.
// OnlineMeetingTasks.md: UCWA 2.0 supports only instant messaging in meetings, so does the lab.
//
// A conference focus holds the roster on a real pool; here a conference is the joined meeting's
// attendees, each with a conversation of its own application, and every step raises on each
// attendee's event channel what the pages above say it sees.
import { randomBytes } from 'node:crypto'
import { sipKey, sipUriOf } from '../topology.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'
import type { OnlineMeeting } from './meetings.js'
import { appendMessage, textDataUri, type Send } from './messaging.js'

// The lab's own bound, so that a looping client cannot fill the process; Lync's is the pool's
// conferencing policy, which the reference does not give.
export const MAX_ATTENDEES = 100

type ConversationState = 'Connecting' | 'Connected' | 'Disconnected'

export interface Attendee {
  app: UcwaApplication
  conversationId: string
  // The onlineMeetingInvitation of the join, and the messagingInvitation of addMessaging.
  invitationId: string
  messagingInvitationId?: string
  participantId: string
  name: string
  operationId?: string
  messagingOperationId?: string
  state: ConversationState
  messaging: 'Connected' | 'Disconnected'
  // The messages it may read: those sent while it was in the meeting.
  firstMessage: number
  lastMessage?: number
}

interface ConferenceMessage { number: number, from: Attendee, text: string, at: number }

export interface Conference {
  meeting: OnlineMeeting
  uri: string
  threadId: string
  attendees: Attendee[]
  messages: ConferenceMessage[]
}

const newId = (): string => randomBytes(8).toString('hex')

export class ConferenceRegistry {
  private readonly conferences = new Map<string, Conference>()
  private readonly byId = new Map<string, { conference: Conference, attendee: Attendee }>()

  // An application joins (or is refused, and then only its invitation remains to be read).
  // An application that joins again leaves its earlier, ended attendance behind, so that the roster
  // holds at most one entry per application.
  join (meeting: OnlineMeeting, uri: string, app: UcwaApplication, name: string, operationId: string | undefined): { conference: Conference, attendee: Attendee } {
    let conference = this.conferences.get(meeting.id)
    if (conference === undefined) {
      conference = { meeting, uri, threadId: randomBytes(16).toString('base64'), attendees: [], messages: [] }
      this.conferences.set(meeting.id, conference)
    }
    for (const earlier of conference.attendees.filter((a) => a.app === app)) this.unindex(earlier)
    conference.attendees = conference.attendees.filter((a) => a.app !== app)
    const attendee: Attendee = {
      app,
      conversationId: newId(),
      invitationId: newId(),
      participantId: newId(),
      name,
      ...(operationId === undefined ? {} : { operationId }),
      state: 'Connecting',
      messaging: 'Disconnected',
      firstMessage: (conference.messages.at(-1)?.number ?? 0) + 1,
    }
    conference.attendees.push(attendee)
    for (const id of [attendee.conversationId, attendee.invitationId]) this.byId.set(id, { conference, attendee })
    return { conference, attendee }
  }

  // The caller's own attendee for one of its conversation or invitation ids.
  find (app: UcwaApplication, someId: string): { conference: Conference, attendee: Attendee } | undefined {
    const found = this.byId.get(someId)
    return found?.attendee.app === app ? found : undefined
  }

  // addMessaging's messagingInvitation, which replaces the attendee's earlier one.
  newMessagingInvitation (conference: Conference, attendee: Attendee, operationId: string | undefined): void {
    if (attendee.messagingInvitationId !== undefined) this.byId.delete(attendee.messagingInvitationId)
    attendee.messagingInvitationId = newId()
    if (operationId === undefined) delete attendee.messagingOperationId
    else attendee.messagingOperationId = operationId
    this.byId.set(attendee.messagingInvitationId, { conference, attendee })
  }

  // The application's attendee in a meeting it is still in.
  attending (meetingId: string, app: UcwaApplication): Attendee | undefined {
    return this.conferences.get(meetingId)?.attendees.find((a) => a.app === app && a.state !== 'Disconnected')
  }

  present (meetingId: string): number {
    return this.conferences.get(meetingId)?.attendees.filter((a) => a.state === 'Connected').length ?? 0
  }

  of (app: UcwaApplication): Array<{ conference: Conference, attendee: Attendee }> {
    return [...this.conferences.values()].flatMap((conference) => conference.attendees.filter((a) => a.app === app).map((attendee) => ({ conference, attendee })))
  }

  private unindex (a: Attendee): void {
    for (const id of [a.conversationId, a.invitationId, a.messagingInvitationId]) if (id !== undefined) this.byId.delete(id)
  }

  // Everything of an application that is deleted, or of every application when the stand-in stops.
  forget (app?: UcwaApplication): void {
    for (const [meetingId, conference] of this.conferences) {
      const leaving = conference.attendees.filter((a) => app === undefined || a.app === app)
      for (const a of leaving) this.unindex(a)
      conference.attendees = conference.attendees.filter((a) => !leaving.includes(a))
      if (conference.attendees.length === 0) this.conferences.delete(meetingId)
    }
  }
}

// AccessLevel_ref.md: who is let straight in. The organizer always; a guest only when everyone is;
// Invited means the attendees and leaders the organizer named. A real meeting holds the others in
// its lobby until a leader admits them; the lab has no lobby, so they are refused and told why.
export function admits (meeting: OnlineMeeting, app: UcwaApplication): boolean {
  if (app.guest !== undefined) return meeting.choices.accessLevel === 'Everyone'
  const who = sipKey(app.user.sipUri)
  if (who === meeting.organizer) return true
  switch (meeting.choices.accessLevel) {
    case 'Invited': return [...meeting.attendees, ...meeting.leaders].some((u) => sipKey(u) === who)
    case 'Locked': return false
    default: return true
  }
}

const base = (a: Attendee): string => `${APPLICATIONS_PATH}/${a.app.id}/communication`
export const conversationHref = (a: Attendee): string => `${base(a)}/conversations/${a.conversationId}`
export const invitationHref = (a: Attendee): string => `${base(a)}/invitations/${a.invitationId}`
const messagingHref = (a: Attendee): string => `${conversationHref(a)}/messaging`
// How `viewer` names `whom` in its own conversation: participants are resources of each side's conversation.
const participantHref = (viewer: Attendee, whom: Attendee): string => `${conversationHref(viewer)}/participants/${whom.participantId}`

function role (c: Conference, a: Attendee): 'Leader' | 'Attendee' {
  const who = sipKey(a.app.user.sipUri)
  return a.app.guest === undefined && (who === c.meeting.organizer || c.meeting.leaders.some((u) => sipKey(u) === who)) ? 'Leader' : 'Attendee'
}

export function participantBody (c: Conference, viewer: Attendee, whom: Attendee): object {
  const guest = whom.app.guest !== undefined
  const links: Record<string, { href: string }> = { self: { href: participantHref(viewer, whom) }, conversation: { href: conversationHref(viewer) } }
  // A guest is nobody in the directory, and a guest's application has no directory to look in.
  if (!guest && viewer.app.guest === undefined) links.contact = { href: `${APPLICATIONS_PATH}/${viewer.app.id}/people/${encodeURIComponent(sipKey(whom.app.user.sipUri))}` }
  return {
    anonymous: guest,
    inLobby: false,
    local: viewer === whom,
    name: whom.name,
    organizer: !guest && sipKey(whom.app.user.sipUri) === c.meeting.organizer,
    role: role(c, whom),
    sourceNetwork: guest ? 'Unknown' : 'SameEnterprise',
    uri: sipUriOf(whom.app.user),
    _links: links,
    rel: viewer === whom ? 'localParticipant' : 'participant',
  }
}

// Those in the meeting now, as `viewer` sees them; the viewer is its own localParticipant.
function others (c: Conference, viewer: Attendee): Attendee[] {
  return c.attendees.filter((a) => a !== viewer && a.state === 'Connected')
}

export function participantsBody (c: Conference, viewer: Attendee): object {
  return { _links: { self: { href: `${conversationHref(viewer)}/participants` }, participant: others(c, viewer).map((a) => ({ href: participantHref(viewer, a), title: a.name })) }, rel: 'participants' }
}

export function conversationBody (c: Conference, a: Attendee): object {
  const href = conversationHref(a)
  const links: Record<string, { href: string }> = { self: { href }, messaging: { href: messagingHref(a) } }
  if (a.state === 'Connected') {
    links.participants = { href: `${href}/participants` }
    links.localParticipant = { href: participantHref(a, a) }
  }
  return {
    state: a.state,
    threadId: c.threadId,
    subject: c.meeting.subject,
    activeModalities: a.messaging === 'Connected' ? ['Messaging'] : [],
    importance: 'Normal',
    recording: false,
    participantCount: c.attendees.filter((x) => x.state === 'Connected').length,
    _links: links,
    rel: 'conversation',
  }
}

export function messagingBody (a: Attendee): object {
  const href = messagingHref(a)
  const links: Record<string, { href: string }> = { self: { href }, conversation: { href: conversationHref(a) } }
  if (a.state === 'Connected' && a.messaging === 'Disconnected') links.addMessaging = { href: `${href}/addMessaging` }
  if (a.messaging === 'Connected') {
    links.sendMessage = { href: `${href}/messages` }
    links.stopMessaging = { href: `${href}/terminate` }
  }
  return { state: a.messaging, negotiatedMessageFormats: ['Plain'], _links: links, rel: 'messaging' }
}

// onlineMeetingInvitation_ref.md's GET: outgoing, as a join always is.
export function invitationBody (c: Conference, a: Attendee): object {
  const state = a.state === 'Connecting' ? 'Connecting' : a.state === 'Connected' ? 'Connected' : 'Disconnected'
  return {
    ...(a.app.guest === undefined ? {} : { anonymousDisplayName: a.name }),
    availableModalities: ['Messaging'],
    direction: 'Outgoing',
    importance: 'Normal',
    onlineMeetingUri: c.uri,
    ...(a.operationId === undefined ? {} : { operationId: a.operationId }),
    state,
    subject: c.meeting.subject,
    threadId: c.threadId,
    _links: { self: { href: invitationHref(a) }, conversation: { href: conversationHref(a) } },
    rel: 'onlineMeetingInvitation',
  }
}

export function messagingInvitationBody (a: Attendee): object {
  return {
    direction: 'Outgoing',
    importance: 'Normal',
    state: a.messaging,
    ...(a.messagingOperationId === undefined ? {} : { operationId: a.messagingOperationId }),
    _links: { self: { href: `${base(a)}/invitations/${a.messagingInvitationId ?? ''}` }, conversation: { href: conversationHref(a) }, messaging: { href: messagingHref(a) } },
    rel: 'messagingInvitation',
  }
}

const communication = (a: Attendee, events: object[]): object => ({ rel: 'communication', href: base(a), events })
const conversation = (a: Attendee, events: object[]): object => ({ rel: 'conversation', href: conversationHref(a), events })
const embed = (rel: string, href: string, body: object, type: string, extra: object = {}): object => ({ link: { rel, href }, ...extra, _embedded: { [rel]: body }, type })
const participantEvent = (viewer: Attendee, whom: Attendee, type: 'added' | 'deleted'): object => ({ link: { rel: 'participant', href: participantHref(viewer, whom), title: whom.name }, type })
const messagingUpdated = (a: Attendee): object => embed('messaging', messagingHref(a), messagingBody(a), 'updated')

// The join, admitted: the invitation started and the conversation added; the roster, one
// participant added per attendee in the meeting already; the invitation completed with Success once
// the joiner is in the roster, and its conversation connected; then messaging, Disconnected with an
// addMessaging link, which is the sample's cue to add it. Those in the meeting see the newcomer added.
export function joinedEvents (c: Conference, a: Attendee): Send[] {
  const started = [embed('onlineMeetingInvitation', invitationHref(a), invitationBody(c, a), 'started'), embed('conversation', conversationHref(a), conversationBody(c, a), 'added')]
  a.state = 'Connected'
  const present = others(c, a)
  return [
    {
      app: a.app,
      senders: [
        communication(a, started),
        conversation(a, present.map((o) => participantEvent(a, o, 'added'))),
        communication(a, [embed('conversation', conversationHref(a), conversationBody(c, a), 'updated'), embed('onlineMeetingInvitation', invitationHref(a), invitationBody(c, a), 'completed', { status: 'Success' })]),
        conversation(a, [messagingUpdated(a)]),
      ].filter((s) => (s as { events: object[] }).events.length > 0),
    },
    ...present.map((o) => ({ app: o.app, senders: [conversation(o, [participantEvent(o, a, 'added'), embed('conversation', conversationHref(o), conversationBody(c, o), 'updated')])] })),
  ]
}

// The join, not admitted: started, then completed with Failure and the reason.
export function refusedEvents (c: Conference, a: Attendee, why: string): Send[] {
  const started = embed('onlineMeetingInvitation', invitationHref(a), invitationBody(c, a), 'started')
  a.state = 'Disconnected'
  const completed = embed('onlineMeetingInvitation', invitationHref(a), invitationBody(c, a), 'completed', { status: 'Failure', reason: { code: 'Forbidden', message: why } })
  return [{ app: a.app, senders: [communication(a, [started, completed])] }]
}

// addMessaging (addMessaging_ref.md): a messagingInvitation started, messaging connected, the
// invitation completed.
export function messagingAddedEvents (a: Attendee): Send[] {
  const href = `${base(a)}/invitations/${a.messagingInvitationId ?? ''}`
  const started = embed('messagingInvitation', href, messagingInvitationBody(a), 'started')
  a.messaging = 'Connected'
  return [{
    app: a.app,
    senders: [communication(a, [started]), conversation(a, [messagingUpdated(a)]), communication(a, [embed('messagingInvitation', href, messagingInvitationBody(a), 'completed', { status: 'Success' })])],
  }]
}

export function messagingStoppedEvents (a: Attendee): Send[] {
  a.messaging = 'Disconnected'
  return [{ app: a.app, senders: [conversation(a, [messagingUpdated(a)])] }]
}

// A message as `viewer` sees it (message_ref.md); a received one carries its text and who sent it,
// as the sample reads it (_links.plainMessage, _links.participant).
export function messageBody (viewer: Attendee, m: ConferenceMessage): object {
  const href = `${messagingHref(viewer)}/messages/${m.number}`
  const incoming = m.from !== viewer
  const links: Record<string, { href: string }> = { self: { href }, messaging: { href: messagingHref(viewer) } }
  if (incoming) {
    links.participant = { href: participantHref(viewer, m.from) }
    links.plainMessage = { href: textDataUri(m.text) }
  }
  return { direction: incoming ? 'Incoming' : 'Outgoing', timeStamp: `/Date(${m.at})/`, _links: links, rel: 'message' }
}

// A message `a` may read: one sent while it was in the meeting, and still kept.
export function findMessage (c: Conference, a: Attendee, number: number): ConferenceMessage | undefined {
  if (number < a.firstMessage || (a.lastMessage !== undefined && number > a.lastMessage)) return undefined
  return c.messages.find((m) => m.number === number)
}

// sendMessage in a meeting: completed for the sender, and for everyone whose messaging is connected.
export function messageSentEvents (c: Conference, from: Attendee, text: string): { number: number, sends: Send[] } {
  const m = appendMessage(c.messages, (number): ConferenceMessage => ({ number, from, text, at: Date.now() }))
  const to = c.attendees.filter((a) => a.state === 'Connected' && a.messaging === 'Connected')
  return {
    number: m.number,
    sends: to.map((a) => ({ app: a.app, senders: [conversation(a, [embed('message', `${messagingHref(a)}/messages/${m.number}`, messageBody(a, m), 'completed', { status: 'Success' })])] })),
  }
}

// Leaving (DELETE on the conversation, or the application deleted): the leaver's messaging (if it
// had it) and conversation disconnected, and the others see the participant deleted.
export function leftEvents (c: Conference, a: Attendee): Send[] {
  const present = others(c, a)
  const hadMessaging = a.messaging === 'Connected'
  a.state = 'Disconnected'
  a.lastMessage = c.messages.at(-1)?.number ?? a.firstMessage - 1
  a.messaging = 'Disconnected'
  return [
    { app: a.app, senders: [...(hadMessaging ? [conversation(a, [messagingUpdated(a)])] : []), communication(a, [embed('conversation', conversationHref(a), conversationBody(c, a), 'updated')])] },
    ...present.map((o) => ({ app: o.app, senders: [conversation(o, [participantEvent(o, a, 'deleted'), embed('conversation', conversationHref(o), conversationBody(c, o), 'updated')])] })),
  ]
}
