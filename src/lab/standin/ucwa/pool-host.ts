// When the servers of a Front End pool run in separate processes (docker-compose, or
// `lyncproxy standin` by hand), one of them holds the pool's UCWA state: applications, event channels,
// conversations. A real pool shares that state behind the scenes, so that the HLB may send any
// request of a session to any server; the lab gets the same effect by having the other servers pass
// their /ucwa/ requests (and /lab/events) on to that one, unchanged, and its answers back. The
// answer keeps the receiving server's own identity headers, as the client talked to it; the
// X-Lab-Ucwa-Host header names the server that held the state.
import http from 'node:http'
import https from 'node:https'
import type { TLSSocket } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import type { UcwaHost } from '../types.js'
import { sendUcwaError } from './respond.js'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length'])
// Set by this server's own onRequest hook (iis.ts); the host's values would misname who answered.
const OWN_IDENTITY = new Set(['server', 'x-powered-by', 'x-ms-server-fqdn', 'x-lab-member', 'x-lab-port', 'x-lab-host'])

export function registerUcwaForwarding (app: FastifyInstance, ctx: StandInContext, site: Site, host: UcwaHost): void {
  const target = host.sites.find((s) => s.kind === site.kind && s.protocol === site.protocol)
  if (target === undefined) throw new Error(`stand-in ${ctx.spec.member}: the pool's UCWA host ${host.member} has no ${site.kind} ${site.protocol} site`)
  const tls = site.protocol === 'https'
  // The host serves the pool's certificate, the same one this server has: the connection is pinned
  // to it rather than checked against a CA this server does not know.
  const pinned = ctx.spec.tls === undefined ? undefined : new X509Certificate(ctx.spec.tls.cert).fingerprint256
  // No TLS session cache: a resumed session shows no certificate to check, so every new connection
  // makes a full handshake (kept-alive ones are checked already).
  const agent = tls ? new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxCachedSessions: 0 }) : new http.Agent({ keepAlive: true })
  app.addHook('onClose', async () => { agent.destroy() })
  const checked = new WeakSet<object>()

  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const headers: http.OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(request.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value
    const body = Buffer.isBuffer(request.body) ? request.body : undefined
    if (body !== undefined) headers['content-length'] = body.length
    return await new Promise<FastifyReply>((resolve) => {
      let answered = false
      const options = { host: host.address, port: target.port, method: request.method, path: request.url, headers, agent }
      const upstream = (tls ? https : http).request(options, (res) => {
        answered = true
        reply.code(res.statusCode ?? 502)
        for (const [name, value] of Object.entries(res.headers)) {
          if (!HOP_BY_HOP.has(name) && !OWN_IDENTITY.has(name) && value !== undefined) reply.header(name, value)
        }
        reply.header('X-Lab-Ucwa-Host', host.member)
        resolve(reply.send(res))
      })
      if (tls) {
        // 'socket' comes for a kept-alive socket too; only a new one has a handshake to check.
        upstream.on('socket', (socket) => {
          if (checked.has(socket)) return
          checked.add(socket)
          socket.once('secureConnect', () => {
            const presented = (socket as TLSSocket).getPeerCertificate().fingerprint256
            if (pinned === undefined || presented !== pinned) socket.destroy(new Error(`the UCWA host ${host.member} did not present the pool's certificate`))
          })
        })
      }
      upstream.on('error', () => {
        if (answered) return
        answered = true
        resolve(sendUcwaError(reply, 503, 'ServiceFailure', undefined, `This pool's UCWA host (${host.member}) did not answer.`))
      })
      // A client that gives up on a held P-GET must free the one held on the host, too.
      reply.raw.on('close', () => {
        if (reply.raw.writableFinished) return
        upstream.destroy()
        if (answered) return
        answered = true
        resolve(reply)
      })
      upstream.end(body)
    })
  }
  app.all('/ucwa/*', forward)
  app.post('/lab/events', forward)
}
