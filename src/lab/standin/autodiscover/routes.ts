// The Lync autodiscover service on FE and Director stand-ins: root, user (web-ticket and OAuth
// variants), domain, and the XFrame page the links point at.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { authenticate } from '../webticket/bearer.js'
import { renderDiscovery, type Discovery } from './document.js'
import { chooseRepresentation } from './negotiate.js'
import { registerXFrame } from '../xframe.js'
import { domainDiscovery, redirectDiscovery, rootDiscovery, rootUrl, SERVICE, userDiscovery } from './resources.js'

function queryOf (url: string | undefined): string {
  const q = url?.indexOf('?') ?? -1
  return q === -1 || url === undefined ? '' : url.slice(q)
}

function sendDiscovery (request: FastifyRequest, reply: FastifyReply, doc: Discovery): FastifyReply {
  const { contentType, body } = renderDiscovery(doc, chooseRepresentation(request.headers.accept))
  // Answers depend on the caller's site and credentials, so intermediaries must not cache them.
  reply.header('Cache-Control', 'no-cache').header('Pragma', 'no-cache').header('Expires', '-1')
  reply.header('X-Content-Type-Options', 'nosniff')
  return reply.type(contentType).send(body)
}

export function registerAutodiscover (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const fe = ctx.spec.topology.frontEnd

  // MS-OCDISCWS: over plain HTTP every resource answers 200 with one Redirect link to this pool's
  // HTTPS root (the mobility "HTTP first hop"); nothing is given out, and no credentials are read,
  // over HTTP.
  function overHttp (request: FastifyRequest, reply: FastifyReply, element: Discovery['element']): FastifyReply | undefined {
    if (site.protocol === 'https') return undefined
    return sendDiscovery(request, reply, redirectDiscovery(element, site.kind, rootUrl(ctx.pool, site.kind, queryOf(request.raw.url))))
  }

  app.get(`${SERVICE}/root`, async (request, reply) => {
    return overHttp(request, reply, 'Root') ??
      // A Director's root links to its own user resource: the client authenticates there first, and
      // only then is redirected to the Front End pool (MS-OCDISCWS Redirect, below).
      sendDiscovery(request, reply, rootDiscovery(ctx.pool, site.kind, ctx.spec.topology.sipDomain))
  })

  for (const resource of ['/root/user', '/root/oauth/user']) {
    app.get(`${SERVICE}${resource}`, async (request, reply) => {
      const early = overHttp(request, reply, 'User')
      if (early !== undefined) return early
      const user = authenticate(request, reply, ctx, site)
      if (user === undefined) return reply
      // A Director homes nobody: once the user is authenticated it sends the client on to the Front
      // End pool, which makes the client authenticate again there (tickets are pool-scoped).
      if (ctx.spec.role === 'director') return sendDiscovery(request, reply, redirectDiscovery('User', site.kind, rootUrl(fe, site.kind)))
      return sendDiscovery(request, reply, userDiscovery(ctx.spec.topology, site.kind, `${SERVICE}${resource}`))
    })
  }

  app.get(`${SERVICE}/root/domain`, async (request, reply) => {
    return overHttp(request, reply, 'Domain') ?? sendDiscovery(request, reply, domainDiscovery(fe, site.kind))
  })

  // The cross-domain frame the root links to, for browser applications.
  registerXFrame(app)
}
