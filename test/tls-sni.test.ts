// SNI selection against real sockets: Node's TLS client and `openssl s_client` must each receive the
// certificate whose SAN covers the name they asked for, verified against the lab CA.
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { loadCertificate, type LoadedCertificate } from '../src/tls/load.js'
import { serverTlsProfile } from '../src/tls/profile.js'
import { createSniSelector } from '../src/tls/sni.js'
import { run } from './helpers/run.js'

const SITE_NAMES = ['webext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com']


function sanOf (cert: LoadedCertificate | tls.PeerCertificate): string[] {
  if ('names' in cert) return [...cert.names].sort()
  return new X509Certificate(cert.raw).subjectAltName?.split(', ').map((s) => s.replace(/^DNS:/, '')).sort() ?? []
}

t.test('SNI selection on a live TLS server', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-sni-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  // The lab issuer mints every certificate here, so all of them chain to one CA the clients trust.
  const lab = await ensureLabCertificates({
    dir,
    externalNames: SITE_NAMES,
    internal: [
      { id: 'discover', names: ['lyncdiscover.contoso.com'] },
      { id: 'wild', names: ['*.fabrikam.com'] },
    ],
  })
  const ctx = { baseDir: dir, lab }
  const site = await loadCertificate({ lab: true }, ctx)
  const discover = await loadCertificate({ cert: 'internal-discover.pem', key: 'internal-discover.key' }, ctx)
  const wild = await loadCertificate({ cert: 'internal-wild.pem', key: 'internal-wild.key' }, ctx)
  t.same(sanOf(site), [...SITE_NAMES].sort(), 'the site certificate covers its three names')
  t.same(discover.names, ['lyncdiscover.contoso.com'])
  t.same(wild.names, ['*.fabrikam.com'])

  const sni = createSniSelector([site, discover, wild])
  const server = tls.createServer({
    ...serverTlsProfile(),
    ...sni.defaultCertificate.secureContextOptions,
    SNICallback: sni.SNICallback,
  }, (socket) => {
    // Tells the client what the server saw, so a test can tell "no SNI" from "SNI ignored". The
    // client closes first: a server-side close races s_client's own and can look like a truncation.
    socket.on('error', () => { /* a client that resets is not a failure here */ })
    socket.on('end', () => socket.end())
    socket.write(`servername=${String(socket.servername)}\n`)
  })
  const open = new Set<import('node:net').Socket>()
  server.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of open) s.destroy()
    server.close(() => resolve())
  }))
  const port = (server.address() as AddressInfo).port

  // Real verification: the lab CA as the only trust anchor, and the name checked by Node itself
  // (against servername) unless `identity` names what the certificate must cover instead.
  function nodeClient (servername: string | undefined, identity?: string): Promise<tls.PeerCertificate & { seen: string }> {
    return new Promise((resolve, reject) => {
      let seen = ''
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: lab.caPem,
        ...(servername === undefined ? {} : { servername }),
        ...(identity === undefined ? {} : { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(identity, cert) }),
      })
      socket.setEncoding('utf8').on('data', (d: string) => {
        seen += d
        if (!seen.endsWith('\n')) return
        const cert = socket.getPeerCertificate()
        socket.destroy()
        resolve(Object.assign(cert, { seen: seen.trim() }))
      })
      socket.on('error', reject)
    })
  }

  t.test('Node client', async (t) => {
    for (const name of SITE_NAMES) {
      t.same(sanOf(await nodeClient(name)), [...SITE_NAMES].sort(), `${name} gets the site SAN certificate`)
    }
    t.same(sanOf(await nodeClient('lyncdiscover.contoso.com')), ['lyncdiscover.contoso.com'], 'lyncdiscover gets its own certificate')
    t.same(sanOf(await nodeClient('LyncDiscover.Contoso.COM')), ['lyncdiscover.contoso.com'], 'SNI is matched case-insensitively')
    t.same(sanOf(await nodeClient('meet.fabrikam.com')), ['*.fabrikam.com'], 'one label under the wildcard gets the wildcard certificate')

    const noSni = await nodeClient(undefined, 'webext.contoso.com')
    t.same(sanOf(noSni), [...SITE_NAMES].sort(), 'no SNI gets the first certificate')
    t.equal(noSni.seen, 'servername=false', 'the client really sent no SNI')
    t.equal((await nodeClient('meet.contoso.com')).seen, 'servername=meet.contoso.com', 'and with SNI the server sees the name')
    t.same(sanOf(await nodeClient('a.b.fabrikam.com', 'webext.contoso.com')), [...SITE_NAMES].sort(), 'two labels under the wildcard fall back to the default')
    t.same(sanOf(await nodeClient('fabrikam.com', 'webext.contoso.com')), [...SITE_NAMES].sort(), 'the wildcard does not cover its own parent')

    // The default certificate does not cover an unknown name, so a verifying client refuses it.
    await t.rejects(nodeClient('unknown.contoso.com'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'an unknown name is refused by a verifying client')
  })

  t.test('openssl s_client', async (t) => {
    async function opensslSan (servername: string | undefined): Promise<string> {
      const client = await run('openssl', [
        's_client', '-connect', `127.0.0.1:${port}`,
        ...(servername === undefined ? ['-noservername'] : ['-servername', servername, '-verify_hostname', servername]),
        '-CAfile', lab.caFile, '-verify_return_error',
      ])
      t.equal(client.code, 0, `s_client ${servername ?? '(no SNI)'} exits 0: ${client.stderr.trim().split('\n').slice(-1)[0] ?? ''}`)
      t.match(client.stdout, /Verify return code: 0 \(ok\)/, 'the chain verifies against the lab CA')
      const x509 = await run('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], client.stdout)
      t.equal(x509.code, 0, 'openssl x509 reads the presented certificate')
      return x509.stdout.split('\n').slice(1).join('').trim()
    }

    t.equal(await opensslSan('webext.contoso.com'), 'DNS:webext.contoso.com, DNS:meet.contoso.com, DNS:dialin.contoso.com')
    t.equal(await opensslSan('dialin.contoso.com'), 'DNS:webext.contoso.com, DNS:meet.contoso.com, DNS:dialin.contoso.com')
    t.equal(await opensslSan('lyncdiscover.contoso.com'), 'DNS:lyncdiscover.contoso.com')
    t.equal(await opensslSan('owa.fabrikam.com'), 'DNS:*.fabrikam.com')
    t.equal(await opensslSan(undefined), 'DNS:webext.contoso.com, DNS:meet.contoso.com, DNS:dialin.contoso.com')
  })

  t.test('SNICallback itself', async (t) => {
    const pick = (name: string): Promise<tls.SecureContext | undefined> => new Promise((resolve, reject) => {
      sni.SNICallback(name, (err, ctx) => { if (err) reject(err); else resolve(ctx) })
    })
    t.equal(await pick('Meet.Contoso.com.'), site.secureContext, 'case and trailing dot are ignored')
    t.equal(await pick('lyncdiscover.contoso.com'), discover.secureContext)
    t.equal(await pick('x.fabrikam.com'), wild.secureContext)
    t.equal(await pick('nothing.example'), sni.defaultContext, 'unknown names get the default context')
    t.equal(sni.defaultContext, site.secureContext, 'the default is the first certificate')
  })

  t.test('covers()', async (t) => {
    t.ok(sni.covers('webext.contoso.com', 'meet.contoso.com'), 'one SAN certificate covers its sibling names')
    t.notOk(sni.covers('webext.contoso.com', 'lyncdiscover.contoso.com'), 'SNI webext and Host lyncdiscover name different certificates')
    t.ok(sni.covers('lyncdiscover.contoso.com', 'lyncdiscover.contoso.com'), 'exact')
    t.notOk(sni.covers('lyncdiscover.contoso.com', 'webext.contoso.com'))
    t.ok(sni.covers('meet.fabrikam.com', 'dialin.fabrikam.com'), 'wildcard covers another one-label name')
    t.notOk(sni.covers('meet.fabrikam.com', 'a.b.fabrikam.com'), 'wildcard does not cover two labels')
    t.notOk(sni.covers('meet.fabrikam.com', 'fabrikam.com'), 'wildcard does not cover its parent')
    t.ok(sni.covers(undefined, 'dialin.contoso.com'), 'no SNI: the default certificate decides')
    t.ok(sni.covers(false, 'webext.contoso.com'), 'no SNI (false, as tls.TLSSocket reports it)')
    t.notOk(sni.covers(false, 'lyncdiscover.contoso.com'))
    t.ok(sni.covers('unknown.contoso.com', 'webext.contoso.com'), 'an unknown SNI gets the default certificate, which covers webext')
    t.notOk(sni.covers('unknown.contoso.com', 'unknown.contoso.com'), 'and not the unknown name itself')
    t.ok(sni.covers('WEBEXT.contoso.com.', 'webext.contoso.com'), 'SNI is normalized')
  })
})

t.test('selector rules without sockets', async (t) => {
  const fake = (names: string[], id: number): LoadedCertificate => ({
    source: `fake ${id}`,
    secureContextOptions: {},
    names,
    notAfter: new Date(0),
    secureContext: { context: id } as unknown as tls.SecureContext,
  })
  const a = fake(['*.contoso.com'], 1)
  const b = fake(['meet.contoso.com', 'contoso.com'], 2)
  const c = fake(['meet.contoso.com', '*.com'], 3)
  const sni = createSniSelector([a, b, c])
  const pick = (name: string): tls.SecureContext | undefined => {
    let got: tls.SecureContext | undefined
    sni.SNICallback(name, (_err, ctx) => { got = ctx })
    return got
  }
  t.equal(pick('meet.contoso.com'), b.secureContext, 'an exact name beats a wildcard listed earlier')
  t.equal(pick('dialin.contoso.com'), a.secureContext, 'the wildcard answers other one-label names')
  t.equal(pick('contoso.com'), b.secureContext, 'the bare domain needs its own SAN entry')
  t.equal(pick('example.com'), a.secureContext, 'a wildcard right under a TLD is ignored')
  t.notOk(sni.covers('example.com', 'example.com'))
  t.throws(() => createSniSelector([]), RangeError)
})
