// Runs what keeps a table's pools current: active health checks, DNS re-resolution, and the log of
// every member transition. One supervisor per table generation; a reload stops the old one.
import type { ResolvedConfig } from '../config/defaults.js'
import type { Logger } from '../observe/logger.js'
import type { RoutingTable } from '../routing/table.js'
import { DnsMembers } from '../upstream/dns-members.js'
import { HealthChecker } from '../upstream/health.js'

export interface PoolSupervisor {
  stop (): void
}

export async function supervisePools (table: RoutingTable, config: ResolvedConfig, logger: Logger): Promise<PoolSupervisor> {
  const log = logger.child({ kind: 'health' })
  const stoppers: Array<() => void> = []
  for (const [name, pool] of table.pools) {
    const cfg = config.pools[name]
    if (cfg === undefined) continue
    pool.onMemberEvent = (member, change, detail) => {
      const level = change === 'down' || change === 'ejected' ? 'warn' : 'info'
      log[level]({ pool: name, member: member.name, address: member.address, change }, `pool ${name} member ${member.name} ${change}: ${detail}`)
    }
    if (cfg.kind === 'dns') {
      const dns = new DnsMembers(pool, {
        name: cfg.dns?.name ?? cfg.fqdn,
        ...(cfg.dns?.interval === undefined ? {} : { intervalMs: cfg.dns.interval * 1000 }),
        ...(cfg.dns?.server === undefined ? {} : { server: cfg.dns.server }),
      }, (_p, detail, failed) => log[failed ? 'warn' : 'info']({ pool: name }, `pool ${name}: ${detail}`))
      await dns.start()
      stoppers.push(() => dns.stop())
    }
    if (cfg.health.check !== 'none') {
      const checker = new HealthChecker(pool, {
        check: cfg.health.check,
        path: cfg.health.path,
        intervalMs: cfg.health.interval * 1000,
        timeoutMs: cfg.health.timeout * 1000,
        rise: cfg.health.rise,
        fall: cfg.health.fall,
        // A pool reached only over HTTP (no https port published) is probed over HTTP.
        plain: cfg.httpsPort === 0,
      })
      checker.start()
      stoppers.push(() => checker.stop())
    }
  }
  for (const frontend of config.tcp) {
    const pool = table.tcpPools.get(frontend.name)
    if (pool === undefined) continue
    const cfg = config.pools[frontend.pool]
    if (cfg === undefined || cfg.health.check === 'none') continue
    const checker = new HealthChecker(pool, {
      check: 'tcp',
      path: cfg.health.path,
      intervalMs: cfg.health.interval * 1000,
      timeoutMs: cfg.health.timeout * 1000,
      rise: cfg.health.rise,
      fall: cfg.health.fall,
      tcpPort: frontend.targetPort,
    })
    checker.start()
    stoppers.push(() => checker.stop())
  }
  return { stop: () => { for (const s of stoppers) s() } }
}
