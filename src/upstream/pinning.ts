// NTLM and Negotiate authenticate a TCP connection, not a request: the type-1 and type-3 messages
// must reach the same upstream connection, and later requests on that client connection ride on the
// authenticated upstream connection. A shared keep-alive pool would hand them to other connections,
// so once a client connection authenticates this way it gets a private agent with one socket, kept
// until the client connection closes (the behaviour of nginx's ntlm directive).
import type { Agent } from 'node:http'
import type { Socket } from 'node:net'
import type { Member } from './member.js'
import type { UpstreamPool } from './pool.js'

const kPins = Symbol('lyncproxy.ntlmPins')

// The upstream connection and the member it goes to: both are fixed for the pinned client connection.
export interface Pin {
  agent: Agent
  member: Member
}

interface PinnedSocket extends Socket {
  [kPins]?: Map<UpstreamPool, Pin>
}

export function existingPin (client: Socket, pool: UpstreamPool): Pin | undefined {
  const pins = (client as PinnedSocket)[kPins]
  return pins === undefined ? undefined : pins.get(pool)
}

export function pinClientConnection (client: Socket, pool: UpstreamPool, tls: boolean, member: Member): Pin {
  const socket = client as PinnedSocket
  let pins = socket[kPins]
  if (pins === undefined) {
    pins = new Map()
    socket[kPins] = pins
    socket.once('close', releasePins)
  }
  let pin = pins.get(pool)
  if (pin === undefined) {
    pin = { agent: pool.createPinnedAgent(tls), member }
    pins.set(pool, pin)
    // Counted by the proxy instance the pool belongs to (proxy-counters.ts).
    pool.counters.pinnedConnections++
  }
  return pin
}

// The client connection's 'close' runs this and, in listener order, the 'close' of the exchange in
// flight on it: first for the request that created the pin, last for a later one. Either order is
// safe: the agent's destroy only makes the upstream request emit 'error' later, and by then the
// exchange has been marked as the client's abort (edge/handler.ts onExchangeClose), so that error
// claims nothing (test/never-down-pinning.test.ts).
function releasePins (this: PinnedSocket): void {
  const pins = this[kPins]
  if (pins === undefined) return
  for (const [pool, pin] of pins) {
    pin.agent.destroy()
    pool.counters.pinnedConnections--
  }
  pins.clear()
}
