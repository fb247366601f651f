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
    await Promise.all(members.map(async (m) => {
      const result = await this.probe(m)
      // A round that outlives stop() (a reload retired this pool) reports nothing.
      if (!this.stopped) this.observe(m, result)
    }))
    this.schedule(this.settings.intervalMs)
  }

  private observe (member: Member, result: string | undefined): void {
    const s = this.streakOf(member)
    if (result === undefined) {
      s.ok++
      s.bad = 0
      if (!member.up && s.ok >= this.settings.rise) {
        member.up = true
        this.emit(member, 'up', `health check passed ${s.ok} times`)
      }
    } else {
      s.bad++
      s.ok = 0
      if (member.up && s.bad >= this.settings.fall) {
        member.up = false
        this.emit(member, 'down', `health check failed ${s.bad} times: ${result}`)
      }
    }
  }

  // A consumer that throws would reject the round, and with it every later one (and an unhandled
  // rejection ends the process): its failure is its own.
  private emit (member: Member, change: 'up' | 'down', detail: string): void {
    try { this.pool.onMemberEvent?.(member, change, detail) } catch { /* consumers report their own failures */ }
  }

  // undefined when healthy, else the reason. Each probe settles once, within timeoutMs of its start
  // (connect, TLS and the response head together: a member that trickles bytes resets an idle timer
  // for ever, and the round waits for every probe), and takes its connection with it.
  probe (member: Member): Promise<string | undefined> {
    return this.settings.check === 'tcp' ? this.probeTcp(member) : this.probeHttp(member)
  }

  private probeTcp (member: Member): Promise<string | undefined> {
    // A layer-4 frontend's target port, where this member has it (its portMap on one address).
    const port = this.settings.tcpPort === undefined ? member.httpsPort : member.portMap.get(this.settings.tcpPort) ?? this.settings.tcpPort
    const timeoutMs = this.settings.timeoutMs
    return new Promise((resolve) => {
      const socket = net.connect({ host: member.address, port })
      let settled = false
      const finish = (reason: string | undefined): void => {
        if (settled) return
        settled = true
        clearTimeout(deadline)
        socket.destroy()
        resolve(reason)
      }
      const deadline = setTimeout(() => finish(`no connection to ${member.address}:${port} within ${timeoutMs} ms`), timeoutMs)
      socket.once('connect', () => finish(undefined))
      // Kept after settling: an error that arrives later finds a listener.
      socket.on('error', (err: NodeJS.ErrnoException) => finish(`${member.address}:${port} ${err.code ?? err.message}`))
    })
  }

  private probeHttp (member: Member): Promise<string | undefined> {
    const plain = this.settings.plain === true
    const port = plain ? member.httpPort : member.httpsPort
    const { path, timeoutMs } = this.settings
    return new Promise((resolve) => {
      const options: https.RequestOptions = {
        host: member.address,
        port,
        path,
        method: 'GET',
        agent: false,
        // No Accept header, as Microsoft's probe sends it; the Host is the pool's name.
        headers: { Host: this.pool.fqdn, Connection: 'close' },
        ...(plain ? {} : this.pool.tlsOptions),
      }
      const req = plain ? http.request(options) : https.request(options)
      let settled = false
      // The status is the verdict: the body is not read, and the connection goes with the probe.
      const finish = (reason: string | undefined): void => {
        if (settled) return
        settled = true
        clearTimeout(deadline)
        req.destroy()
        resolve(reason)
      }
      const deadline = setTimeout(() => finish(`GET ${path} timed out after ${timeoutMs} ms`), timeoutMs)
      req.on('response', (res) => finish(res.statusCode === 200 ? undefined : `GET ${path} answered ${res.statusCode ?? '?'}`))
      // Kept after settling: destroying the request makes it emit one.
      req.on('error', (err: NodeJS.ErrnoException) => finish(`GET ${path}: ${err.code ?? err.message}`))
      req.end()
    })
  }
}
