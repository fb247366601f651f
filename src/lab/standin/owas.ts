// Office Web Apps Server, as far as Lync and a reverse proxy see it: the WOPI discovery document that
// the Lync pool reads, and the PowerPoint frames external clients load with heavily percent-encoded
// query strings. The frames echo the query exactly as received, so a test can see whether a proxy
// decoded or re-encoded it (the TMG "Verify Normalization" failure).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { StandInContext } from './context.js'
import { escapeMarkup } from './markup.js'

function zone (name: string, fqdn: string): string {
  const base = `https://${fqdn}`
  // urlsrc placeholders (<ui=UI_LLCC&>) are part of the WOPI discovery format and stay literal,
  // escaped for XML.
  const placeholders = escapeMarkup('<ui=UI_LLCC&><rs=DC_LLCC&><showpagestats=PERFSTATS&>')
  return `<net-zone name="${name}">` +
    `<app name="PowerPoint" favIconUrl="${base}/p/resources/1033/FavIcon_Ppt.ico" checkLicense="true">` +
    `<action name="view" ext="pptx" default="true" urlsrc="${base}/p/PowerPointFrame.aspx?PowerPointView=ReadingView&amp;${placeholders}"/>` +
    `<action name="view" ext="ppt" urlsrc="${base}/p/PowerPointFrame.aspx?PowerPointView=ReadingView&amp;${placeholders}"/>` +
    `<action name="present" ext="pptx" urlsrc="${base}/m/Presenter.aspx?${placeholders}"/>` +
    '</app></net-zone>'
}

// The query exactly as it was on the request line: request.raw.url is what the client sent (no
// rewrite runs on OWAS), and it is never decoded here.
function rawQuery (request: FastifyRequest): string {
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  return q === -1 ? '' : url.slice(q + 1)
}

// A header value cannot carry control or non-ASCII characters; those (which a client would have had
// to send unencoded) are shown percent-encoded, everything else verbatim.
function headerSafe (text: string): string {
  return text.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c))
}

export function registerOwas (app: FastifyInstance, ctx: StandInContext): void {
  const owas = ctx.spec.topology.owas
  app.get('/hosting/discovery', async (_request, reply) => {
    const zones = owas === undefined ? '' : zone('internal-https', owas.internalFqdn) + zone('external-https', owas.externalFqdn)
    return reply.type('text/xml; charset=utf-8').send(`<?xml version="1.0" encoding="utf-8"?><wopi-discovery>${zones}</wopi-discovery>`)
  })

  const frame = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const query = rawQuery(request)
    const path = (request.raw.url ?? '').split('?')[0] ?? ''
    reply.header('X-Lab-Raw-Query', headerSafe(query))
    // Plain text so the query can be echoed byte for byte (HTML would need it escaped); nosniff keeps
    // a browser from rendering it as markup anyway.
    reply.header('X-Content-Type-Options', 'nosniff')
    return reply.type('text/plain; charset=utf-8').send(`PowerPoint Web App (lab frame)\npath: ${path}\nraw-query: ${query}\n`)
  }
  // Frames are loaded with GET and, when an access token is handed over in a form, with POST.
  for (const url of ['/m/*', '/p/*']) app.route({ method: ['GET', 'POST'], url, handler: frame })
}
