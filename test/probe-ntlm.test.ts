// The probe's own NTLM client: MD4 against RFC 1320, NTLMv2 against the worked example of MS-NLMP
// 4.2.4, and its messages read back by the
// shared codec's decoder, as the lab stand-in reads them.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { md4 } from '../src/ntlm/md4.js'
import { decodeAuthenticate, decodeChallenge, decodeNegotiate, NtlmFlags } from '../src/ntlm/messages.js'
import { ntlmv2Responses } from '../src/ntlm/ntlmv2.js'
import { buildChallenge } from '../src/lab/standin/ntlm/challenge.js'
import { authenticateMessage, negotiateMessage, ntlmIdentity } from '../src/probe/ntlm.js'

t.test('MD4 gives the RFC 1320 test suite digests', async (t) => {
  const suite: Array<[string, string]> = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ]
  for (const [input, digest] of suite) t.equal(md4(Buffer.from(input, 'latin1')).toString('hex'), digest, JSON.stringify(input))
  // Lengths around the 56-byte padding boundary take one or two blocks.
  for (const n of [55, 56, 63, 64, 65]) t.equal(md4(Buffer.alloc(n, 0x61)).length, 16, `${n} bytes`)
})

t.test('NTLMv2 matches MS-NLMP 4.2.4', async (t) => {
  const av = (id: number, text: string): Buffer => {
    const value = Buffer.from(text, 'utf16le')
    const head = Buffer.alloc(4)
    head.writeUInt16LE(id, 0)
    head.writeUInt16LE(value.length, 2)
    return Buffer.concat([head, value])
  }
  const r = ntlmv2Responses({
    identity: { domain: 'Domain', user: 'User' },
    password: 'Password',
    serverChallenge: Buffer.from('0123456789abcdef', 'hex'),
    targetInfo: Buffer.concat([av(2, 'Domain'), av(1, 'Server'), Buffer.alloc(4)]),
    clientChallenge: Buffer.alloc(8, 0xaa),
    timestamp: Buffer.alloc(8),
    serverTimestamp: false,
  })
  t.equal(r.ntowfv2.toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f', 'NTOWFv2')
  t.equal(r.nt.subarray(0, 16).toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c', 'NTProofStr')
  t.equal(r.lm.toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa', 'LMv2 response')
})

t.test('the messages read back with the stand-in\'s server-side parser', async (t) => {
  const negotiate = decodeNegotiate(negotiateMessage())
  t.ok(negotiate !== undefined && (negotiate.flags & NtlmFlags.UNICODE) !== 0, 'type 1 asks for Unicode')
  const type2 = buildChallenge({ challenge: randomBytes(8), clientFlags: negotiate!.flags, netbiosDomain: 'CONTOSO', netbiosComputer: 'FE01', dnsDomain: 'contoso.net', dnsComputer: 'fe01.contoso.net' })
  const challenge = decodeChallenge(type2)
  t.ok(challenge !== undefined, 'type 2 parsed')
  t.ok(challenge!.targetInfo.length > 0, 'target info found')

  const type3 = authenticateMessage(challenge!, ntlmIdentity('CONTOSO\\user1'), 'Pass@word1')
  const read = decodeAuthenticate(type3)
  t.equal(read?.domain, 'CONTOSO')
  t.equal(read?.user, 'user1')
  t.equal(read?.workstation, 'LYNCPROBE')
  t.equal(read?.lmResponse.toString('hex'), '00'.repeat(24), 'the server sent a timestamp, so LMv2 is empty')
  t.ok((read?.ntResponse.length ?? 0) > 16 + 28, 'an NTLMv2 response: proof, blob and the target info')
  t.ok(read!.ntResponse.includes(challenge!.targetInfo), 'the blob carries the server\'s target info')

  const upn = decodeAuthenticate(authenticateMessage(challenge!, ntlmIdentity('user1@contoso.com'), 'x'))
  t.same([upn?.domain, upn?.user], ['', 'user1@contoso.com'], 'a UPN goes with an empty domain')
  t.equal(decodeChallenge(negotiateMessage()), undefined, 'a type 1 is not a challenge')
})
