// Stand-in Lync servers for the lab: each is a real HTTP(S) server, one per IIS site of a member, that
// speaks enough of the Lync 2013 web services wire formats for a reverse proxy to be tested against.
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildSiteApp } from './app.js'
import type { StandInContext } from './context.js'
import { triggerUserEvent } from './lab-events.js'
import { ownPool } from './topology.js'
import type { BoundSite, LabTopology, RunningStandIn, StandInSpec } from './types.js'
import { ApplicationRegistry } from './ucwa/applications.js'
import { EventChannels } from './ucwa/events.js'
import { ConferenceRegistry } from './ucwa/meeting-conversation.js'
import { MeetingRegistry } from './ucwa/meetings.js'
import { ConversationRegistry } from './ucwa/messaging.js'
import { SubscriptionRegistry } from './ucwa/subscriptions.js'
import { ticketKeyOf } from './webticket/token.js'

export type { BoundSite, LabTopology, LabUser, RunningStandIn, SiteKind, SiteProtocol, SiteSpec, StandInSpec, WebPool } from './types.js'

// What the servers of one pool share. Real Front End servers of a pool reach the user's registrar
// behind the scenes, so an HLB may send each request of a UCWA session to a different server; the
// lab's servers of one pool share their applications and event channels to the same effect.
export interface PoolState {
  applications: ApplicationRegistry
  channels: EventChannels
  conversations: ConversationRegistry
  meetings: MeetingRegistry
  conferences: ConferenceRegistry
  subscriptions: SubscriptionRegistry
}

export function createPoolState (topology: LabTopology): PoolState {
  return {
    applications: new ApplicationRegistry(),
    channels: new EventChannels(topology.ucwa?.minEventTimeout),
    conversations: new ConversationRegistry(),
    meetings: new MeetingRegistry(),
    conferences: new ConferenceRegistry(),
    subscriptions: new SubscriptionRegistry(),
  }
}

export async function startStandIn (spec: StandInSpec, shared: PoolState = createPoolState(spec.topology)): Promise<RunningStandIn> {
  const ctx: StandInContext = {
    spec,
    pool: ownPool(spec),
    ticketKey: ticketKeyOf(spec.tls?.key),
    applications: shared.applications,
    channels: shared.channels,
    conversations: shared.conversations,
    meetings: shared.meetings,
    conferences: shared.conferences,
    subscriptions: shared.subscriptions,
  }
  const apps: FastifyInstance[] = []
  const sites: BoundSite[] = []
  try {
    for (const site of spec.sites) {
      const app = buildSiteApp(ctx, site)
      apps.push(app)
      await app.listen({ host: spec.address, port: site.port })
      const bound = app.server.address() as AddressInfo
      sites.push({ kind: site.kind, protocol: site.protocol, address: bound.address, port: bound.port })
    }
  } catch (err) {
    // A member is all its sites or nothing: do not leave half of it listening.
    await Promise.allSettled(apps.map((a) => a.close()))
    throw err
  }

  let closing: Promise<void> | undefined
  return {
    member: spec.member,
    sites,
    triggerEvent: (sipUri, event) => triggerUserEvent(ctx, sipUri, event),
    heldEventTimeouts: () => ctx.channels.heldTimeouts(),
    close: () => {
      closing ??= (async () => {
        // Answer held P-GETs before the sockets go, so a client sees a response rather than a reset.
        ctx.channels.closeAll()
        ctx.applications.clear()
        ctx.conversations.forget()
        ctx.meetings.forget()
        ctx.conferences.forget()
        ctx.subscriptions.forget()
        // One turn of the event loop lets those answers reach their sockets before close destroys them.
        await new Promise((resolve) => setImmediate(resolve))
        await Promise.all(apps.map((a) => a.close()))
      })()
      return closing
    },
  }
}
