// Active health checks, as an HLB runs them: per member, every interval, Microsoft's probe (HTTPS GET
// of the autodiscover root with no Accept header, 200 expected) or a TCP connect. A member goes down
// after `fall` failures in a row and comes back after `rise` successes in a row.
import https from 'node:https'
import http from 'node:http'
import net from 'node:net'
import type { Member } from './member.js'
import type { UpstreamPool } from './pool.js'

export interface HealthSettings {
  check: 'http' | 'tcp' | 'none'
  path: string
  intervalMs: number
  timeoutMs: number
  rise: number
  fall: number
  // The port to probe for a layer-4 pool; web pools probe the member's HTTPS port.
  tcpPort?: number
  // Probe over plain HTTP on the member's HTTP port (a pool without TLS).
  plain?: boolean
}

interface Streak { ok: number, bad: number }

export class HealthChecker {
  private readonly streaks = new WeakMap<Member, Streak>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly pool: UpstreamPool, private readonly settings: HealthSettings) {}

  start (): void {
    if (this.settings.check === 'none') return
    this.schedule(0)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  // One round checks every current member; DNS pools change members, so the set is read each round.
  private schedule (delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => { void this.round() }, delayMs)
    this.timer.unref()
  }

  private streakOf (member: Member): Streak {
    let s = this.streaks.get(member)
    if (s === undefined) {
      s = { ok: 0, bad: 0 }
      this.streaks.set(member, s)
    }
    return s
  }

  private async round (): Promise<void> {
    const members = this.pool.members
    await Promise.all(members.map(async (m) => this.observe(m, await this.probe(m))))
    this.schedule(this.settings.intervalMs)
  }

  private observe (member: Member, result: string | undefined): void {
    const s = this.streakOf(member)
    if (result === undefined) {
      s.ok++
      s.bad = 0
      if (!member.up && s.ok >= this.settings.rise) {
        member.up = true
        this.pool.onMemberEvent?.(member, 'up', `health check passed ${s.ok} times`)
      }
    } else {
      s.bad++
      s.ok = 0
      if (member.up && s.bad >= this.settings.fall) {
        member.up = false
        this.pool.onMemberEvent?.(member, 'down', `health check failed ${s.bad} times: ${result}`)
      }
    }
  }

  // undefined when healthy, else the reason.
  probe (member: Member): Promise<string | undefined> {
    return this.settings.check === 'tcp' ? this.probeTcp(member) : this.probeHttp(member)
  }

  private probeTcp (member: Member): Promise<string | undefined> {
    const port = this.settings.tcpPort ?? member.httpsPort
    return new Promise((resolve) => {
      const socket = net.connect({ host: member.address, port })
      const done = (reason: string | undefined): void => { socket.destroy(); resolve(reason) }
      socket.setTimeout(this.settings.timeoutMs, () => done(`no connection to ${member.address}:${port} within ${this.settings.timeoutMs} ms`))
      socket.once('connect', () => done(undefined))
      socket.once('error', (err: NodeJS.ErrnoException) => done(`${member.address}:${port} ${err.code ?? err.message}`))
    })
  }

  private probeHttp (member: Member): Promise<string | undefined> {
    const plain = this.settings.plain === true
    const port = plain ? member.httpPort : member.httpsPort
    return new Promise((resolve) => {
      let settled = false
      const done = (reason: string | undefined): void => { if (!settled) { settled = true; resolve(reason) } }
      const options: https.RequestOptions = {
        host: member.address,
        port,
        path: this.settings.path,
        method: 'GET',
        agent: false,
        // No Accept header, as Microsoft's probe sends it; the Host is the pool's name.
        headers: { Host: this.pool.fqdn, Connection: 'close' },
        timeout: this.settings.timeoutMs,
        ...(plain ? {} : this.pool.tlsOptions),
      }
      const req = plain ? http.request(options) : https.request(options)
      req.on('response', (res) => {
        res.resume()
        done(res.statusCode === 200 ? undefined : `GET ${this.settings.path} answered ${res.statusCode ?? '?'}`)
      })
      req.on('timeout', () => { req.destroy(); done(`GET ${this.settings.path} timed out after ${this.settings.timeoutMs} ms`) })
      req.on('error', (err: NodeJS.ErrnoException) => done(`GET ${this.settings.path}: ${err.code ?? err.message}`))
      req.end()
    })
  }
}
