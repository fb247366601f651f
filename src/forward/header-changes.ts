// What the proxy changed on a message's way through, field by field, with the header policy's reason
// for each (forward/header-policy.ts): `explain` says it of a request it imagines, the flow feed and
// the HAR export of the exchanges that happened. One diff, so the two never give different reasons.
import {
  CONNECTION_NAMED_WHY, REQUEST_FIELDS, RESPONSE_ADDED_WHY, RESPONSE_CONNECTION_NAMED_WHY, RESPONSE_DROPPED,
  TRUSTED_FORWARDING_FIELDS, TRUSTED_FORWARDING_WHY, UNLISTED_WHY,
} from './header-policy.js'

export interface FieldChange {
  name: string
  change: 'added' | 'removed' | 'replaced' | 'kept'
  // The value as it left (added, replaced, kept) or as it came and was dropped (removed).
  value: string
  // The value it replaced.
  from?: string
  why: string
}

interface Grouped { name: string, values: string[] }

// Repeated fields are compared as the comma-joined list a recipient reads them as (RFC 9110 §5.3).
function group (raw: readonly string[]): Map<string, Grouped> {
  const out = new Map<string, Grouped>()
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!.toLowerCase()
    const entry = out.get(key)
    if (entry === undefined) out.set(key, { name: raw[i]!, values: [raw[i + 1]!] })
    else entry.values.push(raw[i + 1]!)
  }
  return out
}

interface Reasons {
  added (key: string): string
  replaced (key: string, from: string, to: string): string
  removed (key: string): string
  kept (key: string): string
}

// The mask applies to each value before they are joined: a Set-Cookie's mask keeps what follows its
// first pair, which in a joined list would be the next cookie.
function diff (before: readonly string[], after: readonly string[], reasons: Reasons, mask: (name: string, value: string) => string): FieldChange[] {
  const inn = group(before)
  const out = group(after)
  const shown = (g: Grouped): string => g.values.map((v) => mask(g.name, v)).join(', ')
  const changes: FieldChange[] = []
  for (const [key, sent] of out) {
    const came = inn.get(key)
    const value = sent.values.join(', ')
    if (came === undefined) {
      changes.push({ name: sent.name, change: 'added', value: shown(sent), why: reasons.added(key) })
      continue
    }
    const from = came.values.join(', ')
    if (from === value) changes.push({ name: sent.name, change: 'kept', value: shown(sent), why: reasons.kept(key) })
    else changes.push({ name: sent.name, change: 'replaced', value: shown(sent), from: shown(came), why: reasons.replaced(key, from, value) })
  }
  for (const [key, came] of inn) {
    if (!out.has(key)) changes.push({ name: came.name, change: 'removed', value: shown(came), why: reasons.removed(key) })
  }
  return changes
}

const requestWhy = (key: string): string | undefined => REQUEST_FIELDS.get(key)?.why

const REQUEST_REASONS: Reasons = {
  added: (key) => requestWhy(key) ?? 'added by the proxy',
  replaced: (key, from, to) => TRUSTED_FORWARDING_FIELDS.has(key) && to.startsWith(`${from}, `) ? TRUSTED_FORWARDING_WHY : requestWhy(key) ?? 'rewritten by the proxy',
  removed: (key) => requestWhy(key) ?? CONNECTION_NAMED_WHY,
  kept: (key) => requestWhy(key) ?? UNLISTED_WHY,
}

const RESPONSE_DROP = new Set(RESPONSE_DROPPED.fields)

const RESPONSE_REASONS: Reasons = {
  added: (key) => RESPONSE_ADDED_WHY.get(key) ?? 'added by the proxy',
  replaced: (key) => RESPONSE_ADDED_WHY.get(key) ?? 'rewritten by the proxy',
  removed: (key) => RESPONSE_DROP.has(key) ? RESPONSE_DROPPED.why : RESPONSE_CONNECTION_NAMED_WHY,
  kept: () => UNLISTED_WHY,
}

const asIs = (_name: string, value: string): string => value

// The request as received from the client against the request as forwarded.
export function requestChanges (received: readonly string[], forwarded: readonly string[], mask = asIs): FieldChange[] {
  return diff(received, forwarded, REQUEST_REASONS, mask)
}

// The response as received from the server against the response as sent to the client.
export function responseChanges (received: readonly string[], sent: readonly string[], mask = asIs): FieldChange[] {
  return diff(received, sent, RESPONSE_REASONS, mask)
}
