// What a Director does with requests for user services: it homes no users, so it sends the client on
// to the Front End pool's external web services. The brief's choice, kept here: a plain HTTP redirect
// to https://<FE external FQDN><same path and query>. Always the external name, because the mobility
// and UCWA URLs are external even for internal clients (they hairpin through the reverse proxy).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { StandInContext } from './context.js'

// User-specific vdirs; anything not listed and not served by the Director itself is a 404.
const USER_VDIRS = ['/ucwa', '/Mcx', '/abs', '/GroupExpansion', '/CertProv', '/RgsClients', '/RequestHandlerExt',
  '/CollabContent', '/Scheduler', '/Reach', '/PersistentChat', '/lwa', '/DataCollabWeb']

export function registerDirectorRedirects (app: FastifyInstance, ctx: StandInContext): void {
  const target = `https://${ctx.spec.topology.frontEnd.externalFqdn}`
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // The path as the client sent it (before any rewrite), query included, so nothing is re-encoded.
    const original = request.originalUrl
    // 302 keeps GET a GET; for a POST (e.g. creating a UCWA application) 307 keeps method and body,
    // where a 302 would turn it into a GET in most clients.
    const status = request.method === 'GET' || request.method === 'HEAD' ? 302 : 307
    return reply.code(status).header('Location', target + original).send()
  }
  for (const vdir of USER_VDIRS) {
    app.all(vdir, handler)
    app.all(`${vdir}/*`, handler)
  }
}
