// One IIS site of a stand-in as a fastify app. A Lync server runs two sites (internal 80/443,
// external 8080/4443) that differ only in what they tell clients about access location, so each
// site gets its own app built from the same route modules, told which site it is.
import http from 'node:http'
import https from 'node:https'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Site, StandInContext } from './context.js'
import { registerAutodiscover } from './autodiscover/routes.js'
import { addCrossDomainCheck } from './cross-domain.js'
import { registerDialin } from './dialin.js'
import { registerDirectorRedirects } from './director.js'
import { addIisIdentity, sendIisError, sendIisNotFound } from './iis.js'
import { registerLabEvents } from './lab-events.js'
import { registerMeet } from './meet.js'
import { registerOwas } from './owas.js'
import { rewriteLyncUrl } from './rewrite.js'
import { registerUcwaForwarding } from './ucwa/pool-host.js'
import { registerUcwa, sendUcwaNotFound } from './ucwa/routes.js'
import { registerWebTicket } from './webticket/routes.js'
import { registerWindowsAuth } from './winauth.js'

// IIS closes an idle keep-alive connection after its connectionTimeout, 120 s by default; a proxy's
// upstream pool has to cope with that, so the stand-in does the same. (A held P-GET is not idle.)
const KEEP_ALIVE_MS = 120_000

function createServer (ctx: StandInContext, site: Site, handler: http.RequestListener): http.Server {
  const { tls } = ctx.spec
  if (site.protocol === 'https' && tls === undefined) throw new Error(`stand-in ${ctx.spec.member}: an https site needs tls.cert and tls.key`)
  const server = site.protocol === 'https' && tls !== undefined
    ? https.createServer({ cert: tls.cert, key: tls.key }, handler)
    : http.createServer(handler)
  // No request timeout: an event-channel P-GET is held for up to 1800 s by design (ucwa/events.ts).
  server.requestTimeout = 0
  server.keepAliveTimeout = KEEP_ALIVE_MS
  // https.Server emits the same IncomingMessage/ServerResponse pairs as http.Server; fastify's typings
  // only need that, so the https server is handed over under the http type.
  return server as http.Server
}

function registerRoutes (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  switch (ctx.spec.role) {
    case 'frontend':
      registerAutodiscover(app, ctx, site)
      registerWebTicket(app, ctx, site)
      if (ctx.spec.ucwaHost === undefined) {
        registerUcwa(app, ctx, site)
        registerLabEvents(app, ctx)
      } else {
        registerUcwaForwarding(app, ctx, site, ctx.spec.ucwaHost)
      }
      registerWindowsAuth(app, ctx)
      registerMeet(app, ctx, site)
      registerDialin(app, ctx)
      break
    case 'director':
      // A Director authenticates and redirects: autodiscover, web tickets and simple URLs are its
      // own; user services belong to the Front End.
      registerAutodiscover(app, ctx, site)
      registerWebTicket(app, ctx, site)
      registerWindowsAuth(app, ctx)
      registerMeet(app, ctx, site)
      registerDialin(app, ctx)
      registerDirectorRedirects(app, ctx)
      break
    case 'owas':
      registerOwas(app, ctx)
      break
  }
}

export function buildSiteApp (ctx: StandInContext, site: Site): FastifyInstance {
  const app = Fastify({
    logger: false,
    serverFactory: (handler) => createServer(ctx, site, handler),
    // close() must not wait for clients: held P-GETs are answered first, anything else is cut.
    forceCloseConnections: true,
    // IIS matches paths without regard to case and accepts a trailing slash on a vdir.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    // Only Lync servers have the lyncdiscover/meet/dialin host mappings; OWAS paths stay untouched so
    // its frames see the request line as sent.
    ...(ctx.spec.role === 'owas' ? {} : { rewriteUrl: rewriteLyncUrl }),
  })
  addIisIdentity(app, ctx.spec.member, ctx.spec.serverFqdn)
  // Lync's web services check a browser application's origin; Office Web Apps Server is not Lync's.
  if (ctx.spec.role !== 'owas') addCrossDomainCheck(app, ctx)
  // Bodies are kept raw; the few handlers that read one parse it themselves. Clients send odd
  // content types (UCWA samples use charset='utf-8') that a strict parser would refuse with 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
  app.setNotFoundHandler(async (request, reply) =>
    ctx.spec.role === 'frontend' && /^\/ucwa\/oauth\//i.test(request.url) ? sendUcwaNotFound(request, reply, ctx, site) : sendIisNotFound(reply))
  app.setErrorHandler(async (error: { statusCode?: number }, _request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500
    return sendIisError(reply, status, status === 500 ? 'Internal server error.' : 'Bad request.', 'The lab server could not handle this request.')
  })
  registerRoutes(app, ctx, site)
  return app
}
