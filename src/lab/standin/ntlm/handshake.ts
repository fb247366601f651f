// The server side of the NTLM handshake, bound to the TCP connection as IIS binds it: the challenge
// is remembered on the socket that sent the type 1 message, and only a type 3 arriving on that same
// socket completes it. This is what breaks behind a proxy that pools upstream connections, which is
// exactly what the lab must be able to show. The type 3's response is checked against the user's
// password, as the domain controller checks it for IIS, so a wrong password or an unknown user is
// refused, and a type 3 that a pooling proxy delivers on another client's challenged connection
// fails as it does at IIS.
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { decodeAuthenticate, decodeNegotiate, ntlmMessageType, NtlmFlags } from '../../../ntlm/messages.js'
import { verifyAuthenticate } from '../../../ntlm/verify.js'
import { buildChallenge } from './challenge.js'

export type NtlmScheme = 'NTLM' | 'Negotiate'

export interface NtlmIdentity { domain: string; user: string; workstation: string }

export type NtlmStep<A> =
  | { kind: 'unauthenticated' } // no usable credentials: offer the schemes
  | { kind: 'challenge'; header: string } // type 1 received: send type 2
  | { kind: 'authenticated'; identity: NtlmIdentity; account: A }

type SocketState<A> =
  | { phase: 'challenged'; unicode: boolean; serverChallenge: Buffer }
  | { phase: 'authenticated'; identity: NtlmIdentity; account: A }

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

// The account a type 3 names (with its password), or undefined when the domain has no such account.
export type AccountLookup<A extends { password: string }> = (user: string, domain: string) => A | undefined

export class NtlmAuthenticator<A extends { password: string }> {
  // Keyed by the socket itself so that state dies with the connection and can never be looked up
  // from another one.
  private readonly sockets = new WeakMap<Socket, SocketState<A>>()

  constructor (private readonly names: ServerNames, private readonly accountOf: AccountLookup<A>) {}

  step (socket: Socket, authorization: string | undefined): NtlmStep<A> {
    const state = this.sockets.get(socket)
    const parsed = readToken(authorization)
    if (parsed === undefined) {
      // IIS keeps NTLM authentication for the life of the connection (authPersistSingleRequest off),
      // so later requests on an authenticated socket need no Authorization header.
      if (authorization === undefined && state?.phase === 'authenticated') return { kind: 'authenticated', identity: state.identity, account: state.account }
      return { kind: 'unauthenticated' }
    }
    // Negotiate is accepted only when it carries a raw NTLM token; SPNEGO/Kerberos is not modelled.
    switch (ntlmMessageType(parsed.token)) {
      case 1: {
        const negotiate = decodeNegotiate(parsed.token)
        const clientFlags = negotiate?.flags ?? 0
        const serverChallenge = randomBytes(8)
        const challenge = buildChallenge({ challenge: serverChallenge, clientFlags, ...this.names })
        this.sockets.set(socket, { phase: 'challenged', unicode: (clientFlags & NtlmFlags.UNICODE) !== 0, serverChallenge })
        return { kind: 'challenge', header: `${parsed.scheme} ${challenge.toString('base64')}` }
      }
      case 3: {
        const message = state?.phase === 'challenged' ? decodeAuthenticate(parsed.token, state.unicode) : undefined
        // An empty user name is an anonymous logon, which the Lync vdirs do not allow.
        const account = message === undefined || message.user === '' ? undefined : this.accountOf(message.user, message.domain)
        if (message === undefined || account === undefined || state?.phase !== 'challenged' ||
          !verifyAuthenticate({ message, serverChallenge: state.serverChallenge, password: account.password })) {
          // The challenge is used up either way: IIS starts over with a new one (MS-NLMP 3.2.5.1.2).
          this.sockets.delete(socket)
          return { kind: 'unauthenticated' }
        }
        const identity: NtlmIdentity = { domain: message.domain, user: message.user, workstation: message.workstation }
        this.sockets.set(socket, { phase: 'authenticated', identity, account })
        return { kind: 'authenticated', identity, account }
      }
      default:
        this.sockets.delete(socket)
        return { kind: 'unauthenticated' }
    }
  }
}
