// The HTTP side of people.ts: the people resource, search, myContacts, and each contact with its
// presence, note and location. A contact is addressed by its SIP address, as the reference's
// walk-throughs do (/people/sarad@contoso.com).
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { findUser } from '../topology.js'
import type { LabUser } from '../types.js'
import type { UcwaApplication } from './applications.js'
import { APPLICATIONS_PATH } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { contactBody, contactLocationBody, contactNoteBody, contactPresenceBody, myContactsBody, peopleBody, search } from './people.js'
import { sendUcwa, sendUcwaError } from './respond.js'

export function registerPeople (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  const base = `${APPLICATIONS_PATH}/:id/people`
  const users = ctx.spec.topology.users
  const get = (path: string, body: (a: UcwaApplication, request: AppRequest, reply: FastifyReply) => FastifyReply): void => {
    app.get(base + path, async (request: AppRequest, reply) => {
      const application = callerApplication(request, reply, ctx, site)
      return application === undefined ? reply : body(application, request, reply)
    })
  }
  // A contact that is not in the lab's directory: UCWA's JSON 404.
  const contact = (path: string, body: (a: UcwaApplication, user: LabUser) => object): void => {
    get(`/:contact${path}`, (a, request, reply) => {
      const user = findUser(ctx.spec.topology, request.params.contact ?? '')
      return user === undefined ? sendUcwaError(reply, 404, 'NotFound', undefined, 'No such person in this directory.') : sendUcwa(reply, 200, body(a, user))
    })
  }

  get('', (a, _request, reply) => sendUcwa(reply, 200, peopleBody(a)))
  get('/search', (a, request, reply) => {
    const result = search(a, users, request.query.query, request.query.limit)
    return result.ok ? sendUcwa(reply, 200, result.body) : sendUcwaError(reply, 400, 'BadRequest', 'ParameterValidationFailure', result.message)
  })
  get('/contacts', (a, _request, reply) => sendUcwa(reply, 200, myContactsBody(a, users)))
  contact('', (a, user) => contactBody(a, user))
  contact('/presence', (a, user) => contactPresenceBody(a, ctx.applications, user))
  contact('/note', (a, user) => contactNoteBody(a, ctx.applications, user))
  contact('/location', (a, user) => contactLocationBody(a, ctx.applications, user))
}
