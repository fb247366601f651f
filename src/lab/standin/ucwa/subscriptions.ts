// Presence subscriptions to selected contacts (presenceSubscriptions_ref.md,
// SubscribeToThePresenceOfSelectedContacts.md, ExtendAPresenceSubscription.md,
// DeleteAPresenceSubscription.md): an application names contacts for a number of minutes, and
// while the subscription lasts each change of their presence, note or location raises an event on
// its channel, which tells it to read the contact's resource again.
import { randomBytes } from 'node:crypto'
import { APPLICATIONS_PATH } from './applications.js'

// presenceSubscriptions_ref.md, duration: "The maximum value is 30 and the minimum value is 10".
export const DURATION_MINUTES = { min: 10, max: 30 } as const

export interface PresenceSubscription {
  id: string
  appId: string
  contacts: string[] // user@domain
  expires: number
}

export type ContactResource = 'presence' | 'note' | 'location'
const CONTACT_REL: Record<ContactResource, string> = { presence: 'contactPresence', note: 'contactNote', location: 'contactLocation' }

interface Entry { subscription: PresenceSubscription; timer: NodeJS.Timeout }

export class SubscriptionRegistry {
  private readonly entries = new Map<string, Entry>()

  create (appId: string, contacts: string[], minutes: number, now = Date.now()): PresenceSubscription {
    const subscription: PresenceSubscription = { id: randomBytes(4).toString('hex'), appId, contacts: [...new Set(contacts)], expires: 0 }
    this.entries.set(subscription.id, { subscription, timer: this.expiry(subscription.id, minutes) })
    subscription.expires = now + minutes * 60_000
    return subscription
  }

  // A subscription that is not extended ends when its minutes are up; the timer does not keep the
  // process alive.
  private expiry (id: string, minutes: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.entries.delete(id), minutes * 60_000)
    timer.unref()
    return timer
  }

  find (appId: string, id: string): PresenceSubscription | undefined {
    const entry = this.entries.get(id)
    return entry?.subscription.appId === appId ? entry.subscription : undefined
  }

  extend (subscription: PresenceSubscription, minutes: number, now = Date.now()): void {
    const entry = this.entries.get(subscription.id)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    entry.timer = this.expiry(subscription.id, minutes)
    subscription.expires = now + minutes * 60_000
  }

  remove (id: string): void {
    const entry = this.entries.get(id)
    if (entry !== undefined) clearTimeout(entry.timer)
    this.entries.delete(id)
  }

  dropApplication (appId: string): void {
    for (const { subscription } of [...this.entries.values()]) if (subscription.appId === appId) this.remove(subscription.id)
  }

  // The contacts an application is subscribed to now, in the order it named them.
  contactsOf (appId: string): string[] {
    const out = new Set<string>()
    for (const { subscription } of this.entries.values()) if (subscription.appId === appId) for (const c of subscription.contacts) out.add(c)
    return [...out]
  }

  // The applications that watch a contact.
  watchersOf (contact: string): string[] {
    const out = new Set<string>()
    for (const { subscription } of this.entries.values()) if (subscription.contacts.includes(contact)) out.add(subscription.appId)
    return [...out]
  }

  forget (): void {
    for (const { timer } of this.entries.values()) clearTimeout(timer)
    this.entries.clear()
  }
}

const peopleOf = (appId: string): string => `${APPLICATIONS_PATH}/${appId}/people`
const contactHref = (appId: string, contact: string): string => `${peopleOf(appId)}/${encodeURIComponent(contact)}`

export function subscriptionBody (s: PresenceSubscription): object {
  return { id: s.id, _links: { self: { href: `${peopleOf(s.appId)}/presenceSubscriptions/${s.id}` } }, rel: 'presenceSubscription' }
}

// The sender a new subscription raises, as SubscribeToThePresenceOfSelectedContacts.md shows it:
// each contact added in subscribedContacts, the subscription added, each contact's presence updated.
export function subscribedEvents (s: PresenceSubscription): object {
  const people = peopleOf(s.appId)
  return {
    rel: 'people',
    href: people,
    events: [
      ...s.contacts.map((c) => ({ link: { rel: 'contact', href: contactHref(s.appId, c) }, in: { rel: 'subscribedContacts', href: `${people}/subscribedContacts` }, type: 'added' })),
      { link: { rel: 'presenceSubscription', href: `${people}/presenceSubscriptions/${s.id}` }, type: 'added' },
      ...s.contacts.map((c) => contactUpdated(s.appId, c, 'presence')),
    ],
  }
}

function contactUpdated (appId: string, contact: string, what: ContactResource): object {
  const href = contactHref(appId, contact)
  return { link: { rel: CONTACT_REL[what], href: `${href}/${what}` }, in: { rel: 'contact', href }, type: 'updated' }
}

// The sender for one watcher when a contact's presence, note or location changed.
export function contactChangedEvent (watcherAppId: string, contact: string, what: ContactResource): object {
  return { rel: 'people', href: peopleOf(watcherAppId), events: [contactUpdated(watcherAppId, contact, what)] }
}
