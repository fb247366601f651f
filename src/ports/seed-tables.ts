// Microsoft's two port-summary tables for Lync Server 2013 ("Port summary - Reverse proxy", and the
// Director table of "Port summary - DNS and HLB load balanced"), in English. They are the vocabulary
// of the firewall tables lyncproxy prints: which traffic a row stands for and what Microsoft says
// about it. Ports, names, pools and addresses are not here; they come from the configuration.

export type PortTableId = 'external' | 'internal' | 'director'

export interface SeedTable {
  id: PortTableId
  title: string
  // The four columns, as the documents head them.
  columns: readonly [string, string, string, string]
}

export interface SeedRow {
  id: string
  table: PortTableId
  // The application protocol chain and transport as the document writes them: HTTP/TCP, SIP/MTLS/TCP.
  protocol: string
  port: number
  source: string
  destination: string
  description: string
}

const COLUMNS = ['Protocol/TCP or UDP/Port', 'Source IP address', 'Destination IP address', 'Description'] as const

export const SEED_TABLES: readonly SeedTable[] = [
  { id: 'external', title: 'Firewall details for the reverse proxy server: external interface', columns: COLUMNS },
  { id: 'internal', title: 'Firewall details for the reverse proxy server: internal interface', columns: COLUMNS },
  { id: 'director', title: 'Single Director ports and protocols for firewall definitions', columns: ['Role/Protocol/TCP or UDP/Port', COLUMNS[1], COLUMNS[2], COLUMNS[3]] },
]

const POOLS = 'Front End Server, Front End pool, Director, Director pool'
const DIRECTOR_VIP = 'Director hardware load balancer VIP'
const VIA_DIRECTOR = 'Communication is initially received by the external side of the reverse proxy and is sent on to the Director HLB VIP and the Front End Server web services.'
const DIRECTOR_WEB = 'The Director provides web services to internal as well as external clients.'
const CLS = 'Centralized Logging Service controller (ClsController.exe) or agent (ClsAgent.exe) commands and log collection'

export const SEED_ROWS: readonly SeedRow[] = [
  {
    id: 'external-http-80',
    table: 'external',
    protocol: 'HTTP/TCP',
    port: 80,
    source: 'Any',
    destination: 'Reverse proxy listener',
    description: '(Optional) Redirection to HTTPS if the user enters http://<publishedSiteFQDN>. ' +
      'Also required when using Office Web Apps for conferencing and the Autodiscover service for mobile devices running Lync ' +
      'in situations where the organization does not want to modify the external web services publishing rule certificate.',
  },
  {
    id: 'external-https-443',
    table: 'external',
    protocol: 'HTTPS/TCP',
    port: 443,
    source: 'Any',
    destination: 'Reverse proxy listener',
    description: 'Address book downloads, Address Book Web Query service, Autodiscover, client updates, meeting content, ' +
      'device updates, group expansion, Office Web Apps for conferencing, and dial-in conferencing.',
  },
  {
    id: 'internal-http-8080',
    table: 'internal',
    protocol: 'HTTP/TCP',
    port: 8080,
    source: 'Internal reverse proxy interface',
    destination: POOLS,
    description: 'Required when using the Autodiscover service for mobile devices running Lync when the organization does not ' +
      'want to modify the external web services publishing rule certificate. ' +
      'Traffic sent to port 80 on the reverse proxy external interface is redirected to a pool on port 8080 from the reverse ' +
      'proxy internal interface so that the pool web services can distinguish it from internal web traffic.',
  },
  {
    id: 'internal-https-4443',
    table: 'internal',
    protocol: 'HTTPS/TCP',
    port: 4443,
    source: 'Internal reverse proxy interface',
    destination: POOLS,
    description: 'Traffic sent to port 443 on the reverse proxy external interface is redirected to a pool on port 4443 from the ' +
      'reverse proxy internal interface so that the pool web services can distinguish it from internal web traffic.',
  },
  {
    id: 'internal-https-443-owas',
    table: 'internal',
    protocol: 'HTTPS/TCP',
    port: 443,
    source: 'Internal reverse proxy interface',
    destination: 'Office Web Apps for conferencing',
    description: '',
  },
  { id: 'director-http-8080', table: 'director', protocol: 'HTTP/TCP', port: 8080, source: 'Reverse proxy internal interface', destination: DIRECTOR_VIP, description: VIA_DIRECTOR },
  { id: 'director-https-4443', table: 'director', protocol: 'HTTPS/TCP', port: 4443, source: 'Reverse proxy internal interface', destination: DIRECTOR_VIP, description: VIA_DIRECTOR },
  {
    id: 'director-https-444',
    table: 'director',
    protocol: 'HTTPS/TCP',
    port: 444,
    source: 'Director',
    destination: 'Front End pool or Front End Server',
    description: 'Inter-server communication between the Director HLB VIP and the Front End Server or Front End Servers.',
  },
  { id: 'director-http-80', table: 'director', protocol: 'HTTP/TCP', port: 80, source: 'Internal clients', destination: DIRECTOR_VIP, description: DIRECTOR_WEB },
  { id: 'director-https-443', table: 'director', protocol: 'HTTPS/TCP', port: 443, source: 'Internal clients', destination: DIRECTOR_VIP, description: DIRECTOR_WEB },
  {
    id: 'director-sip-5061',
    table: 'director',
    protocol: 'SIP/MTLS/TCP',
    port: 5061,
    source: 'Edge Server internal interface',
    destination: 'Director',
    description: 'SIP communication from the Edge Server to the Director and the Front End Servers.',
  },
  { id: 'director-cls-50001', table: 'director', protocol: 'MTLS/TCP', port: 50001, source: 'Any', destination: 'Director', description: CLS },
  { id: 'director-cls-50002', table: 'director', protocol: 'MTLS/TCP', port: 50002, source: 'Any', destination: 'Director', description: CLS },
  { id: 'director-cls-50003', table: 'director', protocol: 'MTLS/TCP', port: 50003, source: 'Any', destination: 'Director', description: CLS },
]

export function seedRow (id: string): SeedRow {
  const row = SEED_ROWS.find((r) => r.id === id)
  if (row === undefined) throw new Error(`internal: no seed row ${id}`)
  return row
}
