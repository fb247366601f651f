// What the route modules of one stand-in share: the spec, the pool it serves and the UCWA state.
// The state is per stand-in, not per site, because a client may create an application through one
// IIS site and poll its events through the other, as with the real server.
import type { SiteKind, SiteProtocol, StandInSpec, WebPool } from './types.js'
import type { ApplicationRegistry } from './ucwa/applications.js'
import type { ConferenceRegistry } from './ucwa/meeting-conversation.js'
import type { EventChannels } from './ucwa/events.js'
import type { MeetingRegistry } from './ucwa/meetings.js'
import type { ConversationRegistry } from './ucwa/messaging.js'
import type { SubscriptionRegistry } from './ucwa/subscriptions.js'

export interface Site { kind: SiteKind; protocol: SiteProtocol }

export interface StandInContext {
  spec: StandInSpec
  pool: WebPool
  // Signs and checks this pool's web tickets (webticket/token.ts).
  ticketKey: Buffer
  applications: ApplicationRegistry
  channels: EventChannels
  conversations: ConversationRegistry
  meetings: MeetingRegistry
  // The conversations of meetings that have been joined (joinOnlineMeeting).
  conferences: ConferenceRegistry
  subscriptions: SubscriptionRegistry
}
