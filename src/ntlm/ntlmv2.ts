// The NTLMv2 responses (MS-NLMP 3.3.2): NTOWFv2 from the password, the NTLMv2 blob, and from them the
// NT and LMv2 responses an AUTHENTICATE message carries. Pure computation: the caller chooses the
// client challenge and the timestamp, so the worked example of MS-NLMP 4.2.4 can be reproduced.
import { createHmac } from 'node:crypto'
import { md4 } from './md4.js'

export interface NtlmIdentity { domain: string, user: string }

export interface Ntlmv2Input {
  identity: NtlmIdentity
  password: string
  serverChallenge: Buffer
  targetInfo: Buffer
  clientChallenge: Buffer
  // FILETIME, 8 bytes.
  timestamp: Buffer
  // Whether the server supplied the timestamp (then LMv2 is sent as zeros, MS-NLMP 3.1.5.1.2).
  serverTimestamp: boolean
}

function hmacMd5 (key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('md5', key)
  for (const d of data) h.update(d)
  return h.digest()
}

export function ntlmv2Responses (i: Ntlmv2Input): { ntowfv2: Buffer, lm: Buffer, nt: Buffer } {
  const ntowfv2 = hmacMd5(md4(Buffer.from(i.password, 'utf16le')), Buffer.from(i.identity.user.toUpperCase() + i.identity.domain, 'utf16le'))
  // The blob (MS-NLMP 2.2.2.7, NTLMv2_CLIENT_CHALLENGE): RespType 1, HiRespType 1, six reserved
  // bytes, the timestamp, the client challenge, four reserved, the server's AV pairs, four reserved.
  const blob = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), i.timestamp, i.clientChallenge, Buffer.alloc(4), i.targetInfo, Buffer.alloc(4),
  ])
  const proof = hmacMd5(ntowfv2, i.serverChallenge, blob)
  const lm = i.serverTimestamp
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(ntowfv2, i.serverChallenge, i.clientChallenge), i.clientChallenge])
  return { ntowfv2, lm, nt: Buffer.concat([proof, blob]) }
}
