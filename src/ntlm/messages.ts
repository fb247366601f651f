// The one NTLM message codec (MS-NLMP 2.2): NEGOTIATE (type 1), CHALLENGE (type 2) and AUTHENTICATE
// (type 3), encoded and decoded, and the AV_PAIR list a challenge carries. It only lays out bytes;
// which flags to offer, which names to send and how to answer are the caller's decisions (the
// probe's client, the lab stand-in's server, the test upstream). No signing or sealing: HTTP
// authentication does not use the session key, so its field is always written empty.

// MS-NLMP 2.2.1: every message starts with the 8-byte signature and the 32-bit message type.
const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1')

// MS-NLMP 2.2.2.5 (NEGOTIATE), the flags this project reads or writes.
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

// MS-NLMP 2.2.2.1, the AV_PAIR ids this project reads or writes.
export const AvId = {
  EOL: 0,
  NB_COMPUTER: 1,
  NB_DOMAIN: 2,
  DNS_COMPUTER: 3,
  DNS_DOMAIN: 4,
  TIMESTAMP: 7,
} as const

// Which message a token carries (1, 2 or 3), or undefined when it is not NTLM at all (e.g. SPNEGO).
export function ntlmMessageType (buf: Buffer): number | undefined {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(SIGNATURE)) return undefined
  return buf.readUInt32LE(8)
}

// Names in the payload are UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE is set, else the OEM code page,
// taken here as Latin-1 (MS-NLMP 2.2).
function encoding (flags: number): BufferEncoding {
  return (flags & NtlmFlags.UNICODE) !== 0 ? 'utf16le' : 'latin1'
}

function header (type: number, length: number): Buffer {
  const b = Buffer.alloc(length)
  SIGNATURE.copy(b, 0)
  b.writeUInt32LE(type, 8)
  return b
}

// A security buffer (MS-NLMP 2.2: Len, MaxLen, BufferOffset); MaxLen is written equal to Len.
function writeSecurityBuffer (into: Buffer, at: number, length: number, offset: number): void {
  into.writeUInt16LE(length, at)
  into.writeUInt16LE(length, at + 2)
  into.writeUInt32LE(offset, at + 4)
}

// The bytes a security buffer points at; undefined when they lie outside the message.
function readSecurityBuffer (buf: Buffer, at: number): Buffer | undefined {
  const len = buf.readUInt16LE(at)
  const off = buf.readUInt32LE(at + 4)
  if (len === 0) return Buffer.alloc(0)
  return off + len <= buf.length ? buf.subarray(off, off + len) : undefined
}

// Lays the payloads out after the fixed part in the order given, each pointed at by its security
// buffer at the offset paired with it.
function withPayload (fixed: Buffer, fields: Array<[at: number, value: Buffer]>): Buffer {
  let offset = fixed.length
  for (const [at, value] of fields) {
    writeSecurityBuffer(fixed, at, value.length, offset)
    offset += value.length
  }
  return Buffer.concat([fixed, ...fields.map(([, value]) => value)])
}

// FILETIME (MS-NLMP 2.2.2.1, MsvAvTimestamp): 100 ns ticks since 1601-01-01, 64-bit little-endian.
export function fileTime (ms: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE((BigInt(ms) + 11_644_473_600_000n) * 10_000n)
  return b
}

export interface AvPair { id: number, value: Buffer }

// MS-NLMP 2.2.2.1: the list always ends with MsvAvEOL, which callers do not list.
export function encodeTargetInfo (pairs: AvPair[]): Buffer {
  return Buffer.concat([...pairs, { id: AvId.EOL, value: Buffer.alloc(0) }].map(({ id, value }) => {
    const head = Buffer.alloc(4)
    head.writeUInt16LE(id, 0)
    head.writeUInt16LE(value.length, 2)
    return Buffer.concat([head, value])
  }))
}

// The pairs before MsvAvEOL. A pair that runs past the end stops the list there, with the pairs
// read so far: a client then finds what it can, as Windows does.
export function decodeTargetInfo (info: Buffer): AvPair[] {
  const pairs: AvPair[] = []
  for (let at = 0; at + 4 <= info.length;) {
    const id = info.readUInt16LE(at)
    const len = info.readUInt16LE(at + 2)
    if (id === AvId.EOL || at + 4 + len > info.length) break
    pairs.push({ id, value: info.subarray(at + 4, at + 4 + len) })
    at += 4 + len
  }
  return pairs
}

export interface NegotiateMessage { flags: number }

// MS-NLMP 2.2.1.1 as Windows sends it: 32 bytes, the domain and workstation fields empty (zero
// length, zero offset) and no Version.
export function encodeNegotiate (flags: number): Buffer {
  const b = header(1, 32)
  b.writeUInt32LE(flags >>> 0, 12)
  return b
}

export function decodeNegotiate (buf: Buffer): NegotiateMessage | undefined {
  if (ntlmMessageType(buf) !== 1) return undefined
  // Flags are at 12; a bare 12-byte negotiate (seen from old clients) means "no preferences".
  return { flags: buf.length >= 16 ? buf.readUInt32LE(12) : 0 }
}

export interface ChallengeMessage {
  flags: number
  // In the character set the flags choose.
  targetName: string
  // 8 bytes.
  serverChallenge: Buffer
  // The AV_PAIR list, as bytes: NTLMv2 hashes it as sent.
  targetInfo: Buffer
  // 8 bytes (MS-NLMP 2.2.2.10), only with NTLMSSP_NEGOTIATE_VERSION.
  version?: Buffer
}

// MS-NLMP 2.2.1.2: a 48-byte fixed part, or 56 when it carries the Version; then the target name
// and the target info.
export function encodeChallenge (m: ChallengeMessage): Buffer {
  if (m.serverChallenge.length !== 8) throw new Error('NTLM server challenge must be 8 bytes')
  if (m.version !== undefined && m.version.length !== 8) throw new Error('NTLM version must be 8 bytes')
  const fixed = header(2, m.version === undefined ? 48 : 56)
  fixed.writeUInt32LE(m.flags >>> 0, 20)
  m.serverChallenge.copy(fixed, 24)
  // 32..40: Reserved, zero.
  m.version?.copy(fixed, 48)
  return withPayload(fixed, [[12, Buffer.from(m.targetName, encoding(m.flags))], [40, m.targetInfo]])
}

// Lenient as a client must be: a target name or target info pointing outside the message reads as
// empty rather than refusing the challenge, and a 32-byte challenge (no target info) is accepted.
export function decodeChallenge (buf: Buffer): ChallengeMessage | undefined {
  if (buf.length < 32 || ntlmMessageType(buf) !== 2) return undefined
  const flags = buf.readUInt32LE(20)
  const targetName = readSecurityBuffer(buf, 12) ?? Buffer.alloc(0)
  const targetInfo = buf.length >= 48 ? readSecurityBuffer(buf, 40) ?? Buffer.alloc(0) : Buffer.alloc(0)
  const m: ChallengeMessage = { flags, targetName: targetName.toString(encoding(flags)), serverChallenge: buf.subarray(24, 32), targetInfo }
  // The Version sits between the fixed part and the payload, so only where no payload starts before 56.
  const payloadStarts = [12, 40].filter((at) => buf.readUInt16LE(at) !== 0).map((at) => buf.readUInt32LE(at + 4))
  if ((flags & NtlmFlags.VERSION) !== 0 && buf.length >= 56 && payloadStarts.every((off) => off >= 56)) m.version = buf.subarray(48, 56)
  return m
}

export interface AuthenticateMessage {
  flags: number
  lmResponse: Buffer
  ntResponse: Buffer
  domain: string
  user: string
  workstation: string
}

// MS-NLMP 2.2.1.3 with a 64-byte fixed part: LM, NT, domain, user, workstation and (empty) session
// key security buffers, then the flags at 60; no Version and no MIC, which are optional. The
// payload follows in the same order.
export function encodeAuthenticate (m: AuthenticateMessage): Buffer {
  const fixed = header(3, 64)
  fixed.writeUInt32LE(m.flags >>> 0, 60)
  const text = (s: string): Buffer => Buffer.from(s, encoding(m.flags))
  return withPayload(fixed, [[12, m.lmResponse], [20, m.ntResponse], [28, text(m.domain)], [36, text(m.user)], [44, text(m.workstation)], [52, Buffer.alloc(0)]])
}

// Reads the fields at the offsets their security buffers give; undefined if any points outside the
// message, which is how a truncated or forged token is refused. unicodeHint is the character set the
// NEGOTIATE chose, for the short form that carries no flags.
export function decodeAuthenticate (buf: Buffer, unicodeHint = true): AuthenticateMessage | undefined {
  if (ntlmMessageType(buf) !== 3 || buf.length < 52) return undefined
  const lm = readSecurityBuffer(buf, 12)
  const nt = readSecurityBuffer(buf, 20)
  const domain = readSecurityBuffer(buf, 28)
  const user = readSecurityBuffer(buf, 36)
  const workstation = readSecurityBuffer(buf, 44)
  if (lm === undefined || nt === undefined || domain === undefined || user === undefined || workstation === undefined) return undefined
  // Flags sit at 60 unless the message is the short form that ends after the workstation field.
  const hasFlags = buf.length >= 64 && [12, 20, 28, 36, 44].every((at) => buf.readUInt16LE(at) === 0 || buf.readUInt32LE(at + 4) >= 64)
  const flags = hasFlags ? buf.readUInt32LE(60) : (unicodeHint ? NtlmFlags.UNICODE : NtlmFlags.OEM)
  const text = (b: Buffer): string => b.toString(encoding(flags))
  return { flags, lmResponse: lm, ntResponse: nt, domain: text(domain), user: text(user), workstation: text(workstation) }
}
