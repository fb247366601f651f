// The CHALLENGE (type 2) a Lync 2013 Front End would send: which flags it answers with, which names
// it reports and the version it claims. The bytes are laid out by the shared codec (src/ntlm/); the
// password check is src/ntlm/verify.ts's.
import { AvId, encodeChallenge, encodeTargetInfo, fileTime, NtlmFlags } from '../../../ntlm/messages.js'

// Windows Server 2012 R2 (6.3 build 9600), NTLMSSP revision 15 (MS-NLMP 2.2.2.10).
const SERVER_VERSION = Buffer.from([6, 3, 0x80, 0x25, 0, 0, 0, 15])

export interface ChallengeOptions {
  challenge: Buffer // 8 bytes
  clientFlags: number
  netbiosDomain: string
  netbiosComputer: string
  dnsDomain: string
  dnsComputer: string
  now?: number
}

export function buildChallenge (o: ChallengeOptions): Buffer {
  const unicode = (o.clientFlags & NtlmFlags.UNICODE) !== 0
  // Answer in the character set the client asked for and echo the security options it offered.
  let flags = NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.ALWAYS_SIGN | NtlmFlags.TARGET_TYPE_DOMAIN |
    NtlmFlags.TARGET_INFO | NtlmFlags.VERSION | (unicode ? NtlmFlags.UNICODE : NtlmFlags.OEM)
  flags |= o.clientFlags & (NtlmFlags.EXTENDED_SESSIONSECURITY | NtlmFlags.NEGOTIATE_128 | NtlmFlags.NEGOTIATE_56)
  // Target info strings are always UTF-16LE, whatever was negotiated (MS-NLMP 2.2.2.1).
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le')
  const targetInfo = encodeTargetInfo([
    { id: AvId.NB_DOMAIN, value: u(o.netbiosDomain) },
    { id: AvId.NB_COMPUTER, value: u(o.netbiosComputer) },
    { id: AvId.DNS_DOMAIN, value: u(o.dnsDomain) },
    { id: AvId.DNS_COMPUTER, value: u(o.dnsComputer) },
    { id: AvId.TIMESTAMP, value: fileTime(o.now ?? Date.now()) },
  ])
  return encodeChallenge({ flags, targetName: o.netbiosDomain, serverChallenge: o.challenge, targetInfo, version: SERVER_VERSION })
}
