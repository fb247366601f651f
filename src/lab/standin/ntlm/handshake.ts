// The server side of the NTLM handshake, bound to the TCP connection as IIS binds it: the challenge
// is remembered on the socket that sent the type 1 message, and only a type 3 arriving on that same
// socket completes it. This is what breaks behind a proxy that pools upstream connections, which is
// exactly what the lab must be able to show.
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { decodeAuthenticate, decodeNegotiate, ntlmMessageType, NtlmFlags } from '../../../ntlm/messages.js'
import { buildChallenge } from './challenge.js'

export type NtlmScheme = 'NTLM' | 'Negotiate'

export interface NtlmIdentity { domain: string; user: string; workstation: string }

export type NtlmStep =
  | { kind: 'unauthenticated' } // no usable credentials: offer the schemes
  | { kind: 'challenge'; header: string } // type 1 received: send type 2
  | { kind: 'authenticated'; identity: NtlmIdentity }

type SocketState =
  | { phase: 'challenged'; unicode: boolean }
  | { phase: 'authenticated'; identity: NtlmIdentity }

export interface ServerNames { netbiosDomain: string; netbiosComputer: string; dnsDomain: string; dnsComputer: string }

// fe01.contoso.net → CONTOSO / FE01 / contoso.net / fe01.contoso.net, the names a domain member reports.
export function serverNames (serverFqdn: string): ServerNames {
  const [host = serverFqdn, ...rest] = serverFqdn.toLowerCase().split('.')
  const dnsDomain = rest.join('.') || host
  return {
    netbiosDomain: (rest[0] ?? host).toUpperCase().slice(0, 15),
    netbiosComputer: host.toUpperCase().slice(0, 15),
    dnsDomain,
    dnsComputer: serverFqdn.toLowerCase(),
  }
}

function readToken (authorization: string | undefined): { scheme: NtlmScheme; token: Buffer } | undefined {
  const m = /^(NTLM|Negotiate)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '')
  if (m === null) return undefined
  const scheme: NtlmScheme = (m[1] as string).toLowerCase() === 'ntlm' ? 'NTLM' : 'Negotiate'
  return { scheme, token: Buffer.from(m[2] as string, 'base64') }
}

export class NtlmAuthenticator {
  // Keyed by the socket itself so that state dies with the connection and can never be looked up
  // from another one.
  private readonly sockets = new WeakMap<Socket, SocketState>()

  constructor (private readonly names: ServerNames) {}

  step (socket: Socket, authorization: string | undefined): NtlmStep {
    const state = this.sockets.get(socket)
    const parsed = readToken(authorization)
    if (parsed === undefined) {
      // IIS keeps NTLM authentication for the life of the connection (authPersistSingleRequest off),
      // so later requests on an authenticated socket need no Authorization header.
      if (authorization === undefined && state?.phase === 'authenticated') return { kind: 'authenticated', identity: state.identity }
      return { kind: 'unauthenticated' }
    }
    // Negotiate is accepted only when it carries a raw NTLM token; SPNEGO/Kerberos is not modelled.
    switch (ntlmMessageType(parsed.token)) {
      case 1: {
        const negotiate = decodeNegotiate(parsed.token)
        const clientFlags = negotiate?.flags ?? 0
        const challenge = buildChallenge({ challenge: randomBytes(8), clientFlags, ...this.names })
        this.sockets.set(socket, { phase: 'challenged', unicode: (clientFlags & NtlmFlags.UNICODE) !== 0 })
        return { kind: 'challenge', header: `${parsed.scheme} ${challenge.toString('base64')}` }
      }
      case 3: {
        const message = state?.phase === 'challenged' ? decodeAuthenticate(parsed.token, state.unicode) : undefined
        if (message === undefined || message.user === '') {
          this.sockets.delete(socket)
          return { kind: 'unauthenticated' }
        }
        const identity: NtlmIdentity = { domain: message.domain, user: message.user, workstation: message.workstation }
        this.sockets.set(socket, { phase: 'authenticated', identity })
        return { kind: 'authenticated', identity }
      }
      default:
        this.sockets.delete(socket)
        return { kind: 'unauthenticated' }
    }
  }
}
