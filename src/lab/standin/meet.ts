// The meeting join launcher (/Meet vdir, reached as https://meet.<domain>/<alias>/<id>). Like the real
// one it turns the URL into the conference URI and decides internal vs external from the IIS site the
// request arrived on, which is how a proxy bridging to the wrong port becomes visible.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { conferenceUri } from './conference.js'
import type { Site, StandInContext } from './context.js'
import { simpleUrlDomain, simpleUrlHost } from './host.js'
import { escapeMarkup } from './markup.js'
import { accessLocation } from './topology.js'

function page (title: string, access: string, body: string): string {
  return '<!DOCTYPE html>\n<html><head><meta charset="utf-8">' +
    `<title>${title}</title><meta name="lab-access-location" content="${access}"></head>\n` +
    `<body>\n${body}\n</body></html>\n`
}

export function registerMeet (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const access = accessLocation(site.kind)
  const where = site.kind === 'external'
    ? 'You reached this meeting from outside the corporate network (external web site).'
    : 'You reached this meeting from inside the corporate network (internal web site).'

  // The domain of the meeting is the one in the simple URL; on a pool's own FQDN (/meet/...) it is
  // the SIP domain.
  function domainOf (request: FastifyRequest): string {
    return simpleUrlHost(request.headers.host) === 'meet'
      ? simpleUrlDomain(request.headers.host) ?? ctx.spec.topology.sipDomain
      : ctx.spec.topology.sipDomain
  }

  const troubleshooting = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    return reply.type('text/html; charset=utf-8').send(page('Lync Meeting - Troubleshooting', access,
      '<h1>Conferencing troubleshooting</h1>\n<p>This address needs a meeting: https://meet.&lt;domain&gt;/&lt;organizer&gt;/&lt;meeting id&gt;.</p>\n' +
      `<p id="access-location">${where}</p>`))
  }
  app.get('/meet', troubleshooting)
  app.get('/meet/:alias', troubleshooting)

  app.get<{ Params: { alias: string; id: string } }>('/meet/:alias/:id', async (request, reply) => {
    const { alias, id } = request.params
    const uri = conferenceUri(alias, domainOf(request), id)
    return reply.type('text/html; charset=utf-8').send(page('Join Lync Meeting', access,
      `<h1>Join Lync Meeting</h1>\n<p>Organizer: <span id="organizer">${escapeMarkup(alias)}</span>, ` +
      `meeting ID <span id="conference-id">${escapeMarkup(id)}</span></p>\n` +
      `<p>Conference: <code id="conference-uri">${escapeMarkup(uri)}</code></p>\n` +
      `<p id="access-location">${where}</p>`))
  })
}
