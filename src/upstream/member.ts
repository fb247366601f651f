// One server behind a pool, and what the balancer knows of it: whether health checks say it is up,
// whether passive observation has ejected it for a while, whether the admin drains it, and how many
// requests it is serving now.
import { createHash } from 'node:crypto'

export interface MemberOptions {
  pool: string
  name: string
  address: string
  httpPort: number
  httpsPort: number
  weight: number
  portMap?: Readonly<Record<string, number>>
}

export class Member {
  readonly pool: string
  readonly name: string
  readonly address: string
  readonly httpPort: number
  readonly httpsPort: number
  readonly weight: number
  // Where this member's port P is reached when not at P (the single-address lab); else empty.
  readonly portMap: ReadonlyMap<number, number>
  // The MS-WSMAN affinity value: a digest of the pool and member names, so the cookie never reveals
  // an address and stays the same across restarts.
  readonly cookie: string
  // The undici origins of its own two ports, made once instead of per request.
  readonly httpOrigin: string
  readonly httpsOrigin: string
  up = true
  draining = false
  ejectedUntil = 0
  consecutiveFailures = 0
  ejections = 0
  active = 0
  // Smooth weighted round robin state (the algorithm nginx uses).
  currentWeight = 0

  constructor (o: MemberOptions) {
    this.pool = o.pool
    this.name = o.name
    this.address = o.address
    this.httpPort = o.httpPort
    this.httpsPort = o.httpsPort
    this.weight = o.weight
    this.portMap = new Map(Object.entries(o.portMap ?? {}).map(([from, to]) => [Number(from), to]))
    this.cookie = createHash('sha256').update(o.pool + '\0' + o.name).digest('hex').slice(0, 24)
    this.httpOrigin = this.origin(false, o.httpPort)
    this.httpsOrigin = this.origin(true, o.httpsPort)
  }

  origin (tls: boolean, port: number): string {
    return (tls ? 'https://' : 'http://') + (this.address.includes(':') ? '[' + this.address + ']' : this.address) + ':' + port
  }

  available (now: number): boolean {
    return this.up && !this.draining && now >= this.ejectedUntil
  }
}
