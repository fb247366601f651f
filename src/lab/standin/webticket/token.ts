// Web tickets (the cwt= OAuth access tokens). Real Lync tickets are only valid on the pool that issued
// them; reusing a Director's ticket on a Front End gives 500 / 28032. To reproduce that, a ticket names
// the issuing pool's internal FQDN and is HMAC-signed with a key that lives only in this process, so
// every stand-in in the lab can check any ticket but none can be forged from outside.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

const KEY = randomBytes(32)

// Eight hours, the user ticket lifetime of Lync 2013.
export const TICKET_LIFETIME_SECONDS = 28_800

export interface WebTicket { pool: string; user: string; expires: number }

export type TicketCheck =
  | { ok: true; ticket: WebTicket }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'other-pool' }

function sign (payload: string): string {
  return createHmac('sha256', KEY).update(payload).digest('base64url')
}

export function issueWebTicket (pool: string, user: string, now = Date.now()): string {
  const ticket: WebTicket = { pool: pool.toLowerCase(), user, expires: Math.floor(now / 1000) + TICKET_LIFETIME_SECONDS }
  // A nonce makes two tickets for the same user differ, as real ones do.
  const payload = Buffer.from(JSON.stringify({ ...ticket, n: randomBytes(6).toString('base64url') })).toString('base64url')
  return `cwt=${payload}.${sign(payload)}`
}

function parse (token: string): { payload: string; mac: string } | undefined {
  const m = /^cwt=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token.trim())
  return m === null ? undefined : { payload: m[1] as string, mac: m[2] as string }
}

export function verifyWebTicket (token: string, pool: string, now = Date.now()): TicketCheck {
  const parts = parse(token)
  if (parts === undefined) return { ok: false, reason: 'malformed' }
  const expected = Buffer.from(sign(parts.payload))
  const given = Buffer.from(parts.mac)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature' }
  let ticket: WebTicket
  try {
    const data = JSON.parse(Buffer.from(parts.payload, 'base64url').toString('utf8')) as Record<string, unknown>
    if (typeof data.pool !== 'string' || typeof data.user !== 'string' || typeof data.expires !== 'number') {
      return { ok: false, reason: 'malformed' }
    }
    ticket = { pool: data.pool, user: data.user, expires: data.expires }
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (ticket.expires * 1000 <= now) return { ok: false, reason: 'expired' }
  if (ticket.pool !== pool.toLowerCase()) return { ok: false, reason: 'other-pool' }
  return { ok: true, ticket }
}
