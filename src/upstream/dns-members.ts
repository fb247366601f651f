// A dns pool's members are the A/AAAA records of a name, re-resolved on the records' TTL (or a fixed
// interval). This is DNS load balancing as Lync uses it for SIP; for web traffic Lync needs an HLB,
// which `lyncproxy check` says. A connect failure moves the request on to the next address.
import { Resolver } from 'node:dns/promises'
import { isIPv6 } from 'node:net'
import type { UpstreamPool } from './pool.js'

export interface DnsSettings {
  name: string
  // Fixed re-resolution interval; when absent the smallest record TTL is used.
  intervalMs?: number
  server?: string
}

const MIN_REFRESH_MS = 1000
const MAX_REFRESH_MS = 3_600_000
const RETRY_MS = 5000

export type DnsEvent = (pool: UpstreamPool, detail: string, failed: boolean) => void

export class DnsMembers {
  private readonly resolver = new Resolver({ timeout: 2000, tries: 2 })
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly pool: UpstreamPool, private readonly settings: DnsSettings, private readonly onEvent?: DnsEvent) {
    if (settings.server !== undefined) this.resolver.setServers([settings.server])
  }

  // Resolves once before the pool serves, then keeps following the records.
  async start (): Promise<void> {
    await this.refresh()
  }

  // A reload retires the pool: queries still out are cancelled, and an answer that comes anyway
  // is dropped (refresh looks again after its await).
  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.resolver.cancel()
  }

  async refresh (): Promise<void> {
    if (this.stopped) return
    let nextMs = RETRY_MS
    try {
      const [v4, v6] = await Promise.all([
        this.resolver.resolve4(this.settings.name, { ttl: true }).catch(notFound),
        this.resolver.resolve6(this.settings.name, { ttl: true }).catch(notFound),
      ])
      // A server may fail one family while it answers the other (dnsmasq without upstream servers
      // refuses AAAA for a name it only has an A record for): that family keeps its current
      // addresses, asked again soon. Only when both fail is the whole answer a failure.
      if (this.stopped) return
      if (v4 instanceof Error && v6 instanceof Error) throw v4
      const pool = this.pool
      const records = [...(v4 instanceof Error ? kept(pool, false) : v4), ...(v6 instanceof Error ? kept(pool, true) : v6)]
      if (records.length === 0) throw v4 instanceof Error ? v4 : v6 instanceof Error ? v6 : Object.assign(new Error(`no A or AAAA records for ${this.settings.name}`), { code: 'ENOTFOUND' })
      const before = pool.members.map((m) => m.address).join(',')
      pool.replaceMembers(records.map((r) => ({ name: r.address, address: r.address, httpPort: pool.httpPort, httpsPort: pool.httpsPort, weight: 1 })))
      const after = pool.members.map((m) => m.address).join(',')
      if (before !== after) this.emit(`${this.settings.name} → ${after}`, false)
      const ttlMs = Math.min(...records.map((r) => r.ttl)) * 1000
      nextMs = Math.max(MIN_REFRESH_MS, Math.min(this.settings.intervalMs ?? ttlMs, MAX_REFRESH_MS))
    } catch (err) {
      // Keep the last good answer; a resolver hiccup must not empty the pool.
      if (!this.stopped) this.emit(`cannot resolve ${this.settings.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, true)
    }
    if (this.stopped) return
    this.timer = setTimeout(() => { void this.refresh() }, nextMs)
    this.timer.unref()
  }

  // A consumer that throws would turn a good answer into a reported failure and reject refresh
  // (failing start, or, from the timer, ending the process): its failure is its own.
  private emit (detail: string, failed: boolean): void {
    try { this.onEvent?.(this.pool, detail, failed) } catch { /* consumers report their own failures */ }
  }
}

// No records of a family is an answer; any other failure is returned, not thrown (see refresh).
function notFound (err: NodeJS.ErrnoException): Array<{ address: string, ttl: number }> | NodeJS.ErrnoException {
  if (err.code === 'ENODATA' || err.code === 'ENOTFOUND') return []
  return err
}

// The current members of one family, as records to keep until that family answers again.
function kept (pool: UpstreamPool, v6: boolean): Array<{ address: string, ttl: number }> {
  return pool.members.filter((m) => isIPv6(m.address) === v6).map((m) => ({ address: m.address, ttl: RETRY_MS / 1000 }))
}
