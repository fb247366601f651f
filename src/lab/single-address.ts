// The lab on a loopback interface that has 127.0.0.1 alone (macOS, until the aliases of
// docs/platforms.md are added). The topology gives the Director VIP, Office Web Apps and each server
// a loopback address of its own (127.0.1.x) so that every one keeps the real port numbers; where
// those addresses cannot be bound, every (address, port) the lab would use there gets a port of its
// own on 127.0.0.1 instead, and everything that points at it follows: listeners, layer-4 frontends,
// pools and their members. The ports a rule bridges to (the HLB's 80/443) or a layer-4 frontend
// targets (5061, 444, ...) were one port for every member, told apart by address; on one address
// each member reaches them at its own port, in its `portMap`.
import net from 'node:net'
import type { ResolvedConfig } from '../config/defaults.js'
import type { StandInSpec } from './standin/types.js'

export const SINGLE_ADDRESS = '127.0.0.1'

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> }
type Draft = Mutable<ResolvedConfig>

const movable = (address: string): boolean => net.isIPv4(address) && address.startsWith('127.') && address !== SINGLE_ADDRESS

// The loopback addresses of the config that this machine cannot bind, in the config's order.
export async function unbindableLoopbackAddresses (config: ResolvedConfig): Promise<string[]> {
  const addresses = new Set<string>()
  for (const l of config.listeners) addresses.add(l.address)
  for (const f of config.tcp) addresses.add(f.address)
  for (const pool of Object.values(config.pools)) {
    addresses.add(pool.address)
    for (const m of pool.members) addresses.add(m.address)
  }
  const missing: string[] = []
  for (const address of [...addresses].filter(movable)) {
    const ok = await new Promise<boolean>((resolve) => {
      const server = net.createServer()
      server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code !== 'EADDRNOTAVAIL') })
      server.listen({ host: address, port: 0, exclusive: true }, () => { server.close(() => { resolve(true) }) })
    })
    if (!ok) missing.push(address)
  }
  return missing
}

// `count` distinct free ports on 127.0.0.1, from the system. Every server stays open until all are
// known: a port closed at once could be handed out again for the next.
export async function freePorts (count: number): Promise<number[]> {
  const servers: net.Server[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: SINGLE_ADDRESS, port: 0, exclusive: true }, () => { resolve() })
      })
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.close(() => { resolve() }) })))
  }
}

// Moves every 127.x address of the draft onto 127.0.0.1, each (address, port) to its port in
// `ports`, which `portsForOneAddress` gave at start; a reload moves the same endpoints the same way,
// and one the start did not see cannot move without a restart.
export function applyOneAddress (draft: Draft, ports: ReadonlyMap<string, number>, serverPorts: readonly number[]): void {
  const at = (address: string, port: number): number => {
    const to = ports.get(`${address}:${port}`)
    if (to === undefined) throw new Error(`the single-address lab has no port for ${address}:${port}, which the lab did not use when it started: restart the lab`)
    return to
  }
  visit(draft, at, serverPorts)
}

// The port on 127.0.0.1 of every (address, port) the draft would use on another loopback address.
// `serverPorts` are the ports every stand-in listens on whatever the rules say (its internal IIS
// sites' 80 and 443, or where the unprivileged lab moved them).
export async function portsForOneAddress (draft: ResolvedConfig, serverPorts: readonly number[], allocate: (count: number) => Promise<number[]> = freePorts): Promise<Map<string, number>> {
  const keys = new Set<string>()
  visit(structuredClone(draft) as Draft, (address, port) => { keys.add(`${address}:${port}`); return port }, serverPorts)
  const ports = await allocate(keys.size)
  return new Map([...keys].map((key, i) => [key, ports[i]!]))
}

function visit (draft: Draft, at: (address: string, port: number) => number, serverPorts: readonly number[]): void {
  for (const l of draft.listeners) {
    if (!movable(l.address)) continue
    l.port = at(l.address, l.port)
    l.address = SINGLE_ADDRESS
  }
  for (const f of draft.tcp) {
    if (!movable(f.address)) continue
    f.port = at(f.address, f.port)
    f.address = SINGLE_ADDRESS
  }
  for (const [name, pool] of Object.entries(draft.pools)) {
    const bridged = draft.rules.filter((r) => r.action === 'forward' && r.pool === name && r.bridge !== undefined).flatMap((r) => [r.bridge?.http, r.bridge?.https])
    const targeted = draft.tcp.filter((f) => f.pool === name).map((f) => f.targetPort)
    for (const member of pool.members) {
      if (!movable(member.address)) continue
      const portMap: Record<string, number> = {}
      for (const port of new Set([member.httpPort, member.httpsPort, ...serverPorts, ...bridged, ...targeted])) {
        if (port !== undefined) portMap[String(port)] = at(member.address, port)
      }
      member.httpPort = portMap[String(member.httpPort)]!
      member.httpsPort = portMap[String(member.httpsPort)]!
      member.portMap = portMap
      member.address = SINGLE_ADDRESS
    }
    if (movable(pool.address)) {
      pool.httpPort = at(pool.address, pool.httpPort)
      pool.httpsPort = at(pool.address, pool.httpsPort)
      pool.address = SINGLE_ADDRESS
    }
  }
}

// A stand-in's internal sites (80/443, or where the unprivileged lab moved them) are the ports its
// pool's rules bridge to: on one address, the member's own ones.
export function standInOnOneAddress (spec: StandInSpec, draft: ResolvedConfig, pool: string): StandInSpec {
  const p = draft.pools[pool]
  const member = p?.kind === 'members' ? p.members.find((m) => m.name === spec.member) : p?.members[0]
  const portMap = member?.portMap
  if (portMap === undefined) return spec
  return { ...spec, address: SINGLE_ADDRESS, sites: spec.sites.map((s) => s.kind === 'internal' ? { ...s, port: portMap[String(s.port)] ?? s.port } : s) }
}

export function singleAddressNote (missing: readonly string[], moved: ReadonlyMap<string, number>): string {
  const examples = [...moved].slice(0, 4).map(([from, to]) => `${from} → ${SINGLE_ADDRESS}:${to}`).join(', ')
  return `this machine's loopback interface has no ${missing.join(', ')} (macOS has 127.0.0.1 only), so the lab runs on ${SINGLE_ADDRESS} alone, ` +
    `each server and the Director VIP on ports of their own (${examples}${moved.size > 4 ? ', …' : ''}). ` +
    `For every server at its real ports, add the addresses: for a in ${missing.join(' ')}; do sudo ifconfig lo0 alias "$a" up; done (docs/platforms.md)`
}
