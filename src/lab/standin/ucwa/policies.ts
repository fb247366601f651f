// The application's policies resource (policies_ref.md): what the admin allows the client. The lab's
// values follow what its Front End can do: plain-text messaging only, no photos, no Exchange
// voicemail, no archiving. The mobile save* policies are at the defaults policies_ref.md gives;
// emoticons and clickable URLs, for which it gives none, are on.
import type { FastifyInstance } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { APPLICATIONS_PATH } from './applications.js'
import { callerApplication, type AppRequest } from './caller.js'
import { sendUcwa } from './respond.js'

const LAB_POLICIES = {
  emoticons: 'Enabled',
  exchangeUnifiedMessaging: 'Disabled',
  htmlMessaging: 'Disabled',
  logging: 'Disabled',
  messageArchiving: 'Disabled',
  messagingUrls: 'Enabled',
  photos: 'Disabled',
  saveCallLogs: 'Enabled',
  saveCredentials: 'Enabled',
  saveMessagingHistory: 'Enabled',
} as const

export function registerPolicies (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  app.get(`${APPLICATIONS_PATH}/:id/policies`, async (request: AppRequest, reply) => {
    const a = callerApplication(request, reply, ctx, site, { guests: true })
    if (a === undefined) return reply
    return sendUcwa(reply, 200, { ...LAB_POLICIES, _links: { self: { href: `${APPLICATIONS_PATH}/${a.id}/policies` } }, rel: 'policies' })
  })
}
