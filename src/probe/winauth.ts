// The virtual directories that use Windows authentication (address book, DL expansion, certificate
// provisioning, Response Group, device update, the WS-Trust web ticket service): the proxy must pass
// the 401 NTLM/Negotiate challenge through untouched, and keep the client's connection tied to one
// connection to the pool, because NTLM authenticates a TCP connection, not a request.
import https from 'node:https'
import { fail, pass, skip, type ProbeContext } from './context.js'
import { answered, describeError, errorCause, statusCause } from './diagnose.js'
import { headerLines, type ProbeResponse } from './http.js'
import { decodeChallenge } from '../ntlm/messages.js'
import { authenticateMessage, negotiateMessage, ntlmIdentity } from './ntlm.js'
import type { ProbeResult } from './types.js'

export const WINDOWS_AUTH_PATHS = [
  '/abs/handler/',
  '/GroupExpansion/service.svc',
  '/CertProv/CertProvisioningService.svc',
  '/RgsClients/AgentService.svc',
  '/RequestHandlerExt/ucdevice.upx',
  '/WebTicket/WebTicketService.svc',
]
const HANDSHAKE_PATH = '/abs/handler/'

function schemes (res: ProbeResponse): string[] {
  return headerLines(res, 'www-authenticate').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((s) => s !== '')
}

function windowsSchemes (res: ProbeResponse): string[] {
  return schemes(res).filter((s) => /^(NTLM|Negotiate)$/i.test(s))
}

function challengeRow (name: string, path: string, res: ProbeResponse): ProbeResult {
  const label = name + path
  const offered = windowsSchemes(res)
  if (res.status === 401 && offered.length > 0) return pass('windows-auth', label, `401 offering ${offered.join(', ')}`)
  if (res.status === 401) {
    return fail('windows-auth', label, `401 offering ${schemes(res).join(', ') || 'no scheme'} but neither NTLM nor Negotiate`,
      'something in front of the pool answers the challenge itself (pre-authentication, Basic or forms on the listener): set "No authentication" and let clients authenticate directly')
  }
  if (res.status >= 200 && res.status < 300) {
    return fail('windows-auth', label, `${answered(res)} without credentials`,
      'the proxy authenticates on the client\'s behalf (delegation) or anonymous access is on: Lync clients must authenticate to the pool themselves')
  }
  return fail('windows-auth', label, `${answered(res)} instead of a 401 challenge`, statusCause(res, name))
}

export async function windowsAuthChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const name = ctx.names.webExt
  const rows: ProbeResult[] = []
  for (const path of WINDOWS_AUTH_PATHS) {
    const blocked = ctx.tlsBlocked('windows-auth', name, name + path)
    rows.push(blocked ?? await ctx.judge('windows-auth', name + path, { scheme: 'https', name, path }, (res) => challengeRow(name, path, res)))
  }
  return rows
}

function tokenOf (res: ProbeResponse, scheme: string): Buffer | undefined {
  const line = headerLines(res, 'www-authenticate').find((l) => l.toLowerCase().startsWith(scheme.toLowerCase() + ' '))
  return line === undefined ? undefined : Buffer.from(line.slice(scheme.length + 1).trim(), 'base64')
}

// With credentials: type 1 → 401 with the challenge → type 3 → 200, all on one keep-alive connection.
export async function ntlmHandshake (ctx: ProbeContext): Promise<ProbeResult> {
  const name = ctx.names.webExt
  const label = name + HANDSHAKE_PATH
  const credentials = ctx.options.credentials
  if (credentials === undefined) return skip('ntlm-handshake', label, 'not tried: no --user/--password')
  const blocked = ctx.tlsBlocked('ntlm-handshake', name, label)
  if (blocked !== undefined) return blocked
  if (ctx.verdict('windows-auth', label) !== 'PASS') return skip('ntlm-handshake', label, 'not tried: the path does not offer NTLM (see the windows-auth row)')

  // One socket for the whole handshake, as a browser keeps it.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  const identity = ntlmIdentity(credentials.ntlmUser)
  const who = identity.domain === '' ? identity.user : `${identity.domain}\\${identity.user}`
  try {
    const get = (authorization?: string): Promise<ProbeResponse> =>
      ctx.send({ scheme: 'https', name, path: HANDSHAKE_PATH, agent, ...(authorization === undefined ? {} : { headers: { Authorization: authorization } }) })
    const anonymous = await get()
    // NTLM when offered; otherwise a raw NTLM token under Negotiate, which Windows accepts too.
    const scheme = windowsSchemes(anonymous).find((s) => /^NTLM$/i.test(s)) ?? 'Negotiate'
    const first = await get(`${scheme} ${negotiateMessage().toString('base64')}`)
    const token = first.status === 401 ? tokenOf(first, scheme) : undefined
    const challenge = token === undefined ? undefined : decodeChallenge(token)
    if (challenge === undefined) {
      return fail('ntlm-handshake', label, `the type 1 message got ${answered(first)} without an NTLM challenge`,
        'the proxy strips the Authorization header or answers it itself: pass Authorization and WWW-Authenticate through unchanged')
    }
    const second = await get(`${scheme} ${authenticateMessage(challenge, identity, credentials.password).toString('base64')}`)
    if (second.socket !== first.socket) {
      return fail('ntlm-handshake', label, 'the proxy closed the connection after the NTLM challenge',
        'NTLM needs the client connection kept open between the challenge and the answer: keep-alive must stay on and nothing may add Connection: close to a 401')
    }
    if (second.status === 200) return pass('ntlm-handshake', label, `type 1 → 401 challenge → type 3 → 200 on one connection, as ${who}`)
    if (second.status === 401) {
      return fail('ntlm-handshake', label, `type 3 (as ${who}) answered 401`,
        'either the credentials are wrong (--user/--ntlm-user/--password), or the proxy sent the type 3 message to the pool on another connection than the type 1: NTLM authenticates a TCP connection, so the proxy must tie each client connection to one pool connection (ARR/nginx connection pooling breaks /abs, /GroupExpansion and /CertProv)')
    }
    return fail('ntlm-handshake', label, `type 3 answered ${answered(second)}`, statusCause(second, name))
  } catch (err) {
    return fail('ntlm-handshake', label, `the handshake failed: ${describeError(err)}`, errorCause(err, `${ctx.options.target}:${ctx.options.httpsPort}`))
  } finally {
    agent.destroy()
  }
}
