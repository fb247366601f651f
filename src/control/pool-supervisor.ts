// Runs what keeps a table's pools current: active health checks, DNS re-resolution, and the log of
// every member transition. One supervisor per table generation; a reload stops the old one.
import type { ResolvedConfig, ResolvedPool } from '../config/defaults.js'
import type { Logger } from '../observe/logger.js'
import type { RoutingTable } from '../routing/table.js'
import { DnsMembers } from '../upstream/dns-members.js'
import { HealthChecker } from '../upstream/health.js'
import type { MemberEvent, UpstreamPool } from '../upstream/pool.js'

export interface PoolSupervisor {
  stop (): void
}

export async function supervisePools (table: RoutingTable, config: ResolvedConfig, logger: Logger): Promise<PoolSupervisor> {
  const log = logger.child({ kind: 'health' })
  const stoppers: Array<() => void> = []
  for (const [name, pool] of table.pools) {
    const cfg = config.pools[name]
    // A pool that only tcp frontends use is supervised through their copies below; probing its web
    // ports (4443 on a SIP server) would only log members down that nothing sends web traffic to.
    if (cfg === undefined || !config.rules.some((r) => r.pool === name)) continue
    pool.onMemberEvent = logTransitions(log, name, undefined)
    if (cfg.kind === 'dns') stoppers.push(await followDns(pool, cfg, name, log))
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
    if (cfg === undefined) continue
    pool.onMemberEvent = logTransitions(log, frontend.pool, frontend.name)
    // A frontend has its own copy of the pool (its own balancing and health state), so its members
    // come from DNS separately: DNS load balancing for SIP is what Lync itself supports.
    if (cfg.kind === 'dns') stoppers.push(await followDns(pool, cfg, frontend.pool, log))
    if (cfg.health.check === 'none') continue
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

async function followDns (pool: UpstreamPool, cfg: ResolvedPool, name: string, log: Logger): Promise<() => void> {
  const dns = new DnsMembers(pool, {
    name: cfg.dns?.name ?? cfg.fqdn,
    ...(cfg.dns?.interval === undefined ? {} : { intervalMs: cfg.dns.interval * 1000 }),
    ...(cfg.dns?.server === undefined ? {} : { server: cfg.dns.server }),
  }, (_p, detail, failed) => log[failed ? 'warn' : 'info']({ pool: name }, `pool ${name}: ${detail}`))
  await dns.start()
  return () => dns.stop()
}

// Every member transition is logged, for a frontend's copy of a pool as for the web pool.
function logTransitions (log: Logger, pool: string, frontend: string | undefined): MemberEvent {
  const where = frontend === undefined ? `pool ${pool}` : `pool ${pool} (tcp ${frontend})`
  return (member, change, detail) => {
    const level = change === 'down' || change === 'ejected' ? 'warn' : 'info'
    log[level]({ pool, ...(frontend === undefined ? {} : { frontend }), member: member.name, address: member.address, change }, `${where} member ${member.name} ${change}: ${detail}`)
  }
}
