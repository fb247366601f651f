// The signed-in user's own resources in a UCWA application: me, makeMeAvailable, presence, note,
// location and reportMyActivity, shaped as the UCWA 2.0 reference shows them (me_ref.md,
// makeMeAvailable_ref.md, presence_ref.md, note_ref.md, location_ref.md, reportMyActivity_ref.md,
// and MeDashboard.md for which links exist before and after makeMeAvailable).
//
// A Front End publishes presence through SIP, which the lab has not; the state lives in the
// application and the events a client would see (EventChannelDetails.md) are raised here.
import type { UcwaApplication } from './applications.js'
import { APPLICATIONS_PATH } from './applications.js'
import { sipUriOf } from '../topology.js'
import { PREFERRED_AVAILABILITY, type PreferredAvailability } from './me-state.js'
import { property } from './respond.js'

// makeMeAvailable_ref.md: the modalities a client may sign in with (403 for the others).
const ALLOWED_MODALITIES = new Set(['messaging', 'phoneaudio'])
const KNOWN_MODALITIES = new Set(['audio', 'video', 'phoneaudio', 'applicationsharing', 'messaging', 'datacollaboration', 'panoramicvideo'])
// location_ref.md: "60 characters maximum".
export const MAX_LOCATION_LENGTH = 60

type Link = { href: string }

function base (app: UcwaApplication): string {
  return `${APPLICATIONS_PATH}/${app.id}`
}

// Links to resources the lab does not serve yet (callForwardingSettings, phones, photo) are left
// out, so that a client following me's links meets no 404.
export function meBody (app: UcwaApplication): object {
  const link = (path: string): Link => ({ href: base(app) + path })
  const uri = sipUriOf(app.user)
  // A meeting guest is its made-up URI and the name it gave, as a pool's anonymous application shows it.
  if (app.guest !== undefined) return { uri, name: app.guest.name, _links: { self: link('/me') }, rel: 'me' }
  const links: Record<string, Link> = app.me.available
    ? { self: link('/me'), note: link('/me/note'), presence: link('/me/presence'), location: link('/me/location'), reportMyActivity: link('/me/reportMyActivity'), phones: link('/me/phones') }
    : { self: link('/me'), makeMeAvailable: link('/me/makeMeAvailable') }
  return {
    name: app.user.displayName ?? app.user.sipUri.replace(/@.*$/, ''),
    uri,
    ...(app.me.available ? { emailAddresses: [uri.replace(/^sip:/, '')] } : {}),
    _links: links,
    rel: 'me',
  }
}

// phones_ref.md: the user's phone numbers by type, as the batch_ref.md sample lists them. Lab users
// have none, so each type is there with an empty number, kept off the contact card.
export const PHONE_TYPES = ['work', 'mobile', 'home', 'other'] as const

export function phoneBody (app: UcwaApplication, type: string): object {
  return { number: '', type, includeInContactCard: false, _links: { self: { href: `${base(app)}/me/phones/${type}` } }, rel: 'phone' }
}

export function phonesBody (app: UcwaApplication): object {
  return { _links: { self: { href: `${base(app)}/me/phones` } }, _embedded: { phone: PHONE_TYPES.map((type) => phoneBody(app, type)) }, rel: 'phones' }
}

export function presenceBody (app: UcwaApplication): object {
  return { rel: 'presence', availability: app.me.availability, _links: { self: { href: `${base(app)}/me/presence` } } }
}

export function noteBody (app: UcwaApplication): object {
  return { rel: 'note', message: app.me.note, type: 'Personal', _links: { self: { href: `${base(app)}/me/note` } } }
}

export function locationBody (app: UcwaApplication): object {
  return { rel: 'location', location: app.me.location, _links: { self: { href: `${base(app)}/me/location` } } }
}

// Once available, communication links to starting an IM, to joining a meeting and to the
// conversations (EventChannelDetails.md's sample, with the walk-throughs' paths); a meeting guest's
// has the join and the conversations from the start, and no IM of its own.
export function communicationBody (app: UcwaApplication): object {
  const href = `${base(app)}/communication`
  const links: Record<string, Link> = { self: { href } }
  if (app.me.available || app.guest !== undefined) {
    links.conversations = { href: `${href}/conversations` }
    links.joinOnlineMeeting = { href: `${href}/joinOnlineMeeting` }
  }
  if (app.me.available) links.startMessaging = { href: `${href}/messagingInvitations` }
  return {
    supportedModalities: app.guest === undefined ? app.me.supportedModalities : ['Messaging'],
    supportedMessageFormats: app.guest === undefined ? app.me.supportedMessageFormats : ['Plain'],
    _links: links,
    rel: 'communication',
  }
}

function availabilityOf (value: unknown): PreferredAvailability | undefined {
  if (typeof value !== 'string') return undefined
  return PREFERRED_AVAILABILITY.find((a) => a.toLowerCase() === value.toLowerCase())
}

function stringList (value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined
}

export type MeFailure = { status: number, code: string, subcode?: string, message: string }

const mustBeAvailable: MeFailure = { status: 409, code: 'Conflict', subcode: 'MakeMeAvailableRequired', message: 'Call makeMeAvailable first.' }

// makeMeAvailable (makeMeAvailable_ref.md): every field optional; 409 AlreadyExists the second time.
export function makeMeAvailable (app: UcwaApplication, body: Record<string, unknown> | undefined): MeFailure | undefined {
  if (app.me.available) return { status: 409, code: 'Conflict', subcode: 'AlreadyExists', message: 'makeMeAvailable has already succeeded for this application.' }
  const signInAs = property(body, 'signInAs')
  const availability = signInAs === undefined || signInAs === null ? 'Online' : availabilityOf(signInAs)
  if (availability === undefined) return invalid(`signInAs must be one of ${PREFERRED_AVAILABILITY.join(', ')}.`)
  const modalities = property(body, 'supportedModalities') ?? ['Messaging']
  const formats = property(body, 'supportedMessageFormats') ?? ['Plain']
  const modalityList = stringList(modalities)
  const formatList = stringList(formats)
  if (modalityList === undefined || modalityList.some((m) => !KNOWN_MODALITIES.has(m.toLowerCase()))) return invalid('supportedModalities must be a list of modalities.')
  if (formatList === undefined || formatList.some((f) => !['plain', 'html'].includes(f.toLowerCase()))) return invalid('supportedMessageFormats must list Plain and/or Html.')
  if (modalityList.some((m) => !ALLOWED_MODALITIES.has(m.toLowerCase()))) return { status: 403, code: 'Forbidden', message: 'Only Messaging and PhoneAudio can be signed in with here.' }
  Object.assign(app.me, { available: true, availability, supportedModalities: modalityList, supportedMessageFormats: formatList })
  return undefined
}

// presence_ref.md: POST { availability }; an empty body resets it.
export function setPresence (app: UcwaApplication, body: Record<string, unknown> | undefined): MeFailure | undefined {
  if (!app.me.available) return mustBeAvailable
  const value = property(body, 'availability')
  const availability = value === undefined ? 'Online' : availabilityOf(value)
  if (availability === undefined) return invalid(`availability must be one of ${PREFERRED_AVAILABILITY.join(', ')}.`)
  app.me.availability = availability
  return undefined
}

// note_ref.md: message in the body or the query; blank resets the note.
export function setNote (app: UcwaApplication, body: Record<string, unknown> | undefined, query: unknown): MeFailure | undefined {
  if (!app.me.available) return mustBeAvailable
  const value = property(body, 'message') ?? property(query as Record<string, unknown> | undefined, 'message') ?? ''
  if (typeof value !== 'string') return invalid('message must be a string.')
  app.me.note = value
  return undefined
}

// location_ref.md: an empty body clears it.
export function setLocation (app: UcwaApplication, body: Record<string, unknown> | undefined): MeFailure | undefined {
  if (!app.me.available) return mustBeAvailable
  const value = property(body, 'location') ?? ''
  if (typeof value !== 'string' || value.length > MAX_LOCATION_LENGTH) return invalid(`location must be a string of at most ${MAX_LOCATION_LENGTH} characters.`)
  app.me.location = value
  return undefined
}

export function requireAvailable (app: UcwaApplication): MeFailure | undefined {
  return app.me.available ? undefined : mustBeAvailable
}

function invalid (message: string): MeFailure {
  return { status: 400, code: 'BadRequest', subcode: 'ParameterValidationFailure', message }
}

// The event channel's senders after makeMeAvailable (EventChannelDetails.md's sample): the
// communication resource updated, then me updated and presence, note and location added.
export function availableEvents (app: UcwaApplication): object[] {
  const href = (path: string): string => base(app) + path
  const event = (rel: string, path: string, type: string): object => ({ link: { rel, href: href(path) }, type })
  return [
    { rel: 'communication', href: href('/communication'), events: [{ ...event('communication', '/communication', 'updated'), _embedded: { communication: communicationBody(app) } }] },
    {
      rel: 'me',
      href: href('/me'),
      events: [event('me', '/me', 'updated'), event('presence', '/me/presence', 'added'), event('note', '/me/note', 'added'), event('location', '/me/location', 'added')],
    },
  ]
}

// One of me's resources changed (presence_ref.md and the others: "updated" under sender me).
export function updatedEvent (app: UcwaApplication, rel: 'presence' | 'note' | 'location'): object {
  return { rel: 'me', href: `${base(app)}/me`, events: [{ link: { rel, href: `${base(app)}/me/${rel}` }, type: 'updated' }] }
}
