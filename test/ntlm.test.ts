// NTLM/Negotiate through the proxy: a client connection that authenticates is pinned to one upstream
// connection, other clients never ride on it, and it is closed when the client connection closes.
// The upstream is strict (test/helpers/ntlm-upstream.ts): a type 3 on any connection other than the
// one that got the challenge fails, as it does on IIS.
import { execFile } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import t, { type Test } from 'tap'
import { ntlmType1, ntlmType3, startNtlmUpstream, type NtlmUpstream } from './helpers/ntlm-upstream.js'
import { pool, startTestProxy, testCertificates, type TestProxy } from './helpers/proxy.js'

const HOST = 'webext.contoso.com'
const PATH = '/abs/handler/F-1.lsabs'

interface Answer {
  status: number
  rawHeaders: string[]
  headers: http.IncomingHttpHeaders
  body: string
  socket: Socket
}

// One simulated Lync client: its own keep-alive agent with a single connection, as a client that
// authenticates with NTLM keeps one connection for the handshake.
class SimClient {
  readonly name: string
  readonly agent: http.Agent
  readonly sockets = new Set<Socket>()
  private readonly port: number
  private readonly ca: string | undefined

  constructor (name: string, port: number, ca: string | undefined) {
    this.name = name
    this.port = port
    this.ca = ca
    const options = { keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 }
    this.agent = ca === undefined ? new http.Agent(options) : new https.Agent({ ...options, ca, servername: HOST })
  }

  get (authorization?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Host: HOST, 'X-Client': this.name }
      if (authorization !== undefined) headers.Authorization = authorization
      const options = { host: '127.0.0.1', port: this.port, path: PATH, headers, agent: this.agent }
      const req = this.ca === undefined ? http.request(options) : https.request({ ...options, ca: this.ca, servername: HOST })
      req.on('socket', (s: Socket) => this.sockets.add(s))
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: req.socket! }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  }

  // The three legs of the handshake, returning the answers so that a test can check each.
  async type1 (scheme = 'NTLM'): Promise<Answer> {
    return this.get(`${scheme} ${ntlmType1().toString('base64')}`)
  }

  async type3 (user: string, scheme = 'NTLM'): Promise<Answer> {
    return this.get(`${scheme} ${ntlmType3('CONTOSO', user).toString('base64')}`)
  }

  close (): void {
    this.agent.destroy()
  }
}

// The upstream answers JSON on success; anything else (a 401 body) reads as {}.
function userOf (a: Answer): string | undefined {
  try {
    return (JSON.parse(a.body) as { user?: string }).user
  } catch {
    return undefined
  }
}

function challengeOf (a: Answer): Buffer | undefined {
  const value = String(a.headers['www-authenticate'] ?? '')
  const m = /^(?:NTLM|Negotiate) (\S+)$/.exec(value)
  return m === null ? undefined : Buffer.from(m[1]!, 'base64')
}

async function waitFor (what: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return true
}

interface Fixture {
  p: TestProxy
  plain: NtlmUpstream
  secure: NtlmUpstream
}

async function fixture (t: Test): Promise<Fixture> {
  const certs = await testCertificates()
  const plain = await startNtlmUpstream()
  const secure = await startNtlmUpstream(certs.internal.get('fe')!)
  const p = await startTestProxy({
    pools: { fe: pool(plain.port, { httpsPort: secure.port }) },
    rules: [{ name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe' }],
  })
  t.teardown(async () => { await p.close(); await plain.close(); await secure.close() })
  return { p, plain, secure }
}

for (const protocol of ['http', 'https'] as const) {
  t.test(`${protocol}: the handshake is pinned to one upstream connection while other clients share the pool`, async (t) => {
    const { p, plain, secure } = await fixture(t)
    const up = protocol === 'http' ? plain : secure
    const port = protocol === 'http' ? p.httpPort : p.httpsPort
    const ca = protocol === 'http' ? undefined : p.certs.caPem
    const alice = new SimClient('alice', port, ca)
    const bob = new SimClient('bob', port, ca)
    const crowd = Array.from({ length: 20 }, (_, i) => new SimClient(`crowd${i}`, port, ca))
    t.teardown(() => { for (const c of [alice, bob, ...crowd]) c.close() })

    // The crowd: 20 clients sending plain requests back to back until alice and bob are done (at most
    // 2,000 in all, so a hang cannot loop forever).
    let stop = false
    const crowdStatuses: number[] = []
    const hammer = Promise.all(crowd.map(async (c) => {
      while (!stop && crowdStatuses.length < 2000) crowdStatuses.push((await c.get()).status)
    }))
    await waitFor(() => crowdStatuses.length >= 20)

    const anonymous = await alice.get()
    t.equal(anonymous.status, 401, 'anonymous request is challenged')
    const offers = anonymous.rawHeaders.filter((_, i) => i % 2 === 0 && anonymous.rawHeaders[i]!.toLowerCase() === 'www-authenticate').length
    t.equal(offers, 2, 'the two WWW-Authenticate fields arrive as two separate fields')
    t.same(anonymous.rawHeaders.filter((_, i) => i % 2 === 1 && anonymous.rawHeaders[i - 1]!.toLowerCase() === 'www-authenticate'), ['NTLM', 'Negotiate'])

    const challenge = await alice.type1()
    t.equal(challenge.status, 401, 'type 1 → 401 with a challenge')
    const type2 = challengeOf(challenge)
    t.ok(type2 !== undefined && type2.subarray(0, 8).toString('latin1') === 'NTLMSSP\0' && type2.readUInt32LE(8) === 2, 'the type-2 message reaches the client intact')
    const done = await alice.type3('user1')
    t.equal(done.status, 200, 'type 3 on the pinned connection completes the handshake')
    t.equal(userOf(done), 'CONTOSO\\user1')
    for (let i = 0; i < 5; i++) {
      const later = await alice.get()
      t.equal(later.status, 200, `request ${i + 1} after the handshake rides the authenticated connection`)
    }

    // Bob authenticates too, while the crowd is still running.
    t.equal((await bob.type1('Negotiate')).status, 401)
    const bobDone = await bob.type3('user2', 'Negotiate')
    t.equal(bobDone.status, 200, 'a Negotiate-wrapped NTLM handshake is pinned too')
    t.equal((await bob.get()).status, 200)

    stop = true
    await hammer
    t.ok(crowdStatuses.length < 2000, `the crowd sent ${crowdStatuses.length} requests meanwhile`)
    t.same([...new Set(crowdStatuses)], [401], 'no crowd request was ever answered on an authenticated connection')

    t.equal(alice.sockets.size, 1, 'alice used one client connection throughout')
    t.equal(bob.sockets.size, 1, 'bob used one client connection throughout')

    const aliceRecords = up.records.filter((r) => r.client === 'alice' && r.stage !== 'anonymous')
    t.same(aliceRecords.map((r) => r.stage), ['type1', 'type3', 'authenticated', 'authenticated', 'authenticated', 'authenticated', 'authenticated'])
    const aliceConns = new Set(aliceRecords.map((r) => r.connection))
    t.equal(aliceConns.size, 1, 'all of alice\'s authenticated exchanges arrived on one upstream connection')
    const type1At = up.records.findIndex((r) => r.client === 'alice' && r.stage === 'type1')
    const type3At = up.records.findIndex((r) => r.client === 'alice' && r.stage === 'type3')
    t.ok(up.records.slice(type1At, type3At).some((r) => r.client.startsWith('crowd')), 'crowd requests reached the upstream between alice\'s type 1 and type 3')
    const aliceConn = [...aliceConns][0]!
    t.same(up.records.filter((r) => r.connection === aliceConn && r.client !== 'alice'), [], 'no other client\'s request used alice\'s upstream connection')

    const bobConns = new Set(up.records.filter((r) => r.client === 'bob').map((r) => r.connection))
    t.equal(bobConns.size, 1, 'bob\'s handshake stayed on one upstream connection')
    t.not([...bobConns][0], aliceConn, 'bob got his own upstream connection')
    t.same(up.records.filter((r) => r.stage === 'type3-wrong-connection'), [], 'no type 3 ever landed on the wrong connection')
    t.ok(up.records.filter((r) => r.client.startsWith('crowd')).every((r) => r.stage === 'anonymous'), 'crowd requests only ever met unauthenticated connections')
    t.equal(p.proxy.counters.pinnedConnections, 2, 'two client connections are pinned')

    // The client goes away: its pinned upstream connection must not outlive it.
    t.notOk(up.closed.has(aliceConn), 'the pinned connection is open while alice is connected')
    alice.close()
    t.ok(await waitFor(() => up.closed.has(aliceConn)), 'closing the client connection closes the pinned upstream connection')
    t.notOk(up.closed.has([...bobConns][0]!), 'bob\'s pinned connection is untouched')
    bob.close()
    t.ok(await waitFor(() => p.proxy.counters.pinnedConnections === 0), 'no pins left once both clients are gone')
  })
}

t.test('two clients doing their handshakes at the same time both succeed', async (t) => {
  const { p, plain, secure } = await fixture(t)
  for (const [protocol, port, ca, up] of [['http', p.httpPort, undefined, plain], ['https', p.httpsPort, p.certs.caPem, secure]] as const) {
    const clients = Array.from({ length: 6 }, (_, i) => new SimClient(`${protocol}-pair${i}`, port, ca))
    t.teardown(() => { for (const c of clients) c.close() })
    // Every type 1 goes out before any type 3, so a shared pool would hand the type 3s to the wrong
    // connections.
    const ones = await Promise.all(clients.map((c) => c.type1()))
    t.same(ones.map((a) => a.status), clients.map(() => 401), `${protocol}: every type 1 is challenged`)
    const challenges = ones.map((a) => challengeOf(a)!.subarray(24, 32).toString('hex'))
    t.equal(new Set(challenges).size, clients.length, `${protocol}: each client got its own challenge`)
    const threes = await Promise.all(clients.map((c, i) => c.type3(`user${i}`)))
    t.same(threes.map((a) => a.status), clients.map(() => 200), `${protocol}: every handshake succeeded`)
    t.same(threes.map(userOf), clients.map((_, i) => `CONTOSO\\user${i}`), `${protocol}: each connection is authenticated as its own user`)
    const conns = clients.map((c) => new Set(up.records.filter((r) => r.client === c.name).map((r) => r.connection)))
    t.ok(conns.every((s) => s.size === 1), `${protocol}: each client stayed on one upstream connection`)
    t.equal(new Set(conns.map((s) => [...s][0])).size, clients.length, `${protocol}: no two clients shared one`)
    for (const c of clients) c.close()
  }
})

t.test('a pinned client connection never falls back to the shared pool', async (t) => {
  const { p, plain } = await fixture(t)
  const alice = new SimClient('alice', p.httpPort, undefined)
  t.teardown(() => alice.close())
  t.equal((await alice.type1()).status, 401)
  t.equal((await alice.type3('user1')).status, 200)
  // Another client that warms the shared pool must not change where alice's requests go.
  const eve = new SimClient('eve', p.httpPort, undefined)
  t.teardown(() => eve.close())
  await Promise.all(Array.from({ length: 10 }, () => eve.get()))
  t.equal((await alice.get()).status, 200)
  t.equal((await eve.get()).status, 401, 'eve, never authenticated, stays anonymous')
  const aliceConns = new Set(plain.records.filter((r) => r.client === 'alice').map((r) => r.connection))
  t.equal(aliceConns.size, 1)
})

function curl (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/curl', args, { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : null), stdout, stderr })
    })
  })
}

t.test('curl --ntlm completes the handshake through the proxy', async (t) => {
  const { p, plain, secure } = await fixture(t)
  const user = 'CONTOSO\\user1:Pass@word1'
  let r = await curl(['-sS', '--ntlm', '-u', user, '--resolve', `${HOST}:${p.httpPort}:127.0.0.1`, '-o', '-', '-w', '\n%{http_code}', `http://${HOST}:${p.httpPort}${PATH}`])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /\n200$/, 'http: curl ends with 200')
  t.match(r.stdout, /"user":"CONTOSO\\\\user1"/, 'the upstream saw the user curl sent')
  let stages = plain.records.map((x) => x.stage)
  t.same(stages, ['type1', 'type3'], 'http: curl sent type 1 then type 3')
  t.equal(new Set(plain.records.map((x) => x.connection)).size, 1, 'http: both on one upstream connection')

  r = await curl(['-sS', '--ntlm', '-u', user, '--cacert', p.certs.caFile, '--resolve', `${HOST}:${p.httpsPort}:127.0.0.1`, '-o', '-', '-w', '\n%{http_code}', `https://${HOST}:${p.httpsPort}${PATH}`])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /\n200$/, 'https: curl ends with 200')
  stages = secure.records.map((x) => x.stage)
  t.same(stages, ['type1', 'type3'], 'https: curl sent type 1 then type 3')
  t.equal(new Set(secure.records.map((x) => x.connection)).size, 1, 'https: both on one upstream connection')
  t.ok(await waitFor(() => p.proxy.counters.pinnedConnections === 0), 'curl exited: its pins are released')
  t.ok(await waitFor(() => plain.closed.size === plain.connections() && secure.closed.size === secure.connections()), 'and the upstream connections closed')
})
