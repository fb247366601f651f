// UCWA applications: what a client creates with POST /ucwa/oauth/v1/applications and then addresses
// by id. Held in memory for the life of the stand-in, like an FE's registered endpoints.
import { randomBytes } from 'node:crypto'
import type { Caller } from '../types.js'
import { sipKey } from '../topology.js'
import { newMeState, type MeState } from './me-state.js'

export interface UcwaApplication {
  id: string
  owner: string
  user: Caller
  // A meeting guest's application (an anonymous ticket): the conference it may join, and the name
  // the guest goes by there. It has none of a user's own resources (caller.ts).
  guest?: { conference: string, name: string }
  userAgent: string
  endpointId: string
  culture: string
  // The value of the cwt_ucwa cookie the server sets for photo requests.
  photoCookie: string
  // The user's availability, note and location as this application has set them (me.ts).
  me: MeState
}

export interface NewApplication { userAgent: string; endpointId: string; culture: string; guestName?: string }

export const APPLICATIONS_PATH = '/ucwa/oauth/v1/applications'

// The lab's own bounds, so that a client that signs in again and again without a DELETE (or mints
// guest tickets) cannot fill the process: past them the oldest application goes, as a pool lets an
// application whose event channel nobody polls expire. The reference gives no number.
export const MAX_APPLICATIONS_PER_OWNER = 32
export const MAX_APPLICATIONS = 5_000

export class ApplicationRegistry {
  private readonly apps = new Map<string, UcwaApplication>()

  // UCWA makes creation idempotent per endpoint: the same user and EndpointId get the same
  // application back, so a client retrying after a lost 201 does not leak applications.
  // The application, and those that had to go to make room (the caller retires them: routes.ts).
  create (user: Caller, input: NewApplication): { app: UcwaApplication, evicted: UcwaApplication[] } {
    const owner = sipKey(user.sipUri)
    for (const app of this.apps.values()) {
      if (app.owner === owner && app.endpointId === input.endpointId) return { app, evicted: [] }
    }
    const evicted: UcwaApplication[] = []
    const mine = this.ofUser(user.sipUri)
    if (mine.length >= MAX_APPLICATIONS_PER_OWNER) evicted.push(mine[0]!)
    if (this.apps.size - evicted.length >= MAX_APPLICATIONS) {
      const oldest = [...this.apps.values()].find((a) => !evicted.includes(a))
      if (oldest !== undefined) evicted.push(oldest)
    }
    for (const a of evicted) this.apps.delete(a.id)
    const id = randomBytes(8).toString('hex')
    const { guestName, ...rest } = input
    const guest = user.conference === undefined ? {} : { guest: { conference: user.conference, name: guestName ?? '' } }
    const app: UcwaApplication = { id, owner, user, ...rest, ...guest, photoCookie: randomBytes(24).toString('base64url'), me: newMeState() }
    this.apps.set(id, app)
    return { app, evicted }
  }

  // An application is only visible to the user who created it.
  find (id: string, user: Caller): UcwaApplication | undefined {
    const app = this.apps.get(id)
    return app !== undefined && app.owner === sipKey(user.sipUri) ? app : undefined
  }

  has (id: string): boolean {
    return this.apps.has(id)
  }

  remove (id: string): boolean {
    return this.apps.delete(id)
  }

  ofUser (sipUri: string): UcwaApplication[] {
    const owner = sipKey(sipUri)
    return [...this.apps.values()].filter((a) => a.owner === owner)
  }

  clear (): void {
    this.apps.clear()
  }
}
