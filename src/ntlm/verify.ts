// The server's check of an AUTHENTICATE message against a password (MS-NLMP 3.3): the part a
// domain controller does for IIS. Which response is checked follows from its length, as the DC
// decides it: more than 24 bytes is NTLMv2 (3.3.2), exactly 24 is NTLMv1 (3.3.1), with extended
// session security when the client negotiated it. LM responses alone are never accepted, as a DC at
// the default LmCompatibilityLevel of Windows Server 2012 R2 behaves for a client that sends an NT
// response; a client that sends only LM gets refused.
import { createCipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { md4 } from './md4.js'
import { NtlmFlags, type AuthenticateMessage } from './messages.js'

function hmacMd5 (key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('md5', key)
  for (const d of data) h.update(d)
  return h.digest()
}

export function ntHash (password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'))
}

// MS-NLMP 3.3.2: NTOWFv2 takes the user name upper-cased and the domain exactly as the client sent
// them in the AUTHENTICATE message.
export function ntowfv2 (password: string, user: string, domain: string): Buffer {
  return hmacMd5(ntHash(password), Buffer.from(user.toUpperCase() + domain, 'utf16le'))
}

// A 7-byte DES key spread over 8 bytes, one parity bit per byte (MS-NLMP 6, DES-ECB key expansion).
function desKey (seven: Buffer): Buffer {
  const key = Buffer.alloc(8)
  let bits = 0n
  for (const b of seven) bits = (bits << 8n) | BigInt(b)
  for (let i = 0; i < 8; i++) {
    const v = Number((bits >> BigInt(49 - i * 7)) & 0x7fn) << 1
    // Odd parity in the low bit; DES ignores it, but a strict implementation checks it.
    let ones = 0
    for (let x = v; x !== 0; x >>= 1) ones += x & 1
    key[i] = v | (ones % 2 === 0 ? 1 : 0)
  }
  return key
}

// Single DES. OpenSSL 3 moved DES-ECB to its legacy provider, which Node does not load; triple DES
// with the same key three times is single DES (encrypt, decrypt, encrypt with one key) and is in
// the default provider.
function des (key8: Buffer, block: Buffer): Buffer {
  const c = createCipheriv('des-ede3-ecb', Buffer.concat([key8, key8, key8]), null)
  c.setAutoPadding(false)
  return Buffer.concat([c.update(block), c.final()])
}

// DESL (MS-NLMP 6): the 16-byte key padded to 21 and cut into three DES keys.
export function desl (key16: Buffer, data8: Buffer): Buffer {
  const k = Buffer.concat([key16, Buffer.alloc(5)])
  return Buffer.concat([des(desKey(k.subarray(0, 7)), data8), des(desKey(k.subarray(7, 14)), data8), des(desKey(k.subarray(14, 21)), data8)])
}

function same (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

export interface VerifyInput {
  message: AuthenticateMessage
  serverChallenge: Buffer
  password: string
}

export function verifyAuthenticate ({ message, serverChallenge, password }: VerifyInput): boolean {
  const nt = message.ntResponse
  if (nt.length > 24) {
    // NTProofStr is the first 16 bytes; the rest is the client's blob, hashed as it came.
    if (nt.length < 16 + 28) return false
    const key = ntowfv2(password, message.user, message.domain)
    return same(hmacMd5(key, serverChallenge, nt.subarray(16)).subarray(0, 16), nt.subarray(0, 16))
  }
  if (nt.length !== 24) return false
  const extended = (message.flags & NtlmFlags.EXTENDED_SESSIONSECURITY) !== 0 && message.lmResponse.length >= 8
  const challenge = extended
    // NTLM2 session response: the client's challenge rides in the first 8 bytes of the LM field.
    ? createHash('md5').update(serverChallenge).update(message.lmResponse.subarray(0, 8)).digest().subarray(0, 8)
    : serverChallenge
  return same(desl(ntHash(password), challenge), nt)
}
