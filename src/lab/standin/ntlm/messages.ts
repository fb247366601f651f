// NTLM messages (MS-NLMP 2.2.1): reading NEGOTIATE (type 1) and AUTHENTICATE (type 3), writing
// CHALLENGE (type 2). Only what a server needs to run the handshake; no cryptography, because the lab
// does not verify passwords.

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1')

export const NtlmFlags = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  NEGOTIATE_56: 0x80000000,
} as const

// AV_PAIR ids used in the challenge's target info.
const AV_EOL = 0
const AV_NB_COMPUTER = 1
const AV_NB_DOMAIN = 2
const AV_DNS_COMPUTER = 3
const AV_DNS_DOMAIN = 4
const AV_TIMESTAMP = 7

// Windows Server 2012 R2 (6.3 build 9600), NTLMSSP revision 15: what a Lync 2013 server would send.
const SERVER_VERSION = Buffer.from([6, 3, 0x80, 0x25, 0, 0, 0, 15])

// Which message a token carries (1, 2 or 3), or undefined when it is not NTLM at all (e.g. SPNEGO).
export function ntlmMessageType (buf: Buffer): number | undefined {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(SIGNATURE)) return undefined
  return buf.readUInt32LE(8)
}

export interface NegotiateMessage { flags: number }

export function parseNegotiate (buf: Buffer): NegotiateMessage | undefined {
  if (ntlmMessageType(buf) !== 1) return undefined
  // Flags are at 12; a bare 12-byte negotiate (seen from old clients) means "no preferences".
  return { flags: buf.length >= 16 ? buf.readUInt32LE(12) : 0 }
}

export interface ChallengeOptions {
  challenge: Buffer // 8 bytes
  clientFlags: number
  netbiosDomain: string
  netbiosComputer: string
  dnsDomain: string
  dnsComputer: string
  now?: number
}

function avPair (id: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16LE(id, 0)
  head.writeUInt16LE(value.length, 2)
  return Buffer.concat([head, value])
}

function fileTime (ms: number): Buffer {
  // FILETIME: 100 ns ticks since 1601-01-01.
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE((BigInt(ms) + 11_644_473_600_000n) * 10_000n)
  return b
}

function securityBuffer (into: Buffer, at: number, length: number, offset: number): void {
  into.writeUInt16LE(length, at)
  into.writeUInt16LE(length, at + 2)
  into.writeUInt32LE(offset, at + 4)
}

export function buildChallenge (o: ChallengeOptions): Buffer {
  if (o.challenge.length !== 8) throw new Error('NTLM server challenge must be 8 bytes')
  const unicode = (o.clientFlags & NtlmFlags.UNICODE) !== 0
  // Answer in the character set the client asked for and echo the security options it offered.
  let flags = NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.ALWAYS_SIGN | NtlmFlags.TARGET_TYPE_DOMAIN |
    NtlmFlags.TARGET_INFO | NtlmFlags.VERSION | (unicode ? NtlmFlags.UNICODE : NtlmFlags.OEM)
  flags |= o.clientFlags & (NtlmFlags.EXTENDED_SESSIONSECURITY | NtlmFlags.NEGOTIATE_128 | NtlmFlags.NEGOTIATE_56)
  const targetName = Buffer.from(o.netbiosDomain, unicode ? 'utf16le' : 'latin1')
  // Target info strings are always UTF-16LE, whatever was negotiated.
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le')
  const targetInfo = Buffer.concat([
    avPair(AV_NB_DOMAIN, u(o.netbiosDomain)),
    avPair(AV_NB_COMPUTER, u(o.netbiosComputer)),
    avPair(AV_DNS_DOMAIN, u(o.dnsDomain)),
    avPair(AV_DNS_COMPUTER, u(o.dnsComputer)),
    avPair(AV_TIMESTAMP, fileTime(o.now ?? Date.now())),
    avPair(AV_EOL, Buffer.alloc(0)),
  ])
  const header = Buffer.alloc(56)
  SIGNATURE.copy(header, 0)
  header.writeUInt32LE(2, 8)
  securityBuffer(header, 12, targetName.length, 56)
  header.writeUInt32LE(flags >>> 0, 20)
  o.challenge.copy(header, 24)
  // 32..40: reserved (context), zero.
  securityBuffer(header, 40, targetInfo.length, 56 + targetName.length)
  SERVER_VERSION.copy(header, 48)
  return Buffer.concat([header, targetName, targetInfo])
}

export interface AuthenticateMessage {
  flags: number
  domain: string
  user: string
  workstation: string
  lmResponse: Buffer
  ntResponse: Buffer
}

// Reads the fields at the offsets their security buffers give; undefined if any points outside the
// message, which is how a truncated or forged token is refused.
export function parseAuthenticate (buf: Buffer, unicodeHint = true): AuthenticateMessage | undefined {
  if (ntlmMessageType(buf) !== 3 || buf.length < 52) return undefined
  const field = (at: number): Buffer | undefined => {
    const len = buf.readUInt16LE(at)
    const off = buf.readUInt32LE(at + 4)
    if (len === 0) return Buffer.alloc(0)
    return off + len <= buf.length ? buf.subarray(off, off + len) : undefined
  }
  const lm = field(12)
  const nt = field(20)
  const domain = field(28)
  const user = field(36)
  const workstation = field(44)
  if (lm === undefined || nt === undefined || domain === undefined || user === undefined || workstation === undefined) return undefined
  // Flags sit at 60 unless the message is the short form that ends after the workstation field.
  const hasFlags = buf.length >= 64 && [12, 20, 28, 36, 44].every((at) => buf.readUInt16LE(at) === 0 || buf.readUInt32LE(at + 4) >= 64)
  const flags = hasFlags ? buf.readUInt32LE(60) : (unicodeHint ? NtlmFlags.UNICODE : NtlmFlags.OEM)
  const text = (b: Buffer): string => b.toString((flags & NtlmFlags.UNICODE) !== 0 ? 'utf16le' : 'latin1')
  return { flags, domain: text(domain), user: text(user), workstation: text(workstation), lmResponse: lm, ntResponse: nt }
}
