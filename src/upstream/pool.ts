// An upstream pool as the data plane sees it: its members, how to choose one, how to speak TLS to
// them, and the keep-alive connection pools that hold the connections. Built once per table by the
// control plane; a reload builds new pools and lets the old connections drain. undici's Agent and
// Node's agents both keep a separate pool per origin, so one of each serves every member.
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'
import { Agent as UndiciAgent } from 'undici'
import { ProxyCounters } from './proxy-counters.js'
import { pickBySource, pickLeastConnections, pickRoundRobin, type BalancePolicy } from './balance.js'
import { Member } from './member.js'

export type PoolKind = 'vip' | 'members' | 'dns'
export type Affinity = 'none' | 'source' | 'cookie'

export interface UpstreamPoolOptions {
  name: string
  kind: PoolKind
  fqdn: string
  address: string
  httpPort: number
  httpsPort: number
  members: ReadonlyArray<{ name: string, address: string, httpPort: number, httpsPort: number, weight: number }>
  balance: BalancePolicy
  affinity: Affinity
  passive: { failures: number, backoffMs: number }
  ca: string[] | undefined
  verify: boolean
  servername: string
  maxSockets: number
  // The proxy instance's counters; a pool built outside a running proxy (explain, tests) gets its own.
  counters?: ProxyCounters
}

export type MemberEvent = (member: Member, change: 'up' | 'down' | 'ejected' | 'restored' | 'drain' | 'undrain', detail: string) => void

export class UpstreamPool {
  readonly name: string
  readonly kind: PoolKind
  readonly fqdn: string
  readonly address: string
  readonly httpPort: number
  readonly httpsPort: number
  readonly servername: string
  readonly verify: boolean
  readonly balance: BalancePolicy
  readonly affinity: Affinity
  readonly passive: { failures: number, backoffMs: number }
  readonly httpAgent: http.Agent
  readonly httpsAgent: https.Agent
  private readonly secureContext: tls.SecureContext
  readonly tlsOptions: https.AgentOptions
  readonly maxSockets: number
  // undici's connect timeout belongs to the dispatcher, not the request: one per timeout in use,
  // keyed by it.
  private readonly dispatchers = new Map<number, UndiciAgent>()
  // Replaced as a whole (never mutated in place) when DNS answers change.
  members: readonly Member[]
  onMemberEvent: MemberEvent | undefined = undefined
  readonly counters: ProxyCounters

  constructor (o: UpstreamPoolOptions) {
    this.counters = o.counters ?? new ProxyCounters()
    this.name = o.name
    this.kind = o.kind
    this.fqdn = o.fqdn
    this.address = o.address
    this.httpPort = o.httpPort
    this.httpsPort = o.httpsPort
    this.servername = o.servername
    this.verify = o.verify
    this.balance = o.balance
    this.affinity = o.affinity
    this.passive = o.passive
    this.members = o.members.map((m) => new Member({ pool: o.name, ...m }))
    // lifo hands out the most recently used socket, which is the one least likely to have been closed
    // by the server's own keep-alive timer; the idle timeout stays below IIS's 120 s default.
    // These agents carry long polls and the rare Expect: 100-continue (NTLM pins get agents of their
    // own, below). They have no connection cap, so none of their requests waits in a queue that no
    // timer watches, and a held poll never keeps an ordinary request waiting; maxSockets caps the
    // undici agents, which do watch their queue (waiting-requests.ts). The process's file
    // descriptors and the listeners' maxConnections bound them.
    const common = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const, timeout: 60_000 }
    this.httpAgent = new http.Agent(common)
    // One TLS context per pool, shared by every connection to its members. Given `ca` alone, each
    // tls.connect builds a context of its own and parses the CA PEM again, a cost paid on every
    // connection that dominated while the long polls of bench scenario e connected
    // (bench/results/2026-11-22-design-measurements.md).
    this.secureContext = tls.createSecureContext(o.ca === undefined ? {} : { ca: o.ca })
    this.tlsOptions = { secureContext: this.secureContext, rejectUnauthorized: o.verify, servername: o.servername, ALPNProtocols: ['http/1.1'] }
    this.httpsAgent = new https.Agent({ ...common, ...this.tlsOptions })
    this.maxSockets = o.maxSockets
  }

  // The dispatcher that carries most requests (see forward/undici-engine.ts). The same keep-alive
  // policy as the Node agents: idle connections close after 60 s, below IIS's 120 s, unless the
  // server's Keep-Alive hint says sooner. Ordinary requests share maxSockets connections per member
  // and queue beyond them. Long polls, which would hold one of those for minutes, go by the Node
  // agents instead (see forward/forward.ts).
  dispatcher (connectTimeoutMs: number): UndiciAgent {
    let d = this.dispatchers.get(connectTimeoutMs)
    if (d === undefined) {
      d = new UndiciAgent({
        connections: this.maxSockets,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 60_000,
        connect: { secureContext: this.secureContext, rejectUnauthorized: this.verify, timeout: connectTimeoutMs },
      })
      this.dispatchers.set(connectTimeoutMs, d)
    }
    return d
  }

  // The member for one request: the affinity member when it is available, else the policy's choice.
  // `exclude` is the member a retry must avoid.
  pick (client: string, cookie: string, exclude?: Member): Member | undefined {
    const members = this.members
    const now = Date.now()
    if (members.length === 1) {
      const only = members[0]!
      return only !== exclude && only.available(now) ? only : undefined
    }
    if (this.affinity === 'cookie' && cookie !== '') {
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!
        if (m.cookie === cookie && m !== exclude && m.available(now)) return m
      }
    } else if (this.affinity === 'source') {
      return pickBySource(members, now, exclude, client)
    }
    return this.balance === 'least-connections' ? pickLeastConnections(members, now, exclude) : pickRoundRobin(members, now, exclude)
  }

  // Passive health: consecutive connect failures or gateway-class answers eject a member for a
  // back-off that doubles with each ejection (capped), as HAProxy's observe/error-limit does.
  // A vip pool's one address is the HLB's to manage: ejecting it would only turn 502s into 503s.
  recordFailure (member: Member, reason: string): void {
    if (this.kind === 'vip') return
    member.consecutiveFailures++
    if (member.consecutiveFailures < this.passive.failures || Date.now() < member.ejectedUntil) return
    member.ejections++
    const backoff = Math.min(this.passive.backoffMs * 2 ** (member.ejections - 1), 300_000)
    member.ejectedUntil = Date.now() + backoff
    member.consecutiveFailures = 0
    this.onMemberEvent?.(member, 'ejected', `${reason}; ejected for ${backoff / 1000} s`)
  }

  recordSuccess (member: Member): void {
    member.consecutiveFailures = 0
    if (member.ejections > 0 && Date.now() >= member.ejectedUntil) {
      member.ejections = 0
      this.onMemberEvent?.(member, 'restored', 'answered again after its ejection')
    }
  }

  setDraining (memberName: string, draining: boolean): Member | undefined {
    const member = this.members.find((m) => m.name === memberName)
    if (member === undefined || member.draining === draining) return member
    member.draining = draining
    this.onMemberEvent?.(member, draining ? 'drain' : 'undrain', draining ? 'no new requests' : 'back in rotation')
    return member
  }

  // DNS pools: the new answer set, keeping the state of members whose address is unchanged.
  replaceMembers (next: ReadonlyArray<{ name: string, address: string, httpPort: number, httpsPort: number, weight: number }>): void {
    const old = new Map(this.members.map((m) => [m.address, m]))
    this.members = next.map((n) => old.get(n.address) ?? new Member({ pool: this.name, ...n }))
  }

  // A private agent with a single connection, for a client connection pinned by NTLM/Negotiate.
  createPinnedAgent (tls: boolean): http.Agent {
    const pinned = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: 0 }
    return tls ? new https.Agent({ ...pinned, ...this.tlsOptions }) : new http.Agent(pinned)
  }

  // After a reload: idle connections close now; busy ones (a long poll) finish their exchange and
  // are then closed instead of going back to the pool.
  drain (): void {
    for (const agent of [this.httpAgent, this.httpsAgent]) {
      ;(agent as http.Agent & { keepAlive: boolean }).keepAlive = false
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy()
    }
    // close() ends idle connections now and busy ones once their exchange is done.
    for (const d of this.dispatchers.values()) d.close().catch(() => {})
  }

  destroy (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
    for (const d of this.dispatchers.values()) d.destroy().catch(() => {})
  }
}

export { Member }
