// Windows authentication on the Front End's vdirs: the NTLM messages themselves, the handshake bound
// to one TCP connection and checked against the lab user's password, and a real client (curl --ntlm)
// completing it, or refused with the wrong password.
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { Client } from 'undici'
import { startStandIn, type LabTopology, type RunningStandIn } from '../src/lab/standin/index.js'
import { buildChallenge } from '../src/lab/standin/ntlm/challenge.js'
import { decodeAuthenticate, decodeChallenge, decodeNegotiate, encodeAuthenticate, encodeNegotiate, ntlmMessageType, NtlmFlags, type ChallengeMessage } from '../src/ntlm/messages.js'
import { desl, ntHash } from '../src/ntlm/verify.js'
import { authenticateMessage, ntlmIdentity } from '../src/probe/ntlm.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }],
}

const WINAUTH_PATHS = ['/abs', '/abs/handler/F-0ab1.lsabs', '/GroupExpansion/service.svc', '/CertProv/CertProvisioningService.svc',
  '/RgsClients/AgentService.svc', '/RequestHandlerExt/ucdevice.upx', '/WebTicket/WebTicketService.svc']

// A NEGOTIATE message as Windows sends it: Unicode, NTLM, extended session security, no names.
function type1 (flags = NtlmFlags.UNICODE | NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.EXTENDED_SESSIONSECURITY): Buffer {
  return encodeNegotiate(flags)
}

// An AUTHENTICATE message with Unicode names and dummy 24-byte responses.
function type3 (domain: string, user: string, workstation: string): Buffer {
  return encodeAuthenticate({ flags: NtlmFlags.UNICODE | NtlmFlags.NTLM, lmResponse: Buffer.alloc(24, 1), ntResponse: Buffer.alloc(24, 2), domain, user, workstation })
}

// The CHALLENGE a 401 carries, as a client reads it.
function challengeOf (auth: string | string[] | undefined): ChallengeMessage {
  const m = /^(?:NTLM|Negotiate) ([A-Za-z0-9+/=]+)$/.exec(String(auth))
  const challenge = m === null ? undefined : decodeChallenge(Buffer.from(m[1] as string, 'base64'))
  if (challenge === undefined) throw new Error(`no NTLM challenge in ${String(auth)}`)
  return challenge
}

// NTLMv1 (MS-NLMP 3.3.1), with or without extended session security, as older clients send it.
function ntlmv1Type3 (challenge: ChallengeMessage, account: string, password: string, extended: boolean): Buffer {
  const { domain, user } = ntlmIdentity(account)
  const clientChallenge = Buffer.from('0011223344556677', 'hex')
  const challengeUsed = extended
    ? createHash('md5').update(challenge.serverChallenge).update(clientChallenge).digest().subarray(0, 8)
    : challenge.serverChallenge
  const flags = NtlmFlags.UNICODE | NtlmFlags.NTLM | (extended ? NtlmFlags.EXTENDED_SESSIONSECURITY : 0)
  const lmResponse = extended ? Buffer.concat([clientChallenge, Buffer.alloc(16)]) : Buffer.alloc(24)
  return encodeAuthenticate({ flags, lmResponse, ntResponse: desl(ntHash(password), challengeUsed), domain, user, workstation: 'WS01' })
}

function securityBuffer (msg: Buffer, at: number): Buffer {
  const len = msg.readUInt16LE(at)
  const off = msg.readUInt32LE(at + 4)
  return msg.subarray(off, off + len)
}

function avPairs (info: Buffer): Map<number, Buffer> {
  const pairs = new Map<number, Buffer>()
  for (let at = 0; at + 4 <= info.length;) {
    const id = info.readUInt16LE(at)
    const len = info.readUInt16LE(at + 2)
    pairs.set(id, info.subarray(at + 4, at + 4 + len))
    if (id === 0) break
    at += 4 + len
  }
  return pairs
}

t.test('type 2 challenge message layout', async (t) => {
  const challenge = Buffer.from('0123456789abcdef', 'hex')
  const names = { netbiosDomain: 'CONTOSO', netbiosComputer: 'FE01', dnsDomain: 'contoso.net', dnsComputer: 'fe01.contoso.net' }
  const msg = buildChallenge({ challenge, clientFlags: decodeNegotiate(type1())?.flags ?? 0, ...names })
  t.equal(msg.subarray(0, 8).toString('latin1'), 'NTLMSSP\0')
  t.equal(ntlmMessageType(msg), 2)
  const flags = msg.readUInt32LE(20)
  for (const f of ['UNICODE', 'NTLM', 'TARGET_INFO', 'REQUEST_TARGET', 'EXTENDED_SESSIONSECURITY'] as const) {
    t.ok((flags & NtlmFlags[f]) !== 0, `flag ${f}`)
  }
  t.equal(flags & NtlmFlags.OEM, 0)
  t.same(msg.subarray(24, 32), challenge, 'server challenge at offset 24')
  t.equal(securityBuffer(msg, 12).toString('utf16le'), 'CONTOSO', 'target name')
  const info = avPairs(securityBuffer(msg, 40))
  t.equal(info.get(2)?.toString('utf16le'), 'CONTOSO', 'MsvAvNbDomainName')
  t.equal(info.get(1)?.toString('utf16le'), 'FE01', 'MsvAvNbComputerName')
  t.equal(info.get(4)?.toString('utf16le'), 'contoso.net', 'MsvAvDnsDomainName')
  t.equal(info.get(3)?.toString('utf16le'), 'fe01.contoso.net', 'MsvAvDnsComputerName')
  t.equal(info.get(7)?.length, 8, 'MsvAvTimestamp')
  t.equal(info.get(0)?.length, 0, 'ends with MsvAvEOL')

  const oem = buildChallenge({ challenge, clientFlags: NtlmFlags.OEM | NtlmFlags.NTLM, ...names })
  t.equal(oem.readUInt32LE(20) & (NtlmFlags.UNICODE | NtlmFlags.OEM), NtlmFlags.OEM, 'OEM client gets OEM')
  t.equal(securityBuffer(oem, 12).toString('latin1'), 'CONTOSO')
})

t.test('type 3 parsing', async (t) => {
  t.match(decodeAuthenticate(type3('CONTOSO', 'user1', 'WS01')), { domain: 'CONTOSO', user: 'user1', workstation: 'WS01' })
  const outside = type3('CONTOSO', 'user1', 'WS01')
  outside.writeUInt32LE(10_000, 36 + 4)
  t.equal(decodeAuthenticate(outside), undefined, 'a field pointing outside the message is refused')
  t.equal(decodeAuthenticate(type1()), undefined, 'a type 1 is not a type 3')
  const wrongSig = type3('CONTOSO', 'user1', 'WS01')
  wrongSig.write('NTLMSSX', 0, 'latin1')
  t.equal(decodeAuthenticate(wrongSig), undefined, 'signature checked')
})

let fe: RunningStandIn
let origin: string

t.before(async () => {
  fe = await startStandIn({
    member: 'fe01',
    role: 'frontend',
    serverFqdn: 'fe01.contoso.net',
    address: '127.0.0.1',
    sites: [{ kind: 'external', protocol: 'http', port: 0 }],
    topology,
  })
  origin = `http://127.0.0.1:${fe.sites[0]?.port}`
})
t.teardown(() => fe.close())

// One undici Client is one TCP connection, which is what NTLM needs to be tested.
async function get (client: Client, path: string, authorization?: string): Promise<{ status: number; auth: string | string[] | undefined; body: Buffer; type: string | string[] | undefined }> {
  const res = await client.request({
    path,
    method: 'GET',
    headers: { host: 'webext.contoso.com', ...(authorization === undefined ? {} : { authorization }) },
  })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, auth: res.headers['www-authenticate'], body, type: res.headers['content-type'] }
}

t.test('Windows-auth vdirs answer 401 with NTLM and Negotiate on separate lines', async (t) => {
  const client = new Client(origin)
  t.teardown(() => client.close())
  for (const p of WINAUTH_PATHS) {
    const r = await get(client, p)
    t.equal(r.status, 401, p)
    t.same(r.auth, ['Negotiate', 'NTLM'], `${p}: two WWW-Authenticate lines`)
  }
  const bearer = await get(client, '/abs', 'Bearer cwt=x')
  t.same(bearer.auth, ['Negotiate', 'NTLM'], 'other schemes are not accepted')
})

t.test('type 1 and type 3 on the same connection complete the handshake', async (t) => {
  const client = new Client(origin)
  t.teardown(() => client.close())
  const challenged = await get(client, '/abs/handler/F-0ab1.lsabs', `NTLM ${type1().toString('base64')}`)
  t.equal(challenged.status, 401)
  t.type(challenged.auth, 'string', 'a single WWW-Authenticate line with the challenge')
  const m = /^NTLM ([A-Za-z0-9+/=]+)$/.exec(String(challenged.auth))
  t.ok(m, 'NTLM <base64>')
  t.equal(ntlmMessageType(Buffer.from(m?.[1] ?? '', 'base64')), 2, 'carries a type 2 message')

  const done = await get(client, '/abs/handler/F-0ab1.lsabs', `NTLM ${authenticateMessage(challengeOf(challenged.auth), ntlmIdentity('CONTOSO\\user1'), 'Pass@word1').toString('base64')}`)
  t.equal(done.status, 200)
  t.equal(done.type, 'application/octet-stream')
  t.match(done.body.toString('latin1'), /^LSABS-LAB\nF-0ab1\.lsabs\nfor CONTOSO\\user1\n/)

  const later = await get(client, '/GroupExpansion/service.svc')
  t.equal(later.status, 200, 'the connection stays authenticated, as with IIS')
  t.match(later.body.toString(), /CONTOSO\\user1/)
  const missing = await get(client, '/abs/handler/not-a-file.txt')
  t.equal(missing.status, 404, 'unknown address book file, after authentication')
})

t.test('a type 3 on another connection is refused', async (t) => {
  const a = new Client(origin)
  const b = new Client(origin)
  t.teardown(async () => { await a.close(); await b.close() })
  const challenged = await get(a, '/abs/handler/F-0ab1.lsabs', `NTLM ${type1().toString('base64')}`)
  t.equal(challenged.status, 401)
  // A correct answer to A's challenge, which only A may use.
  const answer = authenticateMessage(challengeOf(challenged.auth), ntlmIdentity('CONTOSO\\user1'), 'Pass@word1')
  const elsewhere = await get(b, '/abs/handler/F-0ab1.lsabs', `NTLM ${answer.toString('base64')}`)
  t.equal(elsewhere.status, 401, 'the challenge lives on connection A only')
  t.same(elsewhere.auth, ['Negotiate', 'NTLM'])
  const unauthenticated = await get(b, '/abs')
  t.equal(unauthenticated.status, 401, 'and connection B did not become authenticated')
  const noChallenge = new Client(origin)
  t.teardown(() => noChallenge.close())
  t.equal((await get(noChallenge, '/abs', `NTLM ${answer.toString('base64')}`)).status, 401, 'type 3 with no type 1 at all')
  t.equal((await get(a, '/abs/handler/F-0ab1.lsabs', `NTLM ${answer.toString('base64')}`)).status, 200, 'while on A it completes the handshake')
})

// One handshake on a fresh connection: the status the type 3 gets and the WWW-Authenticate lines.
async function handshake (t: Test, type3For: (challenge: ChallengeMessage) => Buffer, scheme = 'NTLM'): Promise<{ status: number; auth: string | string[] | undefined }> {
  const client = new Client(origin)
  t.teardown(() => client.close())
  const challenged = await get(client, '/abs', `${scheme} ${type1().toString('base64')}`)
  const done = await get(client, '/abs', `${scheme} ${type3For(challengeOf(challenged.auth)).toString('base64')}`)
  return { status: done.status, auth: done.auth }
}

t.test('the type 3 is checked against the lab user\'s password, as the domain controller checks it', async (t) => {
  const v2 = (account: string, password: string) => (c: ChallengeMessage) => authenticateMessage(c, ntlmIdentity(account), password)
  for (const account of ['CONTOSO\\user1', 'contoso\\USER1', 'contoso.net\\user1', 'user1@contoso.com']) {
    t.equal((await handshake(t, v2(account, 'Pass@word1'))).status, 200, `NTLMv2 as ${account}`)
  }
  for (const [account, password, why] of [
    ['CONTOSO\\user1', 'Pass@word2', 'another user\'s password'],
    ['CONTOSO\\user1', 'pass@word1', 'the password in another case'],
    ['CONTOSO\\nosuchuser', 'Pass@word1', 'an unknown user'],
    ['FABRIKAM\\user1', 'Pass@word1', 'a domain the lab does not have'],
    ['nosuchuser@contoso.com', 'Pass@word1', 'an unknown UPN'],
    ['\\', '', 'an anonymous logon'],
  ] as const) {
    const refused = await handshake(t, v2(account, password))
    t.equal(refused.status, 401, `${why} is refused`)
    t.same(refused.auth, ['Negotiate', 'NTLM'], `${why}: the schemes are offered again, as IIS does`)
  }
  t.equal((await handshake(t, (c) => ntlmv1Type3(c, 'CONTOSO\\user1', 'Pass@word1', false))).status, 200, 'NTLMv1')
  t.equal((await handshake(t, (c) => ntlmv1Type3(c, 'CONTOSO\\user1', 'Pass@word1', true))).status, 200, 'NTLMv1 with extended session security')
  t.equal((await handshake(t, (c) => ntlmv1Type3(c, 'CONTOSO\\user1', 'wrong', true))).status, 401, 'NTLMv1 with the wrong password')
  t.equal((await handshake(t, () => type3('CONTOSO', 'user1', 'WS01'))).status, 401, 'made-up responses are refused')
  const lmOnly = (c: ChallengeMessage): Buffer => {
    const m = decodeAuthenticate(ntlmv1Type3(c, 'CONTOSO\\user1', 'Pass@word1', false))!
    return encodeAuthenticate({ ...m, ntResponse: Buffer.alloc(0), lmResponse: m.ntResponse })
  }
  t.equal((await handshake(t, lmOnly)).status, 401, 'an LM response alone is refused')
  t.equal((await handshake(t, v2('CONTOSO\\user1', 'Pass@word1'), 'Negotiate')).status, 200, 'Negotiate carrying NTLMv2')
})

t.test('Negotiate carrying a raw NTLM token works the same way', async (t) => {
  const client = new Client(origin)
  t.teardown(() => client.close())
  const challenged = await get(client, '/CertProv/CertProvisioningService.svc', `Negotiate ${type1().toString('base64')}`)
  t.match(challenged.auth, /^Negotiate [A-Za-z0-9+/=]+$/)
  const done = await get(client, '/CertProv/CertProvisioningService.svc', `Negotiate ${authenticateMessage(challengeOf(challenged.auth), ntlmIdentity('CONTOSO\\user1'), 'Pass@word1').toString('base64')}`)
  t.equal(done.status, 200)
})

t.test('curl --ntlm completes the handshake and downloads the address book file', async (t) => {
  const port = fe.sites[0]?.port
  const { stdout } = await promisify(execFile)('/usr/bin/curl', [
    '-s', '--ntlm', '-u', 'CONTOSO\\user1:Pass@word1',
    '--resolve', `webext.contoso.com:${port}:127.0.0.1`,
    '-w', '\n%{http_code} %{num_connects}',
    `http://webext.contoso.com:${port}/abs/handler/F-0ab1.lsabs`,
  ], { encoding: 'latin1', timeout: 20_000 })
  const status = stdout.slice(stdout.lastIndexOf('\n') + 1)
  t.equal(status, '200 1', 'HTTP 200 over a single connection')
  t.match(stdout, /^LSABS-LAB\nF-0ab1\.lsabs\nfor CONTOSO\\user1\n/, 'the file, for the user curl named')

  for (const credentials of ['CONTOSO\\user1:WRONG', 'CONTOSO\\nosuchuser:Pass@word1']) {
    const refused = await promisify(execFile)('/usr/bin/curl', [
      '-s', '-o', '/dev/null', '--ntlm', '-u', credentials,
      '--resolve', `webext.contoso.com:${port}:127.0.0.1`,
      '-w', '%{http_code} %{num_connects}',
      `http://webext.contoso.com:${port}/abs/handler/F-0ab1.lsabs`,
    ], { encoding: 'latin1', timeout: 20_000 })
    t.equal(refused.stdout, '401 1', `${credentials.split(':')[0]} with ${credentials.split(':')[1]}: 401, as IIS answers`)
  }
})
