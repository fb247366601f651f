// Checks the schema cannot express: names that must refer to something defined, and settings that
// contradict each other. They run on a config that already passed the schema, so the shapes are known.
import { isIPv6 } from 'node:net'
import { DEFAULTS } from './defaults.js'
import { didYouMean } from './did-you-mean.js'
import type { ConfigIssue } from './issues.js'
import type { Config, ListenerConfig } from './schema.js'

const REFERENCE = 'LRP_ERR_CONFIG_REFERENCE'
const CONFLICT = 'LRP_ERR_CONFIG_CONFLICT'

export interface CrossCheckContext {
  // Which listener ports came from LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT (or a test), so that a
  // clash they cause is not blamed on the file alone.
  overridden: { http: boolean, https: boolean }
}

export function crossCheckIssues (config: Config, context: CrossCheckContext): ConfigIssue[] {
  return [
    ...listenerIssues(config, context),
    ...ruleIssues(config),
    ...poolIssues(config),
    ...tcpIssues(config),
    ...labIssues(config),
  ]
}

// A pool's kind decides which of its keys mean anything; a key that would be ignored is an error.
function poolIssues (config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  for (const [name, p] of Object.entries(config.pools)) {
    const kind = p.kind ?? 'vip'
    if (kind === 'members' && (p.members === undefined || p.members.length === 0)) {
      issues.push({ code: CONFLICT, path: ['pools', name], message: `pool '${name}' has kind members but no members`, fix: 'list the servers under members: [{ name, address }], or use kind: vip' })
    }
    if (kind !== 'members' && p.members !== undefined) {
      issues.push({ code: CONFLICT, path: ['pools', name, 'members'], at: 'key', message: `pool '${name}' lists members but its kind is ${kind}`, fix: 'set kind: members, or remove members' })
    }
    if (kind !== 'dns' && p.dns !== undefined) {
      issues.push({ code: CONFLICT, path: ['pools', name, 'dns'], at: 'key', message: `pool '${name}' has dns settings but its kind is ${kind}`, fix: 'set kind: dns, or remove dns' })
    }
    p.members?.forEach((m, i) => {
      const first = p.members?.findIndex((o) => o.name === m.name) ?? i
      if (first < i) issues.push({ code: CONFLICT, path: ['pools', name, 'members', i, 'name'], message: `member name '${m.name}' is used twice in pool '${name}'`, fix: 'give every member its own name; metrics and drain use it' })
    })
  }
  return issues
}

function tcpIssues (config: Config): ConfigIssue[] {
  const poolNames = Object.keys(config.pools)
  const issues: ConfigIssue[] = []
  config.tcp?.forEach((f, i) => {
    if (!Object.hasOwn(config.pools, f.pool)) {
      issues.push({ code: REFERENCE, path: ['tcp', i, 'pool'], message: `tcp frontend '${f.name}' names pool '${f.pool}', which is not defined${didYouMean(f.pool, poolNames)}; defined pools: ${poolNames.join(', ')}` })
    }
    const first = config.tcp?.findIndex((o) => o.name === f.name) ?? i
    if (first < i) issues.push({ code: CONFLICT, path: ['tcp', i, 'name'], message: `tcp frontend name '${f.name}' is used twice`, fix: 'give every tcp frontend its own name' })
  })
  return issues
}

function listenerIssues (config: Config, context: CrossCheckContext): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  config.listeners.forEach((l, i) => {
    const first = config.listeners.findIndex((o) => o.name === l.name)
    if (first < i) {
      issues.push({
        code: CONFLICT,
        path: ['listeners', i, 'name'],
        message: `listener name '${l.name}' is used twice (also at /listeners/${first})`,
        fix: 'give every listener its own name',
      })
    }

    if (l.protocol === 'https' && (l.certificates === undefined || l.certificates.length === 0)) {
      issues.push({
        code: CONFLICT,
        path: ['listeners', i],
        message: `https listener '${l.name}' has no certificates`,
        fix: 'add certificates: [{ lab: true }] for the lab, or a { cert, key } or { pfx } entry with the certificate clients must see',
      })
    }
    if (l.protocol === 'http' && l.certificates !== undefined) {
      issues.push({
        code: CONFLICT,
        path: ['listeners', i, 'certificates'],
        at: 'key',
        message: `http listener '${l.name}' has certificates, which only an https listener uses`,
        fix: 'remove certificates, or set protocol: https',
      })
    }
    if (l.protocol === 'https' && l.redirectToHttps !== undefined) {
      issues.push({
        code: CONFLICT,
        path: ['listeners', i, 'redirectToHttps'],
        at: 'key',
        message: `redirectToHttps is set on https listener '${l.name}'; it only applies to http listeners`,
        fix: 'remove redirectToHttps from this listener',
      })
    }

    // Two listeners on one socket cannot both bind. Port 0 means "any free port" (tests), never a clash.
    if (l.port !== 0) {
      const address = listenerAddress(l)
      const clash = config.listeners.findIndex((o, j) => j < i && o.port === l.port && addressesOverlap(listenerAddress(o), address))
      const other = config.listeners[clash]
      if (other !== undefined) {
        const otherAddress = listenerAddress(other)
        const same = normalizeAddress(otherAddress) === normalizeAddress(address)
        const overridden = context.overridden[l.protocol] || context.overridden[other.protocol]
        issues.push({
          code: CONFLICT,
          path: ['listeners', i, 'port'],
          message: `listeners '${other.name}' and '${l.name}' both listen on ` +
            (same ? formatHostPort(address, l.port) : `port ${l.port} (${wildcardFirst(otherAddress, address)})`) +
            (overridden ? ' (after LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT were applied)' : ''),
          fix: overridden
            ? 'give the listeners different addresses, or different override ports'
            : 'give the two listeners different ports or addresses',
        })
      }
    }
  })
  return issues
}

function ruleIssues (config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const listenerNames = [...new Set(config.listeners.map((l) => l.name))]
  const poolNames = Object.keys(config.pools)
  const hasHttps = config.listeners.some((l) => l.protocol === 'https')
  const definedPools = poolNames.length > 0 ? `defined pools: ${poolNames.join(', ')}` : 'no pools are defined'

  config.rules.forEach((r, i) => {
    const first = config.rules.findIndex((o) => o.name === r.name)
    if (first < i) {
      issues.push({
        code: CONFLICT,
        path: ['rules', i, 'name'],
        message: `rule name '${r.name}' is used twice (also at /rules/${first})`,
        fix: 'give every rule its own name; logs and metrics report rules by name',
      })
    }

    r.listeners?.forEach((name, j) => {
      if (!listenerNames.includes(name)) {
        issues.push({
          code: REFERENCE,
          path: ['rules', i, 'listeners', j],
          message: `rule '${r.name}' names listener '${name}', which is not defined${didYouMean(name, listenerNames)}; defined listeners: ${listenerNames.join(', ')}`,
        })
      }
    })

    if (r.action === 'forward') {
      if (r.pool === undefined) {
        issues.push({
          code: REFERENCE,
          path: ['rules', i],
          message: `rule '${r.name}' has action forward but no pool; ${definedPools}`,
          fix: 'add pool: <name> naming the pool this rule forwards to',
        })
      } else if (!Object.hasOwn(config.pools, r.pool)) {
        // hasOwn: a pool named `constructor` or `toString` must not be found on Object.prototype.
        issues.push({
          code: REFERENCE,
          path: ['rules', i, 'pool'],
          message: `rule '${r.name}' forwards to pool '${r.pool}', which is not defined${didYouMean(r.pool, poolNames)}; ${definedPools}`,
        })
      }
    } else if (r.pool !== undefined) {
      issues.push({
        code: CONFLICT,
        path: ['rules', i, 'pool'],
        at: 'key',
        message: `rule '${r.name}' has action ${r.action}, which never forwards, but names pool '${r.pool}'`,
        fix: `remove pool, or set action: forward`,
      })
    }

    if (r.action === 'redirect' && !hasHttps) {
      issues.push({
        code: CONFLICT,
        path: ['rules', i, 'action'],
        message: `rule '${r.name}' redirects to HTTPS, but no listener has protocol https`,
        fix: 'add an https listener, or change the action',
      })
    }
  })
  return issues
}

// The lab's stand-in servers sit behind pools by name.
function labIssues (config: Config): ConfigIssue[] {
  const poolNames = Object.keys(config.pools)
  const issues: ConfigIssue[] = []
  config.lab?.servers?.forEach((s, i) => {
    if (!Object.hasOwn(config.pools, s.pool)) {
      issues.push({
        code: REFERENCE,
        path: ['lab', 'servers', i, 'pool'],
        message: `lab server '${s.name}' names pool '${s.pool}', which is not defined${didYouMean(s.pool, poolNames)}; defined pools: ${poolNames.join(', ')}`,
      })
    }
  })
  return issues
}

// The schema may leave address out (defaults.ts fills it in later); clashes are judged on the address
// that will be bound.
function listenerAddress (l: ListenerConfig): string {
  return l.address ?? DEFAULTS.listenerAddress
}

function normalizeAddress (address: string): string {
  const a = address.trim().toLowerCase()
  return a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a
}

// Whether binding both addresses on one port would fail. The wildcards cover more than themselves:
// 0.0.0.0 every IPv4 address (and host names, which resolve to one here), :: everything, because
// Node listens dual-stack on ::.
function addressesOverlap (a: string, b: string): boolean {
  const x = normalizeAddress(a)
  const y = normalizeAddress(b)
  if (x === y) return true
  if (x === '::' || y === '::') return true
  if (x === '0.0.0.0') return !isIPv6(y)
  if (y === '0.0.0.0') return !isIPv6(x)
  return false
}

function wildcardFirst (a: string, b: string): string {
  const [wide, narrow] = isWildcard(a) ? [a, b] : [b, a]
  return `${wide} covers ${narrow}`
}

function isWildcard (address: string): boolean {
  const a = normalizeAddress(address)
  return a === '::' || a === '0.0.0.0'
}

function formatHostPort (address: string, port: number): string {
  const a = normalizeAddress(address)
  return isIPv6(a) ? `[${a}]:${port}` : `${a}:${port}`
}
