// An upstream pool as the data plane sees it: where to connect, how to speak TLS, and the keep-alive
// agents that hold its connections. Built once per table by the control plane; a reload builds new
// pools and lets the old agents drain.
import http from 'node:http'
import https from 'node:https'

export interface UpstreamPoolOptions {
  name: string
  fqdn: string
  address: string
  httpPort: number
  httpsPort: number
  ca: string[] | undefined
  verify: boolean
  servername: string
  maxSockets: number
}

export class UpstreamPool {
  readonly name: string
  readonly fqdn: string
  readonly address: string
  readonly httpPort: number
  readonly httpsPort: number
  readonly servername: string
  readonly verify: boolean
  readonly httpAgent: http.Agent
  readonly httpsAgent: https.Agent
  readonly tlsOptions: https.AgentOptions

  constructor (o: UpstreamPoolOptions) {
    this.name = o.name
    this.fqdn = o.fqdn
    this.address = o.address
    this.httpPort = o.httpPort
    this.httpsPort = o.httpsPort
    this.servername = o.servername
    this.verify = o.verify
    // lifo hands out the most recently used socket, which is the one least likely to have been closed
    // by the server's own keep-alive timer; the idle timeout stays below IIS's 120 s default.
    const common = { keepAlive: true, maxSockets: o.maxSockets, maxFreeSockets: Math.min(o.maxSockets, 256), scheduling: 'lifo' as const, timeout: 60_000 }
    this.httpAgent = new http.Agent(common)
    this.tlsOptions = { ca: o.ca, rejectUnauthorized: o.verify, servername: o.servername, ALPNProtocols: ['http/1.1'] }
    this.httpsAgent = new https.Agent({ ...common, ...this.tlsOptions })
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
  }

  destroy (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }
}
