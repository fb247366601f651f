// The people a signed-in user can find: people, search, myContacts, contact, and a contact's
// presence, note and location, shaped as the UCWA 2.0 reference shows them (people_ref.md,
// search_ref.md with SearchForUsersContact.md's sample, contact_ref.md, myContacts_ref.md,
// contactPresence_ref.md and GetPresenceDataOfAContact.md).
//
// The lab's directory is its users; each user's contact list is every other lab user, a choice of
// the lab (a real pool keeps contact lists per user). A contact's presence is what one of their own
// applications has published (me.ts), and Offline while none has made itself available.
import type { LabUser } from '../types.js'
import { sipKey, sipUriOf } from '../topology.js'
import { APPLICATIONS_PATH, type ApplicationRegistry, type UcwaApplication } from './applications.js'

// search_ref.md: query "The maximum length is 256 characters"; limit from 1 to 100.
export const MAX_QUERY_LENGTH = 256
export const MAX_LIMIT = 100
// The reference gives no default for limit; this is the lab's.
const DEFAULT_LIMIT = 20

type Link = { href: string }

function peopleBase (app: UcwaApplication): string {
  return `${APPLICATIONS_PATH}/${app.id}/people`
}

function address (user: LabUser): string {
  return sipKey(user.sipUri)
}

function nameOf (user: LabUser): string {
  return user.displayName ?? user.sipUri.replace(/@.*$/, '')
}

export function peopleBody (app: UcwaApplication): object {
  const base = peopleBase(app)
  return {
    rel: 'people',
    _links: {
      self: { href: base },
      search: { href: `${base}/search` },
      myContacts: { href: `${base}/contacts` },
      presenceSubscriptions: { href: `${base}/presenceSubscriptions` },
      subscribedContacts: { href: `${base}/subscribedContacts` },
    },
  }
}

export function contactBody (app: UcwaApplication, user: LabUser): object {
  const self = `${peopleBase(app)}/${encodeURIComponent(address(user))}`
  const link = (path: string): Link => ({ href: self + path })
  return {
    uri: sipUriOf(user),
    sourceNetwork: 'SameEnterprise',
    emailAddresses: [address(user)],
    type: 'User',
    name: nameOf(user),
    _links: { self: { href: self }, contactPresence: link('/presence'), contactNote: link('/note'), contactLocation: link('/location') },
    rel: 'contact',
  }
}

export type SearchResult = { ok: true, body: object } | { ok: false, message: string }

// Matches name, address and SIP URI, without regard to case (search_ref.md searches "name, email,
// URI, and phone number"; lab users have no phone numbers).
export function search (app: UcwaApplication, users: readonly LabUser[], query: unknown, limit: unknown): SearchResult {
  if (typeof query !== 'string' || query === '') return { ok: false, message: 'query is required.' }
  if (query.length > MAX_QUERY_LENGTH) return { ok: false, message: `query has at most ${MAX_QUERY_LENGTH} characters.` }
  const wanted = limit === undefined ? DEFAULT_LIMIT : Number(limit)
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_LIMIT) return { ok: false, message: `limit must be from 1 to ${MAX_LIMIT}.` }
  const q = query.toLowerCase()
  const found = users.filter((u) => [nameOf(u), address(u), sipUriOf(u)].some((field) => field.toLowerCase().includes(q)))
  const params = new URLSearchParams({ query, ...(limit === undefined ? {} : { limit: String(wanted) }) })
  return {
    ok: true,
    body: {
      moreResultsAvailable: found.length > wanted,
      _links: { self: { href: `${peopleBase(app)}/search?${params.toString()}` } },
      _embedded: { contact: found.slice(0, wanted).map((u) => contactBody(app, u)) },
      rel: 'search',
    },
  }
}

export function myContactsBody (app: UcwaApplication, users: readonly LabUser[]): object {
  const contacts = users.filter((u) => address(u) !== address(app.user))
  return {
    rel: 'myContacts',
    _links: { self: { href: `${peopleBase(app)}/contacts` }, contact: contacts.map((u) => (contactBody(app, u) as { _links: { self: Link } })._links.self) },
    _embedded: { contact: contacts.map((u) => contactBody(app, u)) },
  }
}

// The contact's published state: from the newest of their applications that is available, the one
// an IM rings too (messaging-routes.ts).
function published (registry: ApplicationRegistry, user: LabUser): UcwaApplication['me'] | undefined {
  return registry.ofUser(user.sipUri).filter((a) => a.me.available).at(-1)?.me
}

export function contactPresenceBody (app: UcwaApplication, registry: ApplicationRegistry, user: LabUser): object {
  const me = published(registry, user)
  const self = `${peopleBase(app)}/${encodeURIComponent(address(user))}/presence`
  return { availability: me?.availability ?? 'Offline', deviceType: me === undefined ? 'Unknown' : 'PC', _links: { self: { href: self } }, rel: 'contactPresence' }
}

export function contactNoteBody (app: UcwaApplication, registry: ApplicationRegistry, user: LabUser): object {
  const me = published(registry, user)
  return { message: me?.note ?? '', type: 'Personal', _links: { self: { href: `${peopleBase(app)}/${encodeURIComponent(address(user))}/note` } }, rel: 'contactNote' }
}

export function contactLocationBody (app: UcwaApplication, registry: ApplicationRegistry, user: LabUser): object {
  const me = published(registry, user)
  return { location: me?.location ?? '', _links: { self: { href: `${peopleBase(app)}/${encodeURIComponent(address(user))}/location` } }, rel: 'contactLocation' }
}
