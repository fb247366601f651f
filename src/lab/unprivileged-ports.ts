// The lab for a user without privilege. Ports below 1024 need root or CAP_NET_BIND_SERVICE on
// Linux, and the lab is full of them (the proxy's 80/443, the servers' internal IIS sites on 80/443,
// the HLB VIP's 80/443/444, Office Web Apps on 80/443). Rather than leave parts of the topology out,
// every one of them moves up by the same amount, so a port summary row still reads as itself
// (443 → 10443) and nothing clashes with the lab's own high ports (8080, 4443, 5061, 50001-50003).
// The banner prints the ports in use, and a note says why they moved.
import net from 'node:net'
import type { ResolvedConfig } from '../config/defaults.js'

export const UNPRIVILEGED_PORT_SHIFT = 10_000

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> }

// Where a configured port goes without privilege: ports below 1024 move up, others (and 0) stay.
export function unprivilegedPort (port: number): number {
  return port > 0 && port < 1024 ? port + UNPRIVILEGED_PORT_SHIFT : port
}

// Asks the system rather than guessing from the uid: Windows and macOS have no privileged ports,
// Linux may lower net.ipv4.ip_unprivileged_port_start, and a capability can be granted to node
// itself. Port 1 (tcpmux) is never served on a loopback address; a bind that is refused for want of
// privilege says EACCES, anything else (success, or the port held) means privilege is not the obstacle.
export async function canBindPrivilegedPorts (): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code !== 'EACCES') })
    server.listen({ host: '127.0.0.1', port: 1, exclusive: true }, () => { server.close(() => { resolve(true) }) })
  })
}

// Moves every port below 1024 of the lab's config: listeners, layer-4 frontends and their targets,
// the pools' and members' ports, and rule bridges, so that what the proxy forwards to is where the
// stand-ins listen. Returns the note for the operator, or undefined when nothing had to move.
export function movePrivilegedPorts (draft: Mutable<ResolvedConfig>): string | undefined {
  const moved = new Set<number>()
  const move = (port: number): number => {
    const next = unprivilegedPort(port)
    if (next !== port) moved.add(port)
    return next
  }
  for (const listener of draft.listeners) listener.port = move(listener.port)
  for (const frontend of draft.tcp) {
    frontend.port = move(frontend.port)
    frontend.targetPort = move(frontend.targetPort)
  }
  for (const pool of Object.values(draft.pools)) {
    pool.httpPort = move(pool.httpPort)
    pool.httpsPort = move(pool.httpsPort)
    for (const member of pool.members) {
      member.httpPort = move(member.httpPort)
      member.httpsPort = move(member.httpsPort)
    }
  }
  for (const rule of draft.rules) {
    if (rule.bridge === undefined) continue
    if (rule.bridge.http !== undefined) rule.bridge.http = move(rule.bridge.http)
    if (rule.bridge.https !== undefined) rule.bridge.https = move(rule.bridge.https)
  }
  if (moved.size === 0) return undefined
  const examples = [...moved].sort((a, b) => a - b).map((p) => `${p} → ${unprivilegedPort(p)}`).join(', ')
  return `not privileged to bind ports below 1024, so every lab port below 1024 moved up by ${UNPRIVILEGED_PORT_SHIFT} (${examples}); ` +
    'the ports above are the ones in use. For the real port numbers, run as root or grant CAP_NET_BIND_SERVICE ' +
    '(sudo setcap cap_net_bind_service=+ep "$(command -v node)")'
}
