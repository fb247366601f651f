// The public shapes of the stand-in Lync servers. Kept apart from the implementation so the lab runner
// (and anything else that only describes a topology) can import them without pulling in fastify.

export type SiteKind = 'internal' | 'external'
export type SiteProtocol = 'http' | 'https'

// A pool's two web-services names, as Topology Builder shows them: the internal web FQDN and the
// "external web services FQDN" that the reverse proxy publishes.
export interface WebPool { internalFqdn: string; externalFqdn: string }

export interface LabUser { sipUri: string; password: string; displayName?: string }

// Whom a web ticket names: a directory user, or a meeting guest signed in with the anonmeeting
// grant, who has a URI made up for the ticket (sip:<digits>@anonymous.invalid, as a real pool gives
// one) and the one conference URI the ticket admits to.
export interface Caller extends LabUser { conference?: string }

// Where a SIP client registers: a name it opens TLS to, and the port.
export interface SipAccess { fqdn: string; port: number }

export interface LabTopology {
  sipDomain: string
  // By default the Front End pool on 5061 inside, the Edge's sip.<domain> on 443 outside.
  sipAccess?: { internal?: SipAccess; external?: SipAccess }
  frontEnd: WebPool
  director?: WebPool
  owas?: WebPool
  users: LabUser[]
  // The shortest event-channel timeout the Front End honours (lab.ucwa.minEventTimeout), in seconds.
  ucwa?: { minEventTimeout?: number }
  // The origins allowed to use the pool through its XFrame (lab.crossDomainAuthorizationList), as
  // URL origins (lower case, no default port).
  crossDomainOrigins?: string[]
}

export interface SiteSpec { kind: SiteKind; protocol: SiteProtocol; port: number }

// The server of a pool that holds its UCWA state when the pool's servers run in separate processes
// (ucwa/pool-host.ts): where to reach each of its sites.
export interface UcwaHost { member: string; address: string; sites: SiteSpec[] }

export interface StandInSpec {
  member: string
  role: 'frontend' | 'director' | 'owas'
  serverFqdn: string
  address: string
  // Lync FE/Director run two IIS sites: internal on 80/443, external on 8080/4443. OWAS: 80/443.
  sites: SiteSpec[]
  tls?: { cert: string; key: string }
  topology: LabTopology
  // Set when this server runs alone and another server of its pool holds the UCWA state.
  ucwaHost?: UcwaHost
}

export interface BoundSite { kind: SiteKind; protocol: SiteProtocol; address: string; port: number }

export interface RunningStandIn {
  member: string
  sites: BoundSite[]
  // Pushes a UCWA event to every event channel of that user; returns how many held P-GETs it woke.
  // On a server that passes UCWA on to its pool's host (ucwaHost) there are none: use the host's.
  triggerEvent (sipUri: string, event: object): number
  // The timeout, in seconds, of each P-GET held right now (tests read it: a floor or ceiling applied).
  heldEventTimeouts (): number[]
  close (): Promise<void>
}
