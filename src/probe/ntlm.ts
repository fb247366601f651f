// The client side of NTLM, enough to authenticate over HTTP: which flags the probe offers, whose
// identity it sends, and how it answers the server's CHALLENGE with a real NTLMv2 response, so the
// handshake also succeeds against a real IIS behind a real reverse proxy. The bytes are laid out by
// the shared codec (src/ntlm/).
import { randomBytes } from 'node:crypto'
import { AvId, decodeTargetInfo, encodeAuthenticate, encodeNegotiate, fileTime, NtlmFlags, type ChallengeMessage } from '../ntlm/messages.js'
import { ntlmv2Responses, type NtlmIdentity } from '../ntlm/ntlmv2.js'

const CLIENT_FLAGS = NtlmFlags.UNICODE | NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.ALWAYS_SIGN |
  NtlmFlags.EXTENDED_SESSIONSECURITY | NtlmFlags.NEGOTIATE_128 | NtlmFlags.NEGOTIATE_56

// DOMAIN\user, or a UPN (user@contoso.com) with an empty domain, as Windows accepts both.
export function ntlmIdentity (account: string): NtlmIdentity {
  const slash = account.indexOf('\\')
  return slash === -1 ? { domain: '', user: account } : { domain: account.slice(0, slash), user: account.slice(slash + 1) }
}

export function negotiateMessage (): Buffer {
  return encodeNegotiate(CLIENT_FLAGS)
}

// MsvAvTimestamp: when the server sends one, NTLMv2 uses it and the LMv2 response is left empty.
function avTimestamp (targetInfo: Buffer): Buffer | undefined {
  return decodeTargetInfo(targetInfo).find((p) => p.id === AvId.TIMESTAMP && p.value.length === 8)?.value
}

export function authenticateMessage (challenge: ChallengeMessage, identity: NtlmIdentity, password: string, workstation = 'LYNCPROBE'): Buffer {
  const fromServer = avTimestamp(challenge.targetInfo)
  const { lm, nt } = ntlmv2Responses({
    identity,
    password,
    serverChallenge: challenge.serverChallenge,
    targetInfo: challenge.targetInfo,
    clientChallenge: randomBytes(8),
    timestamp: fromServer ?? fileTime(Date.now()),
    serverTimestamp: fromServer !== undefined,
  })
  return encodeAuthenticate({
    flags: (challenge.flags & CLIENT_FLAGS) | NtlmFlags.UNICODE,
    lmResponse: lm,
    ntResponse: nt,
    domain: identity.domain,
    user: identity.user,
    workstation,
  })
}
