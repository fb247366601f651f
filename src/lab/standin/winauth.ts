// The virtual directories that use Windows authentication (address book, DL expansion, certificate
// provisioning, Response Group, device updates, the WS-Trust web ticket service). They answer 401
// NTLM/Negotiate until the connection has completed an NTLM handshake with a lab user's password,
// then serve small lab content, or, for the web ticket service, issue a ticket (webticket/routes.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { StandInContext } from './context.js'
import { sendIisNotFound, sendIisUnauthorized } from './iis.js'
import { NtlmAuthenticator, serverNames, type NtlmIdentity } from './ntlm/handshake.js'
import { findWindowsAccount } from './topology.js'
import type { LabUser } from './types.js'

// Address Book files: full (F-), delta (D-) and compact (C-) .lsabs for desktops, .dabs for mobiles.
const ABS_FILE = /^[FDC]-[0-9a-f]{4}(-[0-9a-f]{4})?\.(lsabs|dabs)$/i

// Vdirs of the Front End, as path prefixes; the Director only runs the web ticket service.
const FRONTEND_VDIRS = ['/abs', '/GroupExpansion', '/CertProv', '/RgsClients', '/RequestHandlerExt']

export interface WindowsUser { identity: NtlmIdentity; user: LabUser }

export type WindowsAuthenticated = (request: FastifyRequest, reply: FastifyReply, who: WindowsUser) => FastifyReply | Promise<FastifyReply>

// One authenticator per stand-in, shared by its two sites' apps: the handshake state lives on the
// socket, so sharing it lets nothing cross between connections.
const authenticators = new WeakMap<StandInContext, NtlmAuthenticator<LabUser>>()

function authenticatorOf (ctx: StandInContext): NtlmAuthenticator<LabUser> {
  let ntlm = authenticators.get(ctx)
  if (ntlm === undefined) {
    const names = serverNames(ctx.spec.serverFqdn)
    const adDomain = { netbios: names.netbiosDomain, dns: names.dnsDomain }
    ntlm = new NtlmAuthenticator(names, (user, domain) => findWindowsAccount(ctx.spec.topology, adDomain, user, domain))
    authenticators.set(ctx, ntlm)
  }
  return ntlm
}

// A route handler that runs `serve` once the connection is authenticated, and answers IIS's 401
// (the two schemes, or the challenge) until then.
export function withWindowsAuth (ctx: StandInContext, serve: WindowsAuthenticated): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const ntlm = authenticatorOf(ctx)
  return async (request, reply) => {
    const step = ntlm.step(request.raw.socket, request.headers.authorization)
    switch (step.kind) {
      case 'unauthenticated':
        // IIS's default provider order; clients pick the scheme they support from the two lines.
        return sendIisUnauthorized(reply, ['Negotiate', 'NTLM'])
      case 'challenge':
        return sendIisUnauthorized(reply, [step.header])
      case 'authenticated':
        return await serve(request, reply, { identity: step.identity, user: step.account })
    }
  }
}

function addressBookFile (name: string, who: NtlmIdentity): Buffer {
  // Not the real format (which is undocumented); a recognisable header plus the requested name, so a
  // test can tell which file came back and that it came back whole.
  const text = `LSABS-LAB\n${name}\nfor ${who.domain}\\${who.user}\n`
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(256, 0xab)])
}

export function sendAuthenticatedPlaceholder (request: FastifyRequest, reply: FastifyReply, who: WindowsUser): FastifyReply {
  const path = (request.raw.url ?? '/').split('?')[0] ?? '/'
  return reply.type('text/plain; charset=utf-8').send(`${path}: authenticated as ${who.identity.domain}\\${who.identity.user}\n`)
}

function serve (request: FastifyRequest, reply: FastifyReply, who: WindowsUser): FastifyReply {
  const path = (request.raw.url ?? '/').split('?')[0] ?? '/'
  const m = /^\/abs\/handler\/([^/]+)$/i.exec(path)
  if (m !== null) {
    const name = m[1] as string
    // Matched on the name as sent: valid file names contain nothing that percent-encoding would hide.
    if (!ABS_FILE.test(name)) return sendIisNotFound(reply)
    return reply.type('application/octet-stream').send(addressBookFile(name, who.identity))
  }
  return sendAuthenticatedPlaceholder(request, reply, who)
}

export function registerWindowsAuth (app: FastifyInstance, ctx: StandInContext): void {
  if (ctx.spec.role !== 'frontend') return
  const handler = withWindowsAuth(ctx, serve)
  for (const vdir of FRONTEND_VDIRS) {
    // GET for downloads, POST for the SOAP services (GroupExpansion, CertProv).
    app.route({ method: ['GET', 'POST'], url: vdir, handler })
    app.route({ method: ['GET', 'POST'], url: `${vdir}/*`, handler })
  }
}
