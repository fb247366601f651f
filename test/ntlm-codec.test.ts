// The shared NTLM codec (src/ntlm/messages.ts): whatever it encodes, it decodes back to the same
// message, for every flag combination and both character sets.
import fc from 'fast-check'
import t from 'tap'
import {
  decodeAuthenticate, decodeChallenge, decodeNegotiate, decodeTargetInfo, encodeAuthenticate, encodeChallenge, encodeNegotiate,
  encodeTargetInfo, ntlmMessageType, NtlmFlags, type AuthenticateMessage, type AvPair, type ChallengeMessage,
} from '../src/ntlm/messages.js'
import { desl, ntHash, ntowfv2, verifyAuthenticate } from '../src/ntlm/verify.js'

const flags = fc.integer({ min: 0, max: 0xffffffff })
const bytes = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a))
// A name in the character set the flags choose: any UTF-16 code units, or Latin-1 for OEM.
const name = (f: number): fc.Arbitrary<string> => (f & NtlmFlags.UNICODE) !== 0
  ? fc.string({ unit: 'binary', maxLength: 40 })
  : fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 })
// Ids from 1 up: 0 is MsvAvEOL, which ends the list.
const avPairs = fc.array(fc.record({ id: fc.integer({ min: 1, max: 0xffff }), value: bytes(0, 40) }), { maxLength: 6 })

t.test('NEGOTIATE: encode then decode gives the flags back', async () => {
  fc.assert(fc.property(flags, (f) => {
    const m = encodeNegotiate(f)
    return ntlmMessageType(m) === 1 && decodeNegotiate(m)?.flags === f
  }))
})

t.test('target info: encode then decode gives the pairs back', async () => {
  fc.assert(fc.property(avPairs, (pairs: AvPair[]) => {
    const back = decodeTargetInfo(encodeTargetInfo(pairs))
    return back.length === pairs.length && back.every((p, i) => p.id === pairs[i]!.id && p.value.equals(pairs[i]!.value))
  }))
})

t.test('CHALLENGE: encode then decode gives the message back, with a Version only when the flag says so', async () => {
  const challenge = flags.chain((f) => fc.record({
    flags: fc.constant(f),
    targetName: name(f),
    serverChallenge: bytes(8, 8),
    targetInfo: avPairs.map(encodeTargetInfo),
    version: (f & NtlmFlags.VERSION) !== 0 ? bytes(8, 8) : fc.constant(undefined),
  }))
  fc.assert(fc.property(challenge, (c) => {
    const { version, ...rest } = c
    const m: ChallengeMessage = version === undefined ? rest : { ...rest, version }
    const back = decodeChallenge(encodeChallenge(m))
    return back !== undefined && back.flags === m.flags && back.targetName === m.targetName &&
      back.serverChallenge.equals(m.serverChallenge) && back.targetInfo.equals(m.targetInfo) &&
      (m.version === undefined ? back.version === undefined : back.version?.equals(m.version) === true)
  }))
})

t.test('AUTHENTICATE: encode then decode gives the message back', async () => {
  const authenticate = flags.chain((f) => fc.record({
    flags: fc.constant(f),
    lmResponse: bytes(0, 24),
    ntResponse: bytes(0, 80),
    domain: name(f),
    user: name(f),
    workstation: name(f),
  }))
  fc.assert(fc.property(authenticate, (a) => {
    const back = decodeAuthenticate(encodeAuthenticate(a))
    return back !== undefined && back.flags === a.flags && back.lmResponse.equals(a.lmResponse) && back.ntResponse.equals(a.ntResponse) &&
      back.domain === a.domain && back.user === a.user && back.workstation === a.workstation
  }))
})

t.test('a message is decoded only as its own type', async (t) => {
  const type1 = encodeNegotiate(NtlmFlags.UNICODE)
  const type2 = encodeChallenge({ flags: NtlmFlags.UNICODE, targetName: 'CONTOSO', serverChallenge: Buffer.alloc(8), targetInfo: encodeTargetInfo([]) })
  const type3 = encodeAuthenticate({ flags: NtlmFlags.UNICODE, lmResponse: Buffer.alloc(0), ntResponse: Buffer.alloc(0), domain: '', user: 'u', workstation: '' })
  t.equal(decodeChallenge(type1), undefined)
  t.equal(decodeAuthenticate(type2), undefined)
  t.equal(decodeNegotiate(type3), undefined)
  t.equal(ntlmMessageType(Buffer.from('not ntlm at all')), undefined)
})

t.test('the server\'s check reproduces MS-NLMP 4.2.2 and 4.2.3 (NTLMv1, with and without extended session security)', async (t) => {
  const serverChallenge = Buffer.from('0123456789abcdef', 'hex')
  t.equal(desl(ntHash('Password'), serverChallenge).toString('hex'), '67c43011f30298a2ad35ece64f16331c44bdbed927841f94', 'NTLMv1 response (4.2.2.2.1)')
  const message = (flags: number, lm: Buffer, nt: string): AuthenticateMessage =>
    ({ flags, lmResponse: lm, ntResponse: Buffer.from(nt, 'hex'), domain: 'Domain', user: 'User', workstation: 'COMPUTER' })
  const ess = message(NtlmFlags.EXTENDED_SESSIONSECURITY, Buffer.concat([Buffer.alloc(8, 0xaa), Buffer.alloc(16)]), '7537f803ae367128ca458204bde7caf81e97ed2683267232')
  t.ok(verifyAuthenticate({ message: ess, serverChallenge, password: 'Password' }), 'NTLMv1 with extended session security (4.2.3.2.2)')
  t.notOk(verifyAuthenticate({ message: ess, serverChallenge, password: 'password' }), 'the same with a password in another case')
  t.notOk(verifyAuthenticate({ message: { ...ess, flags: 0 }, serverChallenge, password: 'Password' }), 'read as plain NTLMv1 it does not match')
  t.equal(ntowfv2('Password', 'User', 'Domain').toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f', 'NTOWFv2 (4.2.4.1.1)')
  t.notOk(verifyAuthenticate({ message: message(0, Buffer.alloc(24), ''), serverChallenge, password: 'Password' }), 'no NT response')
  t.notOk(verifyAuthenticate({ message: message(0, Buffer.alloc(24), '00'.repeat(30)), serverChallenge, password: 'Password' }), 'an NTLMv2 response too short for a blob')
})

t.test('the server\'s check answers false, never throws, for any responses a client sends', async (t) => {
  fc.assert(fc.property(flags, bytes(0, 64), bytes(0, 200), bytes(8, 8), (f, lm, nt, serverChallenge) => {
    const message: AuthenticateMessage = { flags: f, lmResponse: lm, ntResponse: nt, domain: 'CONTOSO', user: 'user1', workstation: '' }
    return verifyAuthenticate({ message, serverChallenge, password: 'Pass@word1' }) === false
  }), { numRuns: 2000 })
  t.pass('2000 random AUTHENTICATE responses refused')
})
