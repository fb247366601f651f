// The WS-Trust web ticket service of a Front End stand-in, the way SIPE and the desktop clients use
// it (MS-OCAUTHWS 3.2): the anonymous metadata, IssueToken behind NTLM on one connection, the SAML
// assertion in the response, and that assertion presented back as X-MS-WebTicket on the
// autodiscover user resource, which then gives out the SIP access locations.
import fc from 'fast-check'
import t from 'tap'
import { checkServerIdentity } from 'node:tls'
import { Agent, Client, request } from 'undici'
import { startStandIn, type LabTopology, type RunningStandIn } from '../src/lab/standin/index.js'
import { decodeChallenge, encodeNegotiate, NtlmFlags } from '../src/ntlm/messages.js'
import { ticketFromWebTicketHeader } from '../src/lab/standin/webticket/saml.js'
import { parseTokenRequest } from '../src/lab/standin/webticket/wstrust.js'
import { authenticateMessage, ntlmIdentity } from '../src/probe/ntlm.js'
import { throwawayCert } from './helpers/throwaway-cert.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  director: { internalFqdn: 'dirpool.contoso.net', externalFqdn: 'webdirext.contoso.com' },
  users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }, { sipUri: 'user2@contoso.com', password: 'Pass@word2' }],
}

const SERVICE = '/WebTicket/WebTicketService.svc'
const USER = '/Autodiscover/AutodiscoverService.svc/root/user'
const ISSUE = 'http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue'

// A RequestSecurityToken shaped as SIPE 1.25 sends it: SOAP 1.1, the February 2005 Issue request type,
// the SAML 1.1 token type, AppliesTo the user resource and a uri claim.
function rst (sipUri: string, tokenType = 'http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1'): string {
  return '<?xml version="1.0"?>\r\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"' +
    ' xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:auth="http://schemas.xmlsoap.org/ws/2006/12/authorization">' +
    '<soap:Body><wst:RequestSecurityToken Context="3b1c5d4e-0000-4000-8000-0123456789ab">' +
    `<wst:TokenType>${tokenType}</wst:TokenType>` +
    '<wst:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</wst:RequestType>' +
    `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>https://webext.contoso.com${USER}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
    '<wst:Claims Dialect="urn:component:Microsoft.Rtc.WebAuthentication.2010:authclaims">' +
    `<auth:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/uri" Optional="false"><auth:Value>${sipUri}</auth:Value></auth:ClaimType>` +
    '</wst:Claims><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey</wst:KeyType>' +
    '</wst:RequestSecurityToken></soap:Body></soap:Envelope>'
}

let fe: RunningStandIn
let dir: RunningStandIn
let tlsAgent: Agent

function origin (server: RunningStandIn, protocol: 'http' | 'https'): string {
  const site = server.sites.find((s) => s.kind === 'external' && s.protocol === protocol)
  if (site === undefined) throw new Error(`no external ${protocol} site`)
  return `${protocol}://127.0.0.1:${site.port}`
}

t.before(async () => {
  const tls = await throwawayCert('fe01.contoso.net')
  tlsAgent = new Agent({
    connect: { ca: tls.cert, servername: 'fe01.contoso.net', checkServerIdentity: (_host, cert) => checkServerIdentity('fe01.contoso.net', cert) },
  })
  const sites = [{ kind: 'external' as const, protocol: 'http' as const, port: 0 }, { kind: 'external' as const, protocol: 'https' as const, port: 0 }]
  fe = await startStandIn({ member: 'fe01', role: 'frontend', serverFqdn: 'fe01.contoso.net', address: '127.0.0.1', sites, tls, topology })
  dir = await startStandIn({ member: 'dir01', role: 'director', serverFqdn: 'dir01.contoso.net', address: '127.0.0.1', sites, tls, topology })
})
t.teardown(async () => {
  await fe.close()
  await dir.close()
  await tlsAgent.close()
})

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string }

async function call (client: Client, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await client.request({ method, path, headers: { host: 'webext.contoso.com', ...headers }, ...(body === undefined ? {} : { body }) })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

// IssueToken as SIPE does it: the POST unauthenticated, then with type 1, then with type 3, all on
// one connection; the answer to the last.
async function issue (server: RunningStandIn, account: string, password: string, body: string, soapAction = `"${ISSUE}"`): Promise<{ first: Answer; last: Answer }> {
  const client = new Client(origin(server, 'http'))
  try {
    const headers = { 'content-type': 'text/xml', soapaction: soapAction }
    const first = await call(client, 'POST', SERVICE, headers, body)
    const type1 = encodeNegotiate(NtlmFlags.UNICODE | NtlmFlags.NTLM | NtlmFlags.REQUEST_TARGET | NtlmFlags.EXTENDED_SESSIONSECURITY)
    const challenged = await call(client, 'POST', SERVICE, { ...headers, authorization: `NTLM ${type1.toString('base64')}` }, body)
    const token = /^NTLM (\S+)$/.exec(String(challenged.headers['www-authenticate']))?.[1]
    const challenge = token === undefined ? undefined : decodeChallenge(Buffer.from(token, 'base64'))
    if (challenge === undefined) throw new Error(`no challenge: ${challenged.status} ${String(challenged.headers['www-authenticate'])}`)
    const type3 = authenticateMessage(challenge, ntlmIdentity(account), password)
    const last = await call(client, 'POST', SERVICE, { ...headers, authorization: `NTLM ${type3.toString('base64')}` }, body)
    return { first, last }
  } finally {
    await client.close()
  }
}

function assertionOf (rstr: string): string {
  const m = /<saml:Assertion[\s\S]*?<\/saml:Assertion>/.exec(rstr)
  if (m === null) throw new Error(`no assertion in ${rstr}`)
  return m[0]
}

async function userResource (server: RunningStandIn, webTicket: string, accept = 'application/vnd.microsoft.rtc.autodiscover+xml;v=1'): Promise<Answer> {
  const res = await request(`${origin(server, 'https')}${USER}`, {
    dispatcher: tlsAgent,
    headers: { host: 'webext.contoso.com', accept, 'x-ms-webticket': webTicket },
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.test('the metadata is anonymous and names the Windows-authentication port', async (t) => {
  const res = await request(`${origin(fe, 'http')}${SERVICE}/mex`, { headers: { host: 'webext.contoso.com' } })
  const xml = await res.body.text()
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/xml/)
  t.match(xml, /^<\?xml[^>]*\?><wsdl:definitions /, 'a WSDL document')
  t.match(xml, /<wsdl:service name="WebTicketService"><wsdl:port name="WebTicketServiceWinNegotiate" binding="tns:WebTicketServiceWinNegotiate"><soap:address location="https:\/\/webext\.contoso\.com\/WebTicket\/WebTicketService\.svc"\/><\/wsdl:port><\/wsdl:service>/,
    'the port SIPE looks for, on the external web services name')
  t.match(xml, `soapAction="${ISSUE}"`)
})

t.test('IssueToken over NTLM returns a SAML assertion that the user resource accepts as X-MS-WebTicket', async (t) => {
  const { first, last } = await issue(fe, 'CONTOSO\\user1', 'Pass@word1', rst('sip:user1@contoso.com'))
  t.equal(first.status, 401, 'an unauthenticated POST is challenged')
  t.same(first.headers['www-authenticate'], ['Negotiate', 'NTLM'])
  t.equal(last.status, 200, last.text)
  t.match(last.headers['content-type'], /^text\/xml/)
  t.match(last.text, /<wst:RequestSecurityTokenResponse Context="3b1c5d4e-0000-4000-8000-0123456789ab">/, 'the request\'s Context comes back')
  t.match(last.text, /<wst:Lifetime><wsu:Created>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/wsu:Created><wsu:Expires>\d{4}-[^<]+Z<\/wsu:Expires><\/wst:Lifetime>/, 'a Lifetime, which SIPE requires')
  const assertion = assertionOf(last.text)
  t.match(assertion, /^<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1\.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="[^"]+" Issuer="https:\/\/webext\.contoso\.com\/WebTicket\/WebTicketService\.svc"/,
    'the assertion declares its own namespace, since clients copy it out raw')
  t.match(assertion, `<saml:Audience>https://webext.contoso.com${USER}</saml:Audience>`, 'its audience is the AppliesTo address')
  t.match(assertion, '<saml:NameIdentifier>sip:user1@contoso.com</saml:NameIdentifier>')

  const opaque = `opaque=${Buffer.from(assertion, 'utf8').toString('base64')}`
  const user = await userResource(fe, opaque)
  t.equal(user.status, 200, 'the user resource accepts the ticket')
  t.match(user.text, /AccessLocation="External"><User><SipServerInternalAccess fqdn="pool01\.contoso\.net" port="5061"\/><SipClientInternalAccess fqdn="pool01\.contoso\.net" port="5061"\/><SipServerExternalAccess fqdn="sip\.contoso\.com" port="5061"\/><SipClientExternalAccess fqdn="sip\.contoso\.com" port="443"\/><Link /,
    'and gives out where to register, before the links')
  const json = JSON.parse((await userResource(fe, opaque, 'application/vnd.microsoft.rtc.autodiscover+json;v=1')).text) as { User: Record<string, unknown> }
  t.same(json.User.SipClientExternalAccess, { fqdn: 'sip.contoso.com', port: '443' }, 'the JSON form carries them too')
  t.same(Object.keys(json.User), ['SipServerInternalAccess', 'SipClientInternalAccess', 'SipServerExternalAccess', 'SipClientExternalAccess', 'Links'])

  const tampered = assertion.replace(/(cwt=[A-Za-z0-9_-]+\.)([A-Za-z0-9_-])/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'))
  t.not(tampered, assertion)
  const refused = await userResource(fe, `opaque=${Buffer.from(tampered).toString('base64')}`)
  t.equal(refused.status, 500, 'a ticket whose signature does not match is refused')
  t.match(refused.headers['x-ms-diagnostics'], /^28032;/)
  const garbage = await userResource(fe, 'opaque=bm90IGEgdGlja2V0')
  t.equal(garbage.status, 500, 'an unreadable X-MS-WebTicket is an invalid ticket, not a missing one')
  const director = await userResource(dir, opaque)
  t.equal(director.status, 500, 'a Front End ticket is not valid on the Director pool')
})

t.test('the web ticket service refuses what a pool refuses', async (t) => {
  const wrongPassword = await issue(fe, 'CONTOSO\\user1', 'wrong', rst('sip:user1@contoso.com'))
  t.equal(wrongPassword.last.status, 401, 'a wrong password never reaches IssueToken')
  const somebodyElse = await issue(fe, 'CONTOSO\\user1', 'Pass@word1', rst('sip:user2@contoso.com'))
  t.equal(somebodyElse.last.status, 500, 'a ticket for another user than the one who authenticated')
  t.match(somebodyElse.last.text, /<faultcode xmlns:wst="[^"]+">wst:FailedAuthentication<\/faultcode>/)
  const upn = await issue(fe, 'user2@contoso.com', 'Pass@word2', rst('sip:user2@contoso.com'))
  t.equal(upn.last.status, 200, 'a UPN sign-in gets its own ticket')
  const cwt = await issue(fe, 'CONTOSO\\user1', 'Pass@word1', rst('sip:user1@contoso.com', 'urn:component:Microsoft.Rtc.WebAuthentication.2010:user-cwt-1'))
  t.equal(cwt.last.status, 500, 'a token type the lab does not issue')
  t.match(cwt.last.text, /wst:InvalidRequest.*SAMLV1\.1/)
  const notSoap = await issue(fe, 'CONTOSO\\user1', 'Pass@word1', 'grant_type=password')
  t.equal(notSoap.last.status, 500)
  t.match(notSoap.last.text, /not a SOAP envelope/)
  const action = await issue(fe, 'CONTOSO\\user1', 'Pass@word1', rst('sip:user1@contoso.com'), '"urn:something-else"')
  t.equal(action.last.status, 500, 'another SOAPAction')
  const director = await issue(dir, 'CONTOSO\\user1', 'Pass@word1', rst('sip:user1@contoso.com'))
  t.equal(director.last.status, 200, 'the Director runs the web ticket service too')
  t.match(assertionOf(director.last.text), /Issuer="https:\/\/webdirext\.contoso\.com\/WebTicket\/WebTicketService\.svc"/)
})

t.test('the request and ticket readers never throw, whatever they are given', async (t) => {
  const xmlish = fc.array(fc.constantFrom('<', '>', '/', ':', '"', "'", '=', ' ', 'soap:Envelope', 'Body', 'RequestSecurityToken', 'RequestType', 'TokenType',
    'AppliesTo', 'Address', 'Claims', 'ClaimType', 'Uri', 'Value', 'Assertion', 'Attribute', 'AttributeName', 'AttributeNamespace', 'LabWebTicket',
    'urn:lyncproxy:lab', 'AttributeValue', '&amp;', '&#x110000;', 'x', '/trust/Issue'), { maxLength: 80 }).map((parts) => parts.join(''))
  fc.assert(fc.property(fc.oneof(xmlish, fc.string()), (text) => {
    const parsed = parseTokenRequest(text)
    const ticket = ticketFromWebTicketHeader(`opaque=${Buffer.from(text).toString('base64')}`)
    return typeof parsed.ok === 'boolean' && (ticket === undefined || typeof ticket === 'string')
  }), { numRuns: 3000 })
  t.pass('3000 inputs')
})
