// Windows authentication on the Front End's vdirs: the NTLM messages themselves, the handshake bound
// to one TCP connection, and a real client (curl --ntlm) completing it.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Client } from 'undici'
import { startStandIn, type LabTopology, type RunningStandIn } from '../src/lab/standin/index.js'
import { buildChallenge } from '../src/lab/standin/ntlm/challenge.js'
import { decodeAuthenticate, decodeNegotiate, encodeAuthenticate, encodeNegotiate, ntlmMessageType, NtlmFlags } from '../src/ntlm/messages.js'

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

  const done = await get(client, '/abs/handler/F-0ab1.lsabs', `NTLM ${type3('CONTOSO', 'user1', 'WS01').toString('base64')}`)
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
  const elsewhere = await get(b, '/abs/handler/F-0ab1.lsabs', `NTLM ${type3('CONTOSO', 'user1', 'WS01').toString('base64')}`)
  t.equal(elsewhere.status, 401, 'the challenge lives on connection A only')
  t.same(elsewhere.auth, ['Negotiate', 'NTLM'])
  const unauthenticated = await get(b, '/abs')
  t.equal(unauthenticated.status, 401, 'and connection B did not become authenticated')
  const noChallenge = new Client(origin)
  t.teardown(() => noChallenge.close())
  t.equal((await get(noChallenge, '/abs', `NTLM ${type3('CONTOSO', 'user1', 'WS01').toString('base64')}`)).status, 401, 'type 3 with no type 1 at all')
})

t.test('Negotiate carrying a raw NTLM token works the same way', async (t) => {
  const client = new Client(origin)
  t.teardown(() => client.close())
  const challenged = await get(client, '/CertProv/CertProvisioningService.svc', `Negotiate ${type1().toString('base64')}`)
  t.match(challenged.auth, /^Negotiate [A-Za-z0-9+/=]+$/)
  const done = await get(client, '/CertProv/CertProvisioningService.svc', `Negotiate ${type3('CONTOSO', 'user1', 'WS01').toString('base64')}`)
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
})
