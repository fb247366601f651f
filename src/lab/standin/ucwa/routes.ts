// UCWA on the Front End: creating an application and its event channel (the long-poll P-GET that a
// reverse proxy must let live for up to 900 s).
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { sipUriOf } from '../topology.js'
import { authenticate } from '../webticket/bearer.js'
import { APPLICATIONS_PATH, type UcwaApplication } from './applications.js'

// UCWA's default and upper bound for the event-channel timeout, in seconds.
const DEFAULT_TIMEOUT_S = 900
const MAX_TIMEOUT_S = 1800

function sendJson (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body))
}

function sendUcwaError (reply: FastifyReply, status: number, code: string, subcode: string | undefined, message: string): FastifyReply {
  return sendJson(reply, status, subcode === undefined ? { code, message } : { code, subcode, message })
}

function sendAppNotFound (reply: FastifyReply): FastifyReply {
  return sendUcwaError(reply, 404, 'NotFound', 'ApplicationNotFound', 'The application does not exist on this server.')
}

function applicationBody (app: UcwaApplication): object {
  const base = `${APPLICATIONS_PATH}/${app.id}`
  const link = (path: string): { href: string } => ({ href: base + path })
  return {
    culture: app.culture,
    userAgent: app.userAgent,
    type: 'Application',
    endpointId: app.endpointId,
    id: app.id,
    _links: { self: link(''), policies: link('/policies'), batch: link('/batch'), events: link('/events?ack=1') },
    _embedded: {
      me: {
        name: app.user.displayName ?? app.user.sipUri.replace(/@.*$/, ''),
        uri: sipUriOf(app.user),
        _links: { self: link('/me'), makeMeAvailable: link('/me/makeMeAvailable'), photo: link('/photos/' + encodeURIComponent(sipUriOf(app.user))) },
        rel: 'me',
      },
      people: { _links: { self: link('/people') }, rel: 'people' },
      onlineMeetings: { _links: { self: link('/onlineMeetings') }, rel: 'onlineMeetings' },
      communication: { _links: { self: link('/communication') }, rel: 'communication' },
    },
    rel: 'application',
  }
}

function parseJson (body: unknown): Record<string, unknown> | undefined {
  if (!Buffer.isBuffer(body)) return undefined
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

function timeoutSeconds (value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_TIMEOUT_S) : DEFAULT_TIMEOUT_S
}

function ackOf (value: unknown): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : NaN
  return Number.isSafeInteger(n) && n > 0 ? n : 1
}

export function registerUcwa (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const { applications, channels } = ctx

  app.post(APPLICATIONS_PATH, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const body = parseJson(request.body)
    const userAgent = body?.UserAgent
    const endpointId = body?.EndpointId
    if (typeof userAgent !== 'string' || typeof endpointId !== 'string') {
      return sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', 'UserAgent and EndpointId are required.')
    }
    const culture = typeof body?.Culture === 'string' ? body.Culture : 'en-US'
    const created = applications.create(user, { userAgent, endpointId, culture })
    // The photo cookie is scoped to the application's photos and marked secure/HttpOnly, as UCWA does;
    // proxies must pass Set-Cookie through untouched.
    reply.header('Set-Cookie', `cwt_ucwa=${created.photoCookie}; path=${APPLICATIONS_PATH}/${created.id}/photos; secure; HttpOnly`)
    return sendJson(reply, 201, applicationBody(created))
  })

  app.get<{ Params: { id: string } }>(`${APPLICATIONS_PATH}/:id`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    return found === undefined ? sendAppNotFound(reply) : sendJson(reply, 200, applicationBody(found))
  })

  app.delete<{ Params: { id: string } }>(`${APPLICATIONS_PATH}/:id`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    if (found === undefined) return sendAppNotFound(reply)
    applications.remove(found.id)
    channels.drop(found.id)
    return reply.code(204).send()
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(`${APPLICATIONS_PATH}/:id/events`, async (request, reply) => {
    const user = authenticate(request, reply, ctx, site)
    if (user === undefined) return reply
    const found = applications.find(request.params.id, user)
    if (found === undefined) return sendAppNotFound(reply)
    const ack = ackOf(request.query.ack)
    const held = channels.hold(found.id, timeoutSeconds(request.query.timeout) * 1000)
    // A client (or a proxy) that gives up must not leave its P-GET behind: it would swallow the next
    // event. 'close' also fires after a normal response, when cancel is a no-op.
    reply.raw.on('close', held.cancel)
    const outcome = await held.outcome
    const events = `${APPLICATIONS_PATH}/${found.id}/events`
    switch (outcome.kind) {
      case 'events':
      case 'timeout':
        return sendJson(reply, 200, {
          _links: { self: { href: `${events}?ack=${ack}` }, next: { href: `${events}?ack=${ack + 1}` } },
          sender: outcome.kind === 'events' ? outcome.sender : [],
        })
      case 'replaced':
        return sendUcwaError(reply, 409, 'Conflict', 'PGetReplaced', 'A newer event channel request replaced this one.')
      case 'deleted':
        return sendAppNotFound(reply)
      case 'closed':
      case 'gone':
        // Nobody is listening (client left) or the server is stopping: the connection ends either way.
        return sendUcwaError(reply, 503, 'ServiceFailure', undefined, 'The server is shutting down.')
    }
  })
}
