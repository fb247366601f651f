// The client side of NTLM (MS-NLMP), enough to authenticate over HTTP: NEGOTIATE (type 1), reading
// the server's CHALLENGE (type 2), and AUTHENTICATE (type 3) with a real NTLMv2 response, so the
// handshake also succeeds against a real IIS behind a real reverse proxy. No signing or sealing:
// HTTP authentication does not use the session key.
import { createHmac, randomBytes } from 'node:crypto'
import { md4 } from './md4.js'

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1')

const FLAGS = {
  UNICODE: 0x00000001,
  REQUEST_TARGET: 0x00000004,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
  NEGOTIATE_128: 0x20000000,
  NEGOTIATE_56: 0x80000000,
} as const

const CLIENT_FLAGS = FLAGS.UNICODE | FLAGS.REQUEST_TARGET | FLAGS.NTLM | FLAGS.ALWAYS_SIGN |
  FLAGS.EXTENDED_SESSIONSECURITY | FLAGS.NEGOTIATE_128 | FLAGS.NEGOTIATE_56

// MsvAvTimestamp: when the server sends one, NTLMv2 uses it and the LMv2 response is left empty.
const AV_TIMESTAMP = 7
const AV_EOL = 0

export interface NtlmIdentity { domain: string, user: string }

// DOMAIN\user, or a UPN (user@contoso.com) with an empty domain, as Windows accepts both.
export function ntlmIdentity (account: string): NtlmIdentity {
  const slash = account.indexOf('\\')
  return slash === -1 ? { domain: '', user: account } : { domain: account.slice(0, slash), user: account.slice(slash + 1) }
}

export function negotiateMessage (): Buffer {
  const b = Buffer.alloc(32)
  SIGNATURE.copy(b, 0)
  b.writeUInt32LE(1, 8)
  b.writeUInt32LE(CLIENT_FLAGS >>> 0, 12)
  // Domain and workstation fields stay empty (zero length, zero offset).
  return b
}

export interface Challenge { flags: number, serverChallenge: Buffer, targetInfo: Buffer }

export function parseChallenge (token: Buffer): Challenge | undefined {
  if (token.length < 32 || !token.subarray(0, 8).equals(SIGNATURE) || token.readUInt32LE(8) !== 2) return undefined
  const flags = token.readUInt32LE(20)
  let targetInfo: Buffer = Buffer.alloc(0)
  if (token.length >= 48) {
    const len = token.readUInt16LE(40)
    const offset = token.readUInt32LE(44)
    if (offset + len <= token.length) targetInfo = token.subarray(offset, offset + len)
  }
  return { flags, serverChallenge: token.subarray(24, 32), targetInfo }
}

function avTimestamp (targetInfo: Buffer): Buffer | undefined {
  for (let at = 0; at + 4 <= targetInfo.length;) {
    const id = targetInfo.readUInt16LE(at)
    const len = targetInfo.readUInt16LE(at + 2)
    if (id === AV_EOL) return undefined
    if (id === AV_TIMESTAMP && len === 8 && at + 12 <= targetInfo.length) return targetInfo.subarray(at + 4, at + 12)
    at += 4 + len
  }
  return undefined
}

function hmacMd5 (key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('md5', key)
  for (const d of data) h.update(d)
  return h.digest()
}

function fileTimeNow (): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n)
  return b
}

export interface Ntlmv2Input {
  identity: NtlmIdentity
  password: string
  serverChallenge: Buffer
  targetInfo: Buffer
  clientChallenge: Buffer
  // FILETIME, 8 bytes.
  timestamp: Buffer
  // Whether the server supplied the timestamp (then LMv2 is sent as zeros).
  serverTimestamp: boolean
}

// NTOWFv2 and the two responses of MS-NLMP 3.3.2.
export function ntlmv2Responses (i: Ntlmv2Input): { ntowfv2: Buffer, lm: Buffer, nt: Buffer } {
  const ntowfv2 = hmacMd5(md4(Buffer.from(i.password, 'utf16le')), Buffer.from(i.identity.user.toUpperCase() + i.identity.domain, 'utf16le'))
  const blob = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), i.timestamp, i.clientChallenge, Buffer.alloc(4), i.targetInfo, Buffer.alloc(4),
  ])
  const proof = hmacMd5(ntowfv2, i.serverChallenge, blob)
  const lm = i.serverTimestamp
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(ntowfv2, i.serverChallenge, i.clientChallenge), i.clientChallenge])
  return { ntowfv2, lm, nt: Buffer.concat([proof, blob]) }
}

export function authenticateMessage (challenge: Challenge, identity: NtlmIdentity, password: string, workstation = 'LYNCPROBE'): Buffer {
  const fromServer = avTimestamp(challenge.targetInfo)
  const { lm, nt } = ntlmv2Responses({
    identity,
    password,
    serverChallenge: challenge.serverChallenge,
    targetInfo: challenge.targetInfo,
    clientChallenge: randomBytes(8),
    timestamp: fromServer ?? fileTimeNow(),
    serverTimestamp: fromServer !== undefined,
  })
  const text = (s: string): Buffer => Buffer.from(s, 'utf16le')
  // Field order of the security buffers in the header: LM, NT, domain, user, workstation, session key.
  const fields = [lm, nt, text(identity.domain), text(identity.user), text(workstation), Buffer.alloc(0)]
  const header = Buffer.alloc(64)
  SIGNATURE.copy(header, 0)
  header.writeUInt32LE(3, 8)
  let offset = header.length
  fields.forEach((f, n) => {
    const at = 12 + n * 8
    header.writeUInt16LE(f.length, at)
    header.writeUInt16LE(f.length, at + 2)
    header.writeUInt32LE(offset, at + 4)
    offset += f.length
  })
  header.writeUInt32LE(((challenge.flags & CLIENT_FLAGS) | FLAGS.UNICODE) >>> 0, 60)
  return Buffer.concat([header, ...fields])
}
