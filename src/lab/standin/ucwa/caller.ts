// The application a UCWA request addresses, for the caller's own ticket: the resources under an
// application answer 401 without a ticket and 404 ApplicationNotFound for another user's. A meeting
// guest's application reaches only what a meeting needs: the routes that say so (guests: true);
// the rest (me, people, presence, its own meetings, subscriptions) answers 403, as a guest is
// nobody in the directory.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { authenticate } from '../webticket/bearer.js'
import type { UcwaApplication } from './applications.js'
import { sendAppNotFound, sendUcwaError } from './respond.js'

export type AppRequest = FastifyRequest<{ Params: { id: string, contact?: string, meeting?: string, subscription?: string }, Querystring: Record<string, unknown> }>

// The caller's application, or undefined with the reply already sent.
export function callerApplication (request: AppRequest, reply: FastifyReply, ctx: StandInContext, site: Site, o: { guests?: boolean } = {}): UcwaApplication | undefined {
  const user = authenticate(request, reply, ctx, site)
  if (user === undefined) return undefined
  const application = ctx.applications.find(request.params.id, user)
  if (application === undefined) {
    sendAppNotFound(reply)
    return undefined
  }
  if (application.guest !== undefined && o.guests !== true) {
    // ErrorSubcode_ref.md: AnonymousNotAllowed, "This operation is not allowed for anonymous users".
    sendUcwaError(reply, 403, 'Forbidden', 'AnonymousNotAllowed', 'An anonymous meeting application has only its meeting: this resource needs a signed-in user.')
    return undefined
  }
  return application
}
