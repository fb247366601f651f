// The virtual directories that use Windows authentication (address book, DL expansion, certificate
// provisioning, Response Group, device updates, the WS-Trust web ticket service). They answer 401
// NTLM/Negotiate until the connection has completed an NTLM handshake, then serve small lab content.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { StandInContext } from './context.js'
import { sendIisNotFound, sendIisUnauthorized } from './iis.js'
import { NtlmAuthenticator, serverNames, type NtlmIdentity } from './ntlm/handshake.js'

// Address Book files: full (F-), delta (D-) and compact (C-) .lsabs for desktops, .dabs for mobiles.
const ABS_FILE = /^[FDC]-[0-9a-f]{4}(-[0-9a-f]{4})?\.(lsabs|dabs)$/i

// Vdirs of the Front End, as path prefixes; the Director only runs the web ticket service.
const FRONTEND_VDIRS = ['/abs', '/GroupExpansion', '/CertProv', '/RgsClients', '/RequestHandlerExt', '/WebTicket/WebTicketService.svc']
const DIRECTOR_VDIRS = ['/WebTicket/WebTicketService.svc']

function addressBookFile (name: string, who: NtlmIdentity): Buffer {
  // Not the real format (which is undocumented); a recognisable header plus the requested name, so a
  // test can tell which file came back and that it came back whole.
  const text = `LSABS-LAB\n${name}\nfor ${who.domain}\\${who.user}\n`
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(256, 0xab)])
}

function serve (request: FastifyRequest, reply: FastifyReply, who: NtlmIdentity): FastifyReply {
  const path = (request.raw.url ?? '/').split('?')[0] ?? '/'
  const m = /^\/abs\/handler\/([^/]+)$/i.exec(path)
  if (m !== null) {
    const name = m[1] as string
    // Matched on the name as sent: valid file names contain nothing that percent-encoding would hide.
    if (!ABS_FILE.test(name)) return sendIisNotFound(reply)
    return reply.type('application/octet-stream').send(addressBookFile(name, who))
  }
  return reply.type('text/plain; charset=utf-8').send(`${path}: authenticated as ${who.domain}\\${who.user}\n`)
}

export function registerWindowsAuth (app: FastifyInstance, ctx: StandInContext): void {
  const ntlm = new NtlmAuthenticator(serverNames(ctx.spec.serverFqdn))
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const step = ntlm.step(request.raw.socket, request.headers.authorization)
    switch (step.kind) {
      case 'unauthenticated':
        // IIS's default provider order; clients pick the scheme they support from the two lines.
        return sendIisUnauthorized(reply, ['Negotiate', 'NTLM'])
      case 'challenge':
        return sendIisUnauthorized(reply, [step.header])
      case 'authenticated':
        return serve(request, reply, step.identity)
    }
  }
  const vdirs = ctx.spec.role === 'director' ? DIRECTOR_VDIRS : FRONTEND_VDIRS
  for (const vdir of vdirs) {
    // GET for downloads, POST for the SOAP services (GroupExpansion, WebTicketService).
    app.route({ method: ['GET', 'POST'], url: vdir, handler })
    app.route({ method: ['GET', 'POST'], url: `${vdir}/*`, handler })
  }
}
