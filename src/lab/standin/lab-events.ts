// Lab-only event injection: a Front End in the field raises UCWA events from SIP traffic, which the
// lab does not have, so demos and proxy tests push them in here, directly (triggerEvent) or over HTTP
// (POST /lab/events) so that the event can be fired through the proxy.
import type { FastifyInstance } from 'fastify'
import type { StandInContext } from './context.js'

export function triggerUserEvent (ctx: StandInContext, sipUri: string, event: object): number {
  let woken = 0
  for (const app of ctx.applications.ofUser(sipUri)) {
    if (ctx.channels.publish(app.id, event)) woken++
  }
  return woken
}

export function registerLabEvents (app: FastifyInstance, ctx: StandInContext): void {
  app.post('/lab/events', async (request, reply) => {
    let body: unknown
    try {
      body = Buffer.isBuffer(request.body) ? JSON.parse(request.body.toString('utf8')) : undefined
    } catch {
      body = undefined
    }
    const { sipUri, event } = (typeof body === 'object' && body !== null ? body : {}) as { sipUri?: unknown; event?: unknown }
    if (typeof sipUri !== 'string' || typeof event !== 'object' || event === null) {
      return reply.code(400).type('application/json; charset=utf-8').send('{"error":"expected {\\"sipUri\\": string, \\"event\\": object}"}')
    }
    const woken = triggerUserEvent(ctx, sipUri, event)
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ woken }))
  })
}
