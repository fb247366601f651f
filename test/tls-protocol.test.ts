// The server profile as a client sees it: protocol versions, cipher order, curves, ALPN and the
// handshake timeout, probed with `openssl s_client` and Node's client against a live server.
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { loadCertificate } from '../src/tls/load.js'
import { INTERMEDIATE_TLS12_CIPHERS, closeFailedHandshakes, serverTlsProfile } from '../src/tls/profile.js'
import { run, type RunResult } from './helpers/run.js'


// What a handshake settled on, from s_client's summary. Up to TLS 1.2 s_client prints the session
// (with its Protocol line) at once; for TLS 1.3 it does so only when a ticket arrives, which a client
// that quits at once never sees, but there the "New, TLSv1.3" line can only mean TLS 1.3.
function summary (out: string): { protocol?: string, cipher?: string, alpn?: string } {
  const line = /^New, (\S+), Cipher is (\S+)/m.exec(out)
  return {
    protocol: /^\s*Protocol\s*:\s*(\S+)/m.exec(out)?.[1] ?? (line?.[1] === 'TLSv1.3' ? 'TLSv1.3' : undefined),
    cipher: line?.[2],
    alpn: /^ALPN protocol:\s*(\S+)/m.exec(out)?.[1],
  }
}

async function startServer (t: Test, options: tls.TlsOptions): Promise<{ port: number, errors: string[] }> {
  const errors: string[] = []
  // The client closes first: a server-side close races s_client's own and can look like a truncation.
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => { /* a client that resets is not a failure here */ })
    socket.on('end', () => socket.end())
  })
  closeFailedHandshakes(server)
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => { errors.push(err.code ?? err.message) })
  const open = new Set<net.Socket>()
  server.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of open) s.destroy()
    server.close(() => resolve())
  }))
  return { port: (server.address() as AddressInfo).port, errors }
}

t.test('profile values', async (t) => {
  const p = serverTlsProfile()
  t.equal(p.minVersion, 'TLSv1.2', 'TLS 1.2 at least')
  t.ok(p.ciphers.endsWith(':ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305'), 'the TLS 1.2 list of the brief')
  t.ok(p.ciphers.startsWith('TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:'), 'TLS 1.3 suites in Mozilla order')
  t.equal(p.ciphers.split(':').filter((c) => !c.startsWith('TLS_')).join(':'), INTERMEDIATE_TLS12_CIPHERS, 'TLS 1.2 list is exactly the intermediate one')
  t.equal(p.ecdhCurve, 'X25519:prime256v1:secp384r1', 'curves')
  t.equal(p.honorCipherOrder, true, 'server cipher order')
  t.same(p.ALPNProtocols, ['http/1.1'], 'ALPN')
  t.equal(p.handshakeTimeout, 10_000, 'default handshake timeout')
  t.equal(serverTlsProfile(2500).handshakeTimeout, 2500, 'handshake timeout given')
  t.not(serverTlsProfile(), serverTlsProfile(), 'a fresh object per call')
  t.throws(() => serverTlsProfile(0), RangeError)
})

t.test('handshakes against the profile', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-proto-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lab = await ensureLabCertificates({ dir, externalNames: ['webext.contoso.com'], internal: [] })
  const cert = await loadCertificate({ lab: true }, { baseDir: dir, lab })

  const strict = await startServer(t, { ...serverTlsProfile(), ...cert.secureContextOptions })
  // A server that still speaks TLS 1.0/1.1, to prove that this openssl client can offer TLS 1.1 at
  // all; otherwise a refusal below could be the client's own doing.
  const permissive = await startServer(t, { ...cert.secureContextOptions, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' })

  const sClient = (port: number, ...args: string[]): Promise<RunResult> => run('openssl', [
    's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'webext.contoso.com',
    '-CAfile', lab.caFile, '-verify_return_error', '-alpn', 'http/1.1', ...args,
  ])

  t.test('TLS 1.1 is refused', async (t) => {
    const control = await sClient(permissive.port, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0')
    t.equal(control.code, 0, 'control: the client completes TLS 1.1 with a permissive server')
    t.equal(summary(control.stdout).protocol, 'TLSv1.1', 'control: TLS 1.1 was negotiated')

    const refused = await sClient(strict.port, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0')
    t.not(refused.code, 0, 's_client -tls1_1 fails')
    t.match(refused.stderr, /alert protocol version/, 'the server answers with a protocol_version alert')
    t.notMatch(refused.stdout, /BEGIN CERTIFICATE/, 'no certificate was sent')
    t.ok(strict.errors.includes('ERR_SSL_UNSUPPORTED_PROTOCOL'), `the server refused the version (${strict.errors.join(', ')})`)
  })

  t.test('TLS 1.2 uses the server cipher order and ALPN', async (t) => {
    const r = await sClient(strict.port, '-tls1_2')
    t.equal(r.code, 0, 's_client -tls1_2 succeeds')
    t.same(summary(r.stdout), { protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', alpn: 'http/1.1' }, 'TLS 1.2, first RSA suite of the list, ALPN http/1.1')
    t.match(r.stdout, /Verify return code: 0 \(ok\)/, 'the chain verifies against the lab CA')

    // The client prefers AES-256; the server's order (AES-128 first) must win.
    const ordered = await sClient(strict.port, '-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256')
    t.equal(summary(ordered.stdout).cipher, 'ECDHE-RSA-AES128-GCM-SHA256', 'honorCipherOrder: the server picks')

    const cbc = await sClient(strict.port, '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256')
    t.not(cbc.code, 0, 'CBC and static-RSA suites are refused')
    t.ok(strict.errors.includes('ERR_SSL_NO_SHARED_CIPHER'), 'the server found no shared cipher')

    const curve = await sClient(strict.port, '-tls1_2', '-groups', 'secp521r1')
    t.not(curve.code, 0, 'a curve outside X25519/P-256/P-384 is refused')
    const x25519 = await sClient(strict.port, '-tls1_2')
    t.match(x25519.stdout, /Server Temp Key: X25519/, 'X25519 is the preferred group')
  })

  t.test('TLS 1.3', async (t) => {
    const r = await sClient(strict.port, '-tls1_3')
    t.equal(r.code, 0, 's_client -tls1_3 succeeds')
    t.same(summary(r.stdout), { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'http/1.1' }, 'TLS 1.3, server order, ALPN http/1.1')
  })

  t.test('Node client negotiates http/1.1 by ALPN', async (t) => {
    const socket = tls.connect({ host: '127.0.0.1', port: strict.port, servername: 'webext.contoso.com', ca: lab.caPem, ALPNProtocols: ['h2', 'http/1.1'] })
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
    t.equal(socket.alpnProtocol, 'http/1.1', 'h2 is not offered, http/1.1 is chosen')
    t.equal(socket.getProtocol(), 'TLSv1.3', 'Node negotiates TLS 1.3')
    socket.destroy()
  })
})

t.test('handshake timeout (with closeFailedHandshakes) closes a silent connection', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-proto-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lab = await ensureLabCertificates({ dir, externalNames: ['webext.contoso.com'], internal: [] })
  const cert = await loadCertificate({ lab: true }, { baseDir: dir, lab })
  const { port, errors } = await startServer(t, { ...serverTlsProfile(300), ...cert.secureContextOptions })
  const started = Date.now()
  const raw = net.connect(port, '127.0.0.1')
  raw.on('error', () => { /* a reset is also a close */ })
  await new Promise<void>((resolve) => raw.once('close', () => resolve()))
  const elapsed = Date.now() - started
  t.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms (timeout 300 ms)`)
  t.ok(errors.includes('ERR_TLS_HANDSHAKE_TIMEOUT'), 'the server reports a handshake timeout')
})
