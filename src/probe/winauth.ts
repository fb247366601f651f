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

// The windows-auth row's words for a 2xx to an anonymous request; the handshake check still runs
// after it, because a pooling proxy produces it and the handshake check tells that apart.
const WITHOUT_CREDENTIALS = 'without credentials'

function challengeRow (name: string, path: string, res: ProbeResponse): ProbeResult {
  const label = name + path
  const offered = windowsSchemes(res)
  if (res.status === 401 && offered.length > 0) return pass('windows-auth', label, `401 offering ${offered.join(', ')}`)
  if (res.status === 401) {
    return fail('windows-auth', label, `401 offering ${schemes(res).join(', ') || 'no scheme'} but neither NTLM nor Negotiate`,
      'something in front of the pool answers the challenge itself (pre-authentication, Basic or forms on the listener): set "No authentication" and let clients authenticate directly')
  }
  if (res.status >= 200 && res.status < 300) {
    return fail('windows-auth', label, `${answered(res)} ${WITHOUT_CREDENTIALS}`,
      'the proxy handed this request a pool connection that an earlier NTLM handshake authenticated (see the ntlm-handshake row), or it authenticates on the client\'s behalf (delegation), or anonymous access is on: Lync clients must authenticate to the pool themselves, on connections of their own')
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

// How many clients the handshake check runs at once. One client can pass through a pooling proxy
// by luck (its type 1 and type 3 happen to take the same pool connection); several at once cannot.
const HANDSHAKES = 4
// Anonymous requests sent, each on a new connection, after the handshakes.
const ANONYMOUS_AFTER = 4

const POOLING_CAUSE = 'the proxy sent the type 3 message to the pool on another connection than the type 1: NTLM authenticates a TCP connection, so the proxy must tie each client connection to one pool connection (ARR/nginx connection pooling breaks /abs, /GroupExpansion and /CertProv)'
const REUSED_CONNECTION_CAUSE = 'the proxy reuses an authenticated upstream connection: NTLM authenticated a pool connection for one client, and the proxy handed that connection to another client, who is then served as the first one without credentials. A connection that carried an NTLM handshake must stay with its client and close with it (nginx and ARR keep-alive pools do not)'

// `definite`: the answers themselves show the pooling (two servers answered one handshake).
type Handshake = { ok: true } | { ok: false, detail: string, cause: string, status?: number, definite?: boolean }

// Lync's IIS sites name the answering server in X-MS-Server-Fqdn.
function serverOf (res: ProbeResponse): string | undefined {
  const v = res.headers['x-ms-server-fqdn']
  return typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined
}

// One client: type 1 → 401 with the challenge → type 3 → 200, all on its own keep-alive connection.
async function handshake (ctx: ProbeContext, agent: https.Agent, who: string): Promise<Handshake> {
  const name = ctx.names.webExt
  const credentials = ctx.options.credentials!
  const identity = ntlmIdentity(credentials.ntlmUser)
  const get = (authorization?: string): Promise<ProbeResponse> =>
    ctx.send({ scheme: 'https', name, path: HANDSHAKE_PATH, agent, ...(authorization === undefined ? {} : { headers: { Authorization: authorization } }) })
  const anonymous = await get()
  // NTLM when offered; otherwise a raw NTLM token under Negotiate, which Windows accepts too.
  const scheme = windowsSchemes(anonymous).find((s) => /^NTLM$/i.test(s)) ?? 'Negotiate'
  const first = await get(`${scheme} ${negotiateMessage().toString('base64')}`)
  const token = first.status === 401 ? tokenOf(first, scheme) : undefined
  const challenge = token === undefined ? undefined : decodeChallenge(token)
  if (challenge === undefined) {
    return {
      ok: false,
      detail: `the type 1 message got ${answered(first)} without an NTLM challenge`,
      cause: 'the proxy strips the Authorization header or answers it itself: pass Authorization and WWW-Authenticate through unchanged',
    }
  }
  const second = await get(`${scheme} ${authenticateMessage(challenge, identity, credentials.password).toString('base64')}`)
  if (second.socket !== first.socket) {
    return {
      ok: false,
      detail: 'the proxy closed the connection after the NTLM challenge',
      cause: 'NTLM needs the client connection kept open between the challenge and the answer: keep-alive must stay on and nothing may add Connection: close to a 401',
    }
  }
  if (second.status === 200) return { ok: true }
  if (second.status === 401) {
    const challenger = serverOf(first)
    const answerer = serverOf(second)
    if (challenger !== undefined && answerer !== undefined && challenger !== answerer) {
      return { ok: false, status: 401, definite: true, detail: `type 3 (as ${who}) answered 401 by ${answerer}, while ${challenger} had sent the challenge`, cause: POOLING_CAUSE }
    }
    return { ok: false, status: 401, detail: `type 3 (as ${who}) answered 401`, cause: POOLING_CAUSE }
  }
  return { ok: false, detail: `type 3 answered ${answered(second)}`, cause: statusCause(second, name) }
}

// With credentials: several clients complete the handshake at once, each on its own connection;
// then clients without credentials, each on a new connection, must still be challenged.
export async function ntlmHandshake (ctx: ProbeContext): Promise<ProbeResult> {
  const name = ctx.names.webExt
  const label = name + HANDSHAKE_PATH
  const credentials = ctx.options.credentials
  if (credentials === undefined) return skip('ntlm-handshake', label, 'not tried: no --user/--password')
  const blocked = ctx.tlsBlocked('ntlm-handshake', name, label)
  if (blocked !== undefined) return blocked
  const gate = ctx.row('windows-auth', label)
  if (gate !== undefined && gate.result !== 'PASS' && !gate.detail.endsWith(WITHOUT_CREDENTIALS)) {
    return skip('ntlm-handshake', label, 'not tried: the path does not offer NTLM (see the windows-auth row)')
  }

  const identity = ntlmIdentity(credentials.ntlmUser)
  const who = identity.domain === '' ? identity.user : `${identity.domain}\\${identity.user}`
  // One socket per client, kept open until the end, as browsers keep them.
  const agents = Array.from({ length: HANDSHAKES }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }))
  try {
    const results = await Promise.all(agents.map((agent) => handshake(ctx, agent, who)))
    // Where the pool challenged the handshakes, a client without credentials must be challenged too:
    // a 2xx means it was handed a pool connection somebody's handshake (this run's or an earlier
    // one's) had authenticated. (A proxy that authenticates for its clients never lets a challenge
    // through, and is reported below.)
    const challenged = results.some((r) => r.ok || r.status === 401)
    for (let i = 0; challenged && i < ANONYMOUS_AFTER; i++) {
      const fresh = new https.Agent({ keepAlive: false })
      try {
        const res = await ctx.send({ scheme: 'https', name, path: HANDSHAKE_PATH, agent: fresh })
        if (res.status >= 200 && res.status < 300) {
          return fail('ntlm-handshake', label, `after ${HANDSHAKES} handshakes, a request without credentials from another client got ${answered(res)}`, REUSED_CONNECTION_CAUSE)
        }
      } finally {
        fresh.destroy()
      }
    }
    const failed = results.filter((r): r is Extract<Handshake, { ok: false }> => !r.ok)
    if (failed.length === 0) {
      return pass('ntlm-handshake', label, `type 1 → 401 challenge → type 3 → 200 for ${HANDSHAKES} clients at once, each on one connection, as ${who}; ${ANONYMOUS_AFTER} clients without credentials still challenged`)
    }
    const first = failed[0]!
    const together = `${failed.length} of ${HANDSHAKES} clients at once: type 3 (as ${who}) answered 401`
    const definite = failed.find((r) => r.definite === true)
    if (definite !== undefined) return fail('ntlm-handshake', label, `${failed.length} of ${HANDSHAKES} clients at once; one: ${definite.detail}`, POOLING_CAUSE)
    if (failed.every((r) => r.status === 401)) {
      // The same credentials working for another client, or for one client on its own, rules them out.
      if (failed.length < HANDSHAKES) return fail('ntlm-handshake', label, `${together}, while ${HANDSHAKES - failed.length} succeeded with the same credentials`, POOLING_CAUSE)
      // A few clients on their own, one after another: behind a pool, one either gets through or
      // shows two servers answering its handshake.
      for (let i = 0; i < 3; i++) {
        const alone = new https.Agent({ keepAlive: true, maxSockets: 1 })
        try {
          const r = await handshake(ctx, alone, who)
          if (r.ok) return fail('ntlm-handshake', label, `${together}, while one client on its own succeeded with the same credentials`, POOLING_CAUSE)
          if (r.definite === true) return fail('ntlm-handshake', label, `${together}; then one client on its own: ${r.detail}`, POOLING_CAUSE)
        } finally {
          alone.destroy()
        }
      }
      return fail('ntlm-handshake', label, together, `either the credentials are wrong (--user/--ntlm-user/--password), or ${POOLING_CAUSE}`)
    }
    return fail('ntlm-handshake', label, `${failed.length} of ${HANDSHAKES} clients at once: ${first.detail}`, first.cause)
  } catch (err) {
    return fail('ntlm-handshake', label, `the handshake failed: ${describeError(err)}`, errorCause(err, `${ctx.options.target}:${ctx.options.httpsPort}`))
  } finally {
    for (const agent of agents) agent.destroy()
  }
}
