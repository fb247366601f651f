// The Web Ticket Service's WS-Trust side (MS-OCAUTHWS 3.2): the metadata a client reads to learn
// where and how to authenticate, the RequestSecurityToken it sends (3.2.4.1.1.1) and the
// RequestSecurityTokenResponse it gets (3.2.4.1.1.2). SOAP 1.1 over HTTP, as the service's
// basicHttp-style bindings use.
import { escapeMarkup } from '../markup.js'
import { SAML11_TOKEN_TYPE, type IssuedAssertion } from './saml.js'
import { attribute, elementText, rawElement, startTag } from './xml-fields.js'

export const WEBTICKET_SERVICE = '/WebTicket/WebTicketService.svc'
export const ISSUE_ACTION = 'http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue'
const ISSUE_FINAL_ACTION = 'http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal'
const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
const WST_NS = 'http://docs.oasis-open.org/ws-sx/ws-trust/200512'
const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'
const URI_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/uri'

// The one port the lab publishes, WebTicketServiceWinNegotiate (the name Set-CsWebServiceConfiguration
// lists among the authentication types): Integrated Windows authentication on the service address
// itself. The other ports of a pool (certificate, PIN, WS-Federation, anonymous) need things the
// lab does not have, so they are left out rather than advertised and refused.
export function metadataDocument (serviceUrl: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<wsdl:definitions name="WebTicketService" targetNamespace="http://tempuri.org/"' +
    ' xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"' +
    ' xmlns:tns="http://tempuri.org/" xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl"' +
    ` xmlns:wst="${WST_NS}">` +
    '<wsdl:message name="IWebTicketService_IssueToken_InputMessage"><wsdl:part name="request" element="wst:RequestSecurityToken"/></wsdl:message>' +
    '<wsdl:message name="IWebTicketService_IssueToken_OutputMessage"><wsdl:part name="response" element="wst:RequestSecurityTokenResponseCollection"/></wsdl:message>' +
    '<wsdl:portType name="IWebTicketService"><wsdl:operation name="IssueToken">' +
    `<wsdl:input wsaw:Action="${ISSUE_ACTION}" message="tns:IWebTicketService_IssueToken_InputMessage"/>` +
    `<wsdl:output wsaw:Action="${ISSUE_FINAL_ACTION}" message="tns:IWebTicketService_IssueToken_OutputMessage"/>` +
    '</wsdl:operation></wsdl:portType>' +
    '<wsdl:binding name="WebTicketServiceWinNegotiate" type="tns:IWebTicketService">' +
    '<soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>' +
    `<wsdl:operation name="IssueToken"><soap:operation soapAction="${ISSUE_ACTION}" style="document"/>` +
    '<wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>' +
    '</wsdl:binding>' +
    '<wsdl:service name="WebTicketService">' +
    `<wsdl:port name="WebTicketServiceWinNegotiate" binding="tns:WebTicketServiceWinNegotiate"><soap:address location="${escapeMarkup(serviceUrl)}"/></wsdl:port>` +
    '</wsdl:service></wsdl:definitions>'
}

export interface TokenRequest {
  context: string | undefined
  tokenType: string
  appliesTo: string | undefined
  // The sip: URI the client asks the ticket to be for (the "uri" claim), when it names one.
  uriClaim: string | undefined
}

export type ParsedRequest = { ok: true; request: TokenRequest } | { ok: false; reason: string }

export function parseTokenRequest (body: string): ParsedRequest {
  if (startTag(body, 'Envelope') === undefined || startTag(body, 'Body') === undefined) return { ok: false, reason: 'The request is not a SOAP envelope.' }
  const rst = rawElement(body, 'RequestSecurityToken')
  if (rst === undefined) return { ok: false, reason: 'The SOAP body holds no RequestSecurityToken.' }
  const requestType = elementText(rst, 'RequestType')?.trim()
  // WS-Trust 1.3 names Issue in its own namespace; Lync clients send the February 2005 one.
  if (requestType === undefined || !/\/trust\/Issue$/.test(requestType)) return { ok: false, reason: 'Only the Issue request type is served.' }
  const tokenType = elementText(rst, 'TokenType')?.trim() ?? SAML11_TOKEN_TYPE
  if (tokenType !== SAML11_TOKEN_TYPE) return { ok: false, reason: `The lab issues only ${SAML11_TOKEN_TYPE} tokens.` }
  const appliesTo = rawElement(rst, 'AppliesTo')
  let uriClaim: string | undefined
  const claims = rawElement(rst, 'Claims')
  if (claims !== undefined) {
    // The first uri claim only: reading each one would cost a scan of the rest of the body apiece.
    for (const m of claims.matchAll(/<(?:[A-Za-z_][\w.-]*:)?ClaimType\s[^>]*>/g)) {
      if (attribute(m[0], 'Uri') !== URI_CLAIM) continue
      uriClaim = elementText(claims.slice(m.index), 'Value')?.trim()
      break
    }
  }
  return {
    ok: true,
    request: {
      context: attribute(startTag(rst, 'RequestSecurityToken') ?? '', 'Context'),
      tokenType,
      appliesTo: appliesTo === undefined ? undefined : elementText(appliesTo, 'Address')?.trim(),
      uriClaim,
    },
  }
}

function envelope (body: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${SOAP_NS}"><s:Body>${body}</s:Body></s:Envelope>`
}

export function tokenResponse (request: TokenRequest, assertion: IssuedAssertion): string {
  const context = request.context === undefined ? '' : ` Context="${escapeMarkup(request.context)}"`
  const appliesTo = request.appliesTo === undefined
    ? ''
    : '<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing">' +
      `<wsa:Address>${escapeMarkup(request.appliesTo)}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`
  return envelope(
    `<wst:RequestSecurityTokenResponseCollection xmlns:wst="${WST_NS}" xmlns:wsu="${WSU_NS}">` +
    `<wst:RequestSecurityTokenResponse${context}>` +
    `<wst:TokenType>${SAML11_TOKEN_TYPE}</wst:TokenType>` +
    `<wst:RequestedSecurityToken>${assertion.xml}</wst:RequestedSecurityToken>` +
    appliesTo +
    `<wst:Lifetime><wsu:Created>${assertion.created}</wsu:Created><wsu:Expires>${assertion.expires}</wsu:Expires></wst:Lifetime>` +
    '<wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>' +
    '</wst:RequestSecurityTokenResponse></wst:RequestSecurityTokenResponseCollection>')
}

// A SOAP 1.1 fault with one of WS-Trust 1.3's fault codes (section 11), sent with HTTP 500 as
// SOAP 1.1 requires for faults.
export function trustFault (code: 'InvalidRequest' | 'FailedAuthentication' | 'BadRequest', reason: string): string {
  return envelope(`<s:Fault><faultcode xmlns:wst="${WST_NS}">wst:${code}</faultcode><faultstring xml:lang="en-US">${escapeMarkup(reason)}</faultstring></s:Fault>`)
}
