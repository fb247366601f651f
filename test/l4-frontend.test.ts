// Layer-4 frontends, the HLB's side for SIP/MTLS, 444 and the CLS ports: bytes spliced both ways
// unchanged and with backpressure, connections balanced over members, TLS passed through untouched,
// a member failure reset to the client, idle tunnels closed, and a refusal when no member is up.
import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import t, { type Test } from 'tap'
import { readStream, startL4Server, watchEnding, writeStream, type Ending, type L4Server } from './helpers/l4.js'
import { eventually, sleep } from './helpers/pool.js'
import { startTestProxy, testCertificates, type TestProxy } from './helpers/proxy.js'

const MB = 1024 * 1024

// Members on 127.0.0.41, .42, … sharing one port, as a frontend's targetPort requires.
async function startMembers (n: number, make: (i: number) => Parameters<typeof startL4Server>[0]['onSocket'], tlsOptions?: tls.TlsOptions): Promise<L4Server[]> {
  const out: L4Server[] = []
  let port = 0
  for (let i = 0; i < n; i++) {
    const s = await startL4Server({ address: `127.0.0.${41 + i}`, port, onSocket: make(i), ...(tlsOptions === undefined ? {} : { tls: tlsOptions }) })
    port = s.port
    out.push(s)
  }
  return out
}

async function frontend (t: Test, members: readonly L4Server[], o: { idleTimeout?: number, health?: Record<string, unknown> } = {}): Promise<{ p: TestProxy, port: number }> {
  const p = await startTestProxy({
    pools: {
      l4: {
        kind: 'members',
        fqdn: 'dirpool.contoso.net',
        members: members.map((m, i) => ({ name: `d${i + 1}`, address: m.address })),
        health: o.health ?? { check: 'none' },
      },
    },
    rules: [{ name: 'deny', publicNames: ['webext.contoso.com'], action: 'deny' }],
    tcp: [{ name: 'sip', port: 0, pool: 'l4', targetPort: members[0]!.port, ...(o.idleTimeout === undefined ? {} : { idleTimeout: o.idleTimeout }) }],
  })
  t.teardown(async () => { await p.close(); for (const m of members) await m.close() })
  return { p, port: p.proxy.tcpFrontends.find((f) => f.name === 'sip')!.port }
}

function connect (port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => { s.off('error', reject); resolve(s) })
    s.once('error', reject)
  })
}

// How a connection to a frontend that resets at once ends: the reset may arrive together with the
// handshake's completion, so the connect itself fails with it.
function connectAndWatch (port: number): Promise<Ending> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    void watchEnding(s).then(resolve)
  })
}

t.test('20 MB each way: bytes in equal bytes out, sha256 on both ends', async (t) => {
  const total = 20 * MB
  const seen: Array<Promise<{ received: { bytes: number, sha256: string }, sent: string }>> = []
  const members = await startMembers(1, () => (s) => {
    seen.push(Promise.all([readStream(s), writeStream(s, total)]).then(([received, sent]) => ({ received, sent })))
  })
  const { port } = await frontend(t, members)
  const client = await connect(port)
  const [clientReceived, clientSent] = await Promise.all([readStream(client), writeStream(client, total)])
  t.equal(seen.length, 1, 'one upstream connection for one client connection')
  const member = await seen[0]!
  t.equal(member.received.bytes, total, 'the member received 20 MB')
  t.equal(member.received.sha256, clientSent, 'client → member: sha256 equal')
  t.equal(clientReceived.bytes, total, 'the client received 20 MB')
  t.equal(clientReceived.sha256, member.sent, 'member → client: sha256 equal')
})

t.test('backpressure: a client that does not read stalls the member instead of filling the proxy', async (t) => {
  let stalledAt = -1
  let written = 0
  const members = await startMembers(1, () => (s) => {
    // Writes until the socket stays full for 1 s; that many bytes were all the path could hold.
    const chunk = Buffer.alloc(64 * 1024, 0x5a)
    const pump = (): void => {
      while (written < 256 * MB) {
        written += chunk.length
        if (!s.write(chunk)) {
          const timer = setTimeout(() => { stalledAt = written }, 1000)
          s.once('drain', () => { clearTimeout(timer); pump() })
          return
        }
      }
    }
    pump()
  })
  const { port } = await frontend(t, members)
  const client = await connect(port)
  client.pause()
  t.ok(await eventually(() => stalledAt >= 0, 15_000), 'the member stalled')
  t.ok(stalledAt < 128 * MB, `only socket buffers' worth got through before it stalled (${(stalledAt / MB).toFixed(1)} MB)`)
  // And it resumes when the client reads again.
  const before = written
  client.resume()
  t.ok(await eventually(() => written > before + 8 * MB, 10_000), 'reading again lets the member go on')
  client.destroy()
})

t.test('connections are balanced over the members', async (t) => {
  const members = await startMembers(3, (i) => (s) => { s.end(`d${i + 1}\n`) })
  const { port } = await frontend(t, members)
  const greetings: string[] = []
  for (let i = 0; i < 9; i++) greetings.push((await watchEnding(await connect(port))).data.toString())
  for (const name of ['d1', 'd2', 'd3']) t.equal(greetings.filter((g) => g === `${name}\n`).length, 3, `${name} took 3 of 9 connections`)
  t.same(members.map((m) => m.accepted()), [3, 3, 3], 'each member accepted 3')
})

t.test('TLS passes through untouched: the member\'s certificate, SNI and the client certificate', async (t) => {
  const certs = await testCertificates()
  const dir = certs.internal.get('dir')!
  const fe = certs.internal.get('fe')!
  const memberSeen: Array<{ servername: string | false, clientFingerprint: string | undefined, protocol: string | null }> = []
  const members = await startMembers(2, (i) => (s) => {
    const ts = s as tls.TLSSocket
    const peer = ts.getPeerCertificate()
    memberSeen.push({ servername: (ts as tls.TLSSocket & { servername: string | false }).servername, clientFingerprint: peer.fingerprint256, protocol: ts.getProtocol() })
    ts.write(`dir0${i + 1} hello\r\n`)
    ts.pipe(ts)
  }, { cert: dir.cert, key: dir.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' })
  const { port } = await frontend(t, members)
  const memberFingerprint = new X509Certificate(dir.cert).fingerprint256
  const clientFingerprint = new X509Certificate(fe.cert).fingerprint256

  for (let i = 0; i < 2; i++) {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.caPem, servername: 'dirpool.contoso.net', cert: fe.cert, key: fe.key })
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
    t.ok(socket.authorized, `connection ${i}: the member certificate verifies against the lab CA for dirpool.contoso.net`)
    t.equal(socket.getPeerCertificate().fingerprint256, memberFingerprint, 'the client sees the member\'s own certificate')
    const ending = watchEnding(socket)
    socket.write('SIP/2.0 OPTIONS\r\n')
    await sleep(100)
    socket.end()
    const got = (await ending).data.toString()
    t.match(got, /^dir0[12] hello\r\nSIP\/2\.0 OPTIONS\r\n$/, 'the application bytes come back unchanged')
  }
  t.equal(memberSeen.length, 2)
  for (const m of memberSeen) {
    t.equal(m.servername, 'dirpool.contoso.net', 'the member saw the client\'s SNI: the handshake was the client\'s own')
    t.equal(m.clientFingerprint, clientFingerprint, 'the member saw the client\'s certificate (MTLS end to end)')
  }
  t.same(members.map((m) => m.accepted()), [1, 1], 'one TLS connection on each member')
})

t.test('a member that fails mid-stream resets the client; a member that ends cleanly ends it cleanly', async (t) => {
  const members = await startMembers(2, (i) => (s) => {
    s.write('begin\n')
    s.once('data', () => {
      if (i === 0) s.resetAndDestroy()
      else s.end('bye\n')
    })
  })
  const { port } = await frontend(t, members)
  const results = []
  for (let i = 0; i < 2; i++) {
    const c = await connect(port)
    const ending = watchEnding(c)
    await eventually(() => c.bytesRead >= 6)
    c.write('go\n')
    results.push(await ending)
  }
  const reset = results.find((r) => !r.data.toString().includes('bye'))!
  const clean = results.find((r) => r.data.toString().includes('bye'))!
  t.equal(reset.how, 'error', 'the killed member gives the client an error, not an end')
  t.equal(reset.code, 'ECONNRESET', 'a reset')
  t.equal(reset.data.toString(), 'begin\n', 'after the bytes that did arrive')
  t.equal(clean.how, 'end', 'a member that closes cleanly gives a clean end')
  t.equal(clean.data.toString(), 'begin\nbye\n')
})

t.test('the idle timeout closes an idle tunnel, and traffic keeps it open', async (t) => {
  const memberClosed: number[] = []
  const members = await startMembers(1, () => (s) => {
    s.on('close', () => memberClosed.push(Date.now()))
    s.pipe(s)
  })
  const { port } = await frontend(t, members, { idleTimeout: 1 })

  // Busy: a message every 400 ms for 2.4 s keeps the tunnel.
  const busy = await connect(port)
  const busyEnding = watchEnding(busy)
  for (let i = 0; i < 6; i++) {
    busy.write(`ping ${i}\n`)
    await sleep(400)
  }
  t.equal(busy.destroyed, false, 'a tunnel with traffic outlives the idle timeout')
  const lastActivity = Date.now()
  // Bounded, so that a tunnel that never closes fails here rather than at the file's time limit.
  const ended = await Promise.race([busyEnding, sleep(5000).then(() => undefined)])
  const idleFor = Date.now() - lastActivity
  t.ok(ended !== undefined, 'the idle tunnel was closed')
  t.ok(idleFor >= 500 && idleFor <= 2500, `about 1 s after it fell silent (${idleFor} ms)`)
  t.match(ended?.data.toString(), /ping 5\n$/, 'everything was echoed before')
  busy.destroy()
  t.ok(await eventually(() => memberClosed.length === 1, 2000), 'the member side is closed too')
})

t.test('a frontend whose members are all down refuses with a reset', async (t) => {
  // Nothing listens on these: the members are unreachable from the start.
  const members = await startMembers(2, () => (s) => { s.end('should not happen\n') })
  for (const m of members) await m.close()
  const refused = await frontend(t, members)
  let ending = await connectAndWatch(refused.port)
  t.equal(ending.how, 'error', 'members refusing: the client is reset')
  t.equal(ending.code, 'ECONNRESET')
  t.equal(ending.data.length, 0)

  // Health checks have marked them down: the frontend resets at once, without trying them.
  const down = await startMembers(2, () => (s) => { s.end('up\n') })
  const hc = await frontend(t, down, { health: { check: 'tcp', interval: 0.2, timeout: 0.5, fall: 1, rise: 1 } })
  for (const m of down) await m.close()
  t.ok(await eventually(() => hc.p.proxy.table().tcpPools.get('sip')!.members.every((m) => !m.up), 3000), 'both members are marked down')
  const started = Date.now()
  ending = await connectAndWatch(hc.port)
  t.equal(ending.how, 'error', 'all down: the client is reset')
  t.equal(ending.code, 'ECONNRESET')
  t.ok(Date.now() - started < 1000, 'at once')
})
