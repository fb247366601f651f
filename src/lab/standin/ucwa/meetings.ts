// Online meetings a user schedules through UCWA (myOnlineMeetings_ref.md, ScheduleAnOnlineMeeting.md).
// A meeting belongs to its organizer, not to the application that made it, as a meeting on a
// calendar outlives the client; its joinUrl is the pool's meet simple URL, which the Meet stand-in
// (meet.ts) answers with the same conference URI.
import { randomInt } from 'node:crypto'
import { conferenceUri } from '../conference.js'
import { property } from './respond.js'

// The enumerations of the request body (AccessLevel_ref.md, AutomaticLeaderAssignment_ref.md,
// EntryExitAnnouncement_ref.md, PhoneUserAdmission_ref.md, LobbyBypassForPhoneUsers_ref.md).
const CHOICES = {
  accessLevel: ['Everyone', 'Invited', 'Locked', 'None', 'SameEnterprise'],
  automaticLeaderAssignment: ['Disabled', 'Everyone', 'SameEnterprise'],
  entryExitAnnouncement: ['Disabled', 'Enabled', 'Unsupported'],
  phoneUserAdmission: ['Disabled', 'Enabled'],
  lobbyBypassForPhoneUsers: ['Disabled', 'Enabled'],
} as const
type Choice = keyof typeof CHOICES
// What a meeting has when the POST does not say; the walk-through's answer shows these.
const DEFAULTS: Record<Choice, string> = {
  accessLevel: 'SameEnterprise',
  automaticLeaderAssignment: 'Disabled',
  entryExitAnnouncement: 'Disabled',
  phoneUserAdmission: 'Disabled',
  lobbyBypassForPhoneUsers: 'Disabled',
}
// myOnlineMeetings_ref.md, expirationTime: 8 hours when not given; between one year before and ten
// years after now.
const DEFAULT_LIFETIME_MS = 8 * 3600_000
const YEAR_MS = 365.25 * 24 * 3600_000
// The lab's own bound per organizer, so that a looping client cannot fill the process; the reference
// names the error (409 TooManyOnlineMeetings) but not the number.
export const MAX_MEETINGS_PER_ORGANIZER = 100
const ID_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

export interface OnlineMeeting {
  id: string
  organizer: string // user@domain
  subject: string
  description: string
  attendees: string[]
  leaders: string[]
  choices: Record<Choice, string>
  expirationTime: number
  etag: string
}

export type MeetingInput = Omit<OnlineMeeting, 'id' | 'organizer' | 'etag'>

export class MeetingRegistry {
  private readonly meetings = new Map<string, OnlineMeeting>()

  ofOrganizer (organizer: string): OnlineMeeting[] {
    return [...this.meetings.values()].filter((m) => m.organizer === organizer)
  }

  create (organizer: string, input: MeetingInput): OnlineMeeting | undefined {
    if (this.ofOrganizer(organizer).length >= MAX_MEETINGS_PER_ORGANIZER) return undefined
    let id: string
    do id = Array.from({ length: 8 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('')
    while (this.meetings.has(id))
    const meeting: OnlineMeeting = { id, organizer, ...input, etag: String(randomInt(2 ** 31)) }
    this.meetings.set(id, meeting)
    return meeting
  }

  // Meeting ids are matched as the Meet page shows them, without regard to case.
  find (organizer: string, id: string): OnlineMeeting | undefined {
    const meeting = this.meetings.get(id.toUpperCase())
    return meeting?.organizer === organizer ? meeting : undefined
  }

  remove (id: string): void {
    this.meetings.delete(id)
  }

  forget (): void {
    this.meetings.clear()
  }
}

// The POST body, read as the reference gives it; a string says what is wrong.
export function meetingInput (body: Record<string, unknown> | undefined, now = Date.now()): MeetingInput | string {
  const text = (name: string): string | undefined | false => {
    const v = property(body, name)
    return v === undefined || v === null ? undefined : typeof v === 'string' ? v : false
  }
  const list = (name: string): string[] | undefined | false => {
    const v = property(body, name)
    if (v === undefined || v === null) return undefined
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v as string[] : false
  }
  const subject = text('subject')
  const description = text('description')
  if (subject === false || description === false) return 'subject and description must be strings.'
  const attendees = list('attendees')
  const leaders = list('leaders')
  if (attendees === false || leaders === false) return 'attendees and leaders must be lists of SIP URIs.'
  const choices = { ...DEFAULTS }
  for (const name of Object.keys(CHOICES) as Choice[]) {
    const v = text(name)
    if (v === undefined) continue
    const allowed: readonly string[] = CHOICES[name]
    if (v === false || !allowed.includes(v)) return `${name} must be one of ${allowed.join(', ')}.`
    choices[name] = v
  }
  const expiry = text('expirationTime')
  if (expiry === false) return 'expirationTime must be a date such as /Date(1474932029050)/.'
  let expirationTime = now + DEFAULT_LIFETIME_MS
  if (expiry !== undefined) {
    const m = /^\/Date\((-?\d{1,15})\)\/$/.exec(expiry)
    if (m === null) return 'expirationTime must be a date such as /Date(1474932029050)/.'
    expirationTime = Number(m[1])
    if (expirationTime < now - YEAR_MS || expirationTime > now + 10 * YEAR_MS) return 'expirationTime must fall between one year before and ten years after now.'
  }
  return { subject: subject ?? '', description: description ?? '', attendees: attendees ?? [], leaders: leaders ?? [], choices, expirationTime }
}

// myOnlineMeeting as the walk-through's answer shows it. The meet simple URL is meet.<SIP domain>,
// the lab's (and Topology Builder's default) form.
export function meetingBody (meeting: OnlineMeeting, base: string, sipDomain: string): object {
  const alias = meeting.organizer.split('@')[0] ?? meeting.organizer
  return {
    ...meeting.choices,
    attendees: meeting.attendees,
    description: meeting.description,
    expirationTime: `/Date(${meeting.expirationTime})/`,
    leaders: meeting.leaders,
    onlineMeetingId: meeting.id,
    onlineMeetingUri: conferenceUri(alias, sipDomain, meeting.id),
    onlineMeetingRel: 'myOnlineMeetings',
    organizerUri: `sip:${meeting.organizer}`,
    subject: meeting.subject,
    joinUrl: `https://meet.${sipDomain}/${alias}/${meeting.id}`,
    _links: { self: { href: `${base}/onlineMeetings/myOnlineMeetings/${meeting.id}` } },
    rel: 'myOnlineMeeting',
    etag: meeting.etag,
  }
}
