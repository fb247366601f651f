// The listening sockets: one Node server per configured listener, with the client-side limits and
// timeouts that hold against slow or hostile clients, and errors mapped to coded start-up errors.
import http from 'node:http'
import https from 'node:https'
import type { ResolvedConfig, ResolvedListener } from '../config/defaults.js'
import type tls from 'node:tls'
import { closeFailedHandshakes, serverTlsProfile } from '../tls/profile.js'
import type { SniSelector } from '../tls/sni.js'
import { onClientError } from './client-error.js'
import { onCheckContinue, onConnect, onRequest, onUpgrade } from './handler.js'
import { kListenerState, type ListenerState } from './listener-state.js'

export interface BoundListener {
  name: string
  protocol: 'http' | 'https'
  address: string
  port: number
  server: http.Server
  state: ListenerState
}

export function createServer (listener: ResolvedListener, config: ResolvedConfig, state: ListenerState, sni: { current: SniSelector } | undefined): http.Server {
  const options: http.ServerOptions = {
    // The edge answers a missing Host itself (400 bad_host, resolve.ts). Node's own 400 would bypass
    // the edge's books, and a request pipelined behind it would still be forwarded.
    requireHostHeader: false,
    headersTimeout: config.defaults.headersTimeout * 1000,
    // Receiving a whole request (a large upload included) may take this long; responses are governed
    // by the rules' own timeouts instead.
    requestTimeout: config.defaults.requestTimeout * 1000,
    keepAliveTimeout: config.defaults.clientIdleTimeout * 1000,
    connectionsCheckingInterval: 1000,
    // A larger section is refused with 431 (edge/client-error.ts).
    maxHeaderSize: config.defaults.maxHeaderBytes,
    noDelay: true,
  }
  let server: http.Server
  if (listener.protocol === 'https') {
    if (sni === undefined) throw new Error(`listener ${listener.name} has no certificates`)
    server = https.createServer({
      ...options,
      ...serverTlsProfile(config.defaults.handshakeTimeout * 1000, listener.tlsProfile),
      ...sni.current.defaultCertificate.secureContextOptions,
      // Read through the holder so that a reload can swap certificates without a restart.
      SNICallback: (name, cb) => sni.current.SNICallback(name, cb),
    })
  } else {
    server = http.createServer(options)
  }
  // Node otherwise keeps only the first 2,000 fields and drops the rest silently; the edge counts
  // them itself and answers 431.
  server.maxHeadersCount = 0
  // A long poll sends nothing for up to 900 s: no socket idle timeout while a request is active.
  server.timeout = 0
  server.maxConnections = config.defaults.maxConnections
  ;(server as http.Server & { [kListenerState]: ListenerState })[kListenerState] = state
  server.on('request', onRequest)
  server.on('checkContinue', onCheckContinue)
  server.on('upgrade', onUpgrade)
  server.on('connect', onConnect)
  server.on('clientError', onClientError)
  // A handshake that fails or times out must free its socket; Node only reports it.
  if (listener.protocol === 'https') closeFailedHandshakes(server as unknown as tls.Server)
  return server
}

export function bind (server: http.Server, listener: ResolvedListener, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      // The caller maps it (errors.ts listenError): it knows the settings that move this listener.
      reject(err)
    }
    const onListening = (): void => {
      server.off('error', onError)
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ host: listener.address, port, backlog: 1024 })
  })
}
