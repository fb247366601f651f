// NTLM and Negotiate authenticate a TCP connection, not a request: the type-1 and type-3 messages
// must reach the same upstream connection, and later requests on that client connection ride on the
// authenticated upstream connection. A shared keep-alive pool would hand them to other connections,
// so once a client connection authenticates this way it gets a private agent with one socket, kept
// until the client connection closes (the behaviour of nginx's ntlm directive).
import type { Agent } from 'node:http'
import type { Socket } from 'node:net'
import type { UpstreamPool } from './pool.js'

const kPins = Symbol('lyncproxy.ntlmPins')

interface PinnedSocket extends Socket {
  [kPins]?: Map<UpstreamPool, Agent>
}

let pinnedConnections = 0

export function pinnedConnectionCount (): number {
  return pinnedConnections
}

export function existingPin (client: Socket, pool: UpstreamPool): Agent | undefined {
  const pins = (client as PinnedSocket)[kPins]
  return pins === undefined ? undefined : pins.get(pool)
}

export function pinClientConnection (client: Socket, pool: UpstreamPool, tls: boolean): Agent {
  const socket = client as PinnedSocket
  let pins = socket[kPins]
  if (pins === undefined) {
    pins = new Map()
    socket[kPins] = pins
    socket.once('close', releasePins)
  }
  let agent = pins.get(pool)
  if (agent === undefined) {
    agent = pool.createPinnedAgent(tls)
    pins.set(pool, agent)
    pinnedConnections++
  }
  return agent
}

function releasePins (this: PinnedSocket): void {
  const pins = this[kPins]
  if (pins === undefined) return
  for (const agent of pins.values()) {
    agent.destroy()
    pinnedConnections--
  }
  pins.clear()
}
