// The web ticket as a SAML 1.1 assertion, which is what the Web Ticket Service returns to a client
// that asks for the SAML token type over WS-Trust (MS-OCAUTHWS 3.2.4.1.1.2), and how it comes back:
// base64 in `X-MS-WebTicket: opaque=…` on the autodiscover user resource (MS-OCDISCWS).
//
// A pool signs its assertions with XML-DSig. The lab does not: it carries its own signed ticket
// (token.ts) in an attribute of the assertion and trusts nothing else in it, which keeps tickets
// pool-scoped and unforgeable without a canonicalisation library. Clients do not check the
// signature of a web ticket; they only hand it back.
import { randomUUID } from 'node:crypto'
import { escapeMarkup } from '../markup.js'
import { issueWebTicket, TICKET_LIFETIME_SECONDS } from './token.js'
import { attribute, elementText, startTag } from './xml-fields.js'

export const SAML11_TOKEN_TYPE = 'http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1'
const SAML_NS = 'urn:oasis:names:tc:SAML:1.0:assertion'
const LAB_TICKET_ATTRIBUTE = 'LabWebTicket'
const LAB_NS = 'urn:lyncproxy:lab'
const CLAIMS_NS = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims'

export interface IssuedAssertion { xml: string; created: string; expires: string }

function isoSeconds (ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export interface AssertionRequest {
  pool: string // the issuing pool's internal FQDN, which scopes the ticket
  key: Buffer // the pool's ticket key (token.ts)
  sipUri: string // sip:user1@contoso.com
  issuer: string // the web ticket service's URL
  audience: string // the RST's AppliesTo address
  now?: number
}

export function issueSamlAssertion (r: AssertionRequest): IssuedAssertion {
  const now = r.now ?? Date.now()
  const created = isoSeconds(now)
  const expires = isoSeconds(now + TICKET_LIFETIME_SECONDS * 1000)
  const ticket = issueWebTicket(r.key, r.pool, r.sipUri.replace(/^sip:/i, ''), now)
  const subject = `<saml:Subject><saml:NameIdentifier>${escapeMarkup(r.sipUri)}</saml:NameIdentifier></saml:Subject>`
  // The namespace is declared on the assertion itself: clients copy this element out of the RSTR
  // as raw text, so it must stand alone.
  const xml = `<saml:Assertion xmlns:saml="${SAML_NS}" MajorVersion="1" MinorVersion="1"` +
    ` AssertionID="SamlSecurityToken-${randomUUID()}" Issuer="${escapeMarkup(r.issuer)}" IssueInstant="${created}">` +
    `<saml:Conditions NotBefore="${created}" NotOnOrAfter="${expires}">` +
    `<saml:AudienceRestrictionCondition><saml:Audience>${escapeMarkup(r.audience)}</saml:Audience></saml:AudienceRestrictionCondition>` +
    '</saml:Conditions>' +
    `<saml:AuthenticationStatement AuthenticationMethod="urn:federation:authentication:windows" AuthenticationInstant="${created}">${subject}</saml:AuthenticationStatement>` +
    `<saml:AttributeStatement>${subject}` +
    `<saml:Attribute AttributeName="uri" AttributeNamespace="${CLAIMS_NS}"><saml:AttributeValue>${escapeMarkup(r.sipUri)}</saml:AttributeValue></saml:Attribute>` +
    `<saml:Attribute AttributeName="${LAB_TICKET_ATTRIBUTE}" AttributeNamespace="${LAB_NS}"><saml:AttributeValue>${ticket}</saml:AttributeValue></saml:Attribute>` +
    '</saml:AttributeStatement></saml:Assertion>'
  return { xml, created, expires }
}

// The lab ticket an `X-MS-WebTicket: opaque=<base64 SAML>` carries, or undefined when the header is
// not one. Whether the ticket is valid, and for which pool, is token.ts's to say.
export function ticketFromWebTicketHeader (header: string | undefined): string | undefined {
  const m = /^\s*opaque=([A-Za-z0-9+/=_-]+)\s*$/.exec(header ?? '')
  if (m === null) return undefined
  const xml = Buffer.from(m[1] as string, 'base64').toString('utf8')
  if (startTag(xml, 'Assertion') === undefined) return undefined
  for (const m of xml.matchAll(/<(?:[A-Za-z_][\w.-]*:)?Attribute\s[^>]*>/g)) {
    if (attribute(m[0], 'AttributeName') !== LAB_TICKET_ATTRIBUTE || attribute(m[0], 'AttributeNamespace') !== LAB_NS) continue
    return elementText(xml.slice(m.index), 'AttributeValue')?.trim()
  }
  return undefined
}
