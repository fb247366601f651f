// Web tickets (the cwt= OAuth access tokens). Real Lync tickets are only valid on the pool that issued
// them; reusing a Director's ticket on a Front End gives 500 / 28032. To reproduce that, a ticket names
// the issuing pool's internal FQDN and is HMAC-signed. Every server of a pool must accept the pool's
// tickets, since the HLB may send the next request to any of them, also when each server runs in a
// process (or a container) of its own: so the key comes from the pool's certificate, whose private key
// every server of the pool holds and no client has (ticketKeyOf).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

// For a stand-in with no certificate (HTTP only): its tickets are good in this process alone.
const PROCESS_KEY = randomBytes(32)

export function ticketKeyOf (privateKeyPem: string | undefined): Buffer {
  if (privateKeyPem === undefined) return PROCESS_KEY
  return createHmac('sha256', privateKeyPem).update('lyncproxy lab web ticket key').digest()
}

// Eight hours, the user ticket lifetime of Lync 2013.
export const TICKET_LIFETIME_SECONDS = 28_800

// An anonymous meeting ticket (the urn:microsoft.rtc:anonmeeting grant) also names the conference it
// admits to: joinOnlineMeeting_ref.md refuses a join to any other with 403.
export interface WebTicket { pool: string; user: string; expires: number; conference?: string }

export type TicketCheck =
  | { ok: true; ticket: WebTicket }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'other-pool' }

function sign (key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url')
}

export function issueWebTicket (key: Buffer, pool: string, user: string, now = Date.now(), conference?: string): string {
  const ticket: WebTicket = { pool: pool.toLowerCase(), user, expires: Math.floor(now / 1000) + TICKET_LIFETIME_SECONDS, ...(conference === undefined ? {} : { conference }) }
  // A nonce makes two tickets for the same user differ, as real ones do.
  const payload = Buffer.from(JSON.stringify({ ...ticket, n: randomBytes(6).toString('base64url') })).toString('base64url')
  return `cwt=${payload}.${sign(key, payload)}`
}

function parse (token: string): { payload: string; mac: string } | undefined {
  const m = /^cwt=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token.trim())
  return m === null ? undefined : { payload: m[1] as string, mac: m[2] as string }
}

export function verifyWebTicket (key: Buffer, token: string, pool: string, now = Date.now()): TicketCheck {
  const parts = parse(token)
  if (parts === undefined) return { ok: false, reason: 'malformed' }
  const expected = Buffer.from(sign(key, parts.payload))
  const given = Buffer.from(parts.mac)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature' }
  let ticket: WebTicket
  try {
    const data = JSON.parse(Buffer.from(parts.payload, 'base64url').toString('utf8')) as Record<string, unknown>
    if (typeof data.pool !== 'string' || typeof data.user !== 'string' || typeof data.expires !== 'number') {
      return { ok: false, reason: 'malformed' }
    }
    if (data.conference !== undefined && typeof data.conference !== 'string') return { ok: false, reason: 'malformed' }
    ticket = { pool: data.pool, user: data.user, expires: data.expires, ...(data.conference === undefined ? {} : { conference: data.conference }) }
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (ticket.expires * 1000 <= now) return { ok: false, reason: 'expired' }
  if (ticket.pool !== pool.toLowerCase()) return { ok: false, reason: 'other-pool' }
  return { ok: true, ticket }
}
