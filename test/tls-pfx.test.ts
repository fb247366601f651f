// PFX files as Windows admins export them: made here with `openssl pkcs12 -export`, loaded with the
// passphrase from the environment or a file, served over real TLS; and the failures, whose messages
// must never reveal the passphrase.
import t, { type Test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { LyncProxyError } from '../src/errors.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { loadCertificate } from '../src/tls/load.js'
import { closeFailedHandshakes, serverTlsProfile } from '../src/tls/profile.js'
import { createSniSelector } from '../src/tls/sni.js'
import { run } from './helpers/run.js'

const NAMES = ['webext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com']
const PASS = 'Pfx-Pass-7f3a9c'
const WRONG = 'Not-The-Pass-41d2'
const ENV = 'LYNCPROXY_TEST_PFX_PASS'


// Everything an operator could see or a logger could print.
function visible (err: unknown): string {
  const e = err as LyncProxyError
  return [e.message, e.fix, e.format(), JSON.stringify(e.location), String((e.cause as Error | undefined)?.message ?? '')].join('\n')
}

async function loadError (t: Test, promise: Promise<unknown>): Promise<LyncProxyError> {
  try {
    await promise
  } catch (err) {
    t.type(err, LyncProxyError, 'a LyncProxyError')
    return err as LyncProxyError
  }
  t.fail('expected the load to fail')
  return new LyncProxyError('LRP_ERR_USAGE', 'did not fail')
}

t.test('PFX', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-pfx-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lab = await ensureLabCertificates({ dir, externalNames: NAMES, internal: [] })

  // OpenSSL 3's default export (AES-256-CBC, PBKDF2, SHA-256 MAC) is what current Windows writes
  // with "AES256-SHA256"; 3DES/SHA-1 is the "TripleDES-SHA1" choice of older Windows.
  const pfxFile = path.join(dir, 'webext.pfx')
  const exported = await run('openssl', ['pkcs12', '-export', '-in', lab.external.certFile, '-inkey', lab.external.keyFile,
    '-certfile', lab.caFile, '-name', 'webext', '-passout', `pass:${PASS}`, '-out', pfxFile])
  t.equal(exported.code, 0, `openssl pkcs12 -export: ${exported.stderr.trim()}`)
  const desFile = path.join(dir, 'webext-3des.pfx')
  const des = await run('openssl', ['pkcs12', '-export', '-in', lab.external.certFile, '-inkey', lab.external.keyFile,
    '-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-passout', `pass:${PASS}`, '-out', desFile])
  t.equal(des.code, 0, 'openssl pkcs12 -export with 3DES/SHA-1')
  await writeFile(path.join(dir, 'pass.txt'), `${PASS}\n`, { mode: 0o600 })

  const fromEnv = await loadCertificate({ pfx: 'webext.pfx', passphraseEnv: ENV }, { baseDir: dir, env: { [ENV]: PASS } })
  t.same([...fromEnv.names].sort(), [...NAMES].sort(), 'SAN names read from the PFX')
  t.equal(fromEnv.source, `PFX file ${pfxFile}`, 'source names the file')
  t.notMatch(fromEnv.source, PASS, 'source never holds the passphrase')
  t.ok(fromEnv.notAfter.getTime() > Date.now() + 300 * 86_400_000, 'notAfter from the certificate')

  const fromFile = await loadCertificate({ pfx: pfxFile, passphraseFile: 'pass.txt' }, { baseDir: dir, env: {} })
  t.same([...fromFile.names].sort(), [...NAMES].sort(), 'passphrase from a file (trailing newline trimmed)')
  const fallback = await loadCertificate({ pfx: 'webext.pfx', passphraseEnv: ENV, passphraseFile: 'pass.txt' }, { baseDir: dir, env: {} })
  t.same([...fallback.names].sort(), [...NAMES].sort(), 'with both configured and the variable unset, the file is used')
  const tripleDes = await loadCertificate({ pfx: 'webext-3des.pfx', passphraseEnv: ENV }, { baseDir: dir, env: { [ENV]: PASS } })
  t.same([...tripleDes.names].sort(), [...NAMES].sort(), 'a 3DES/SHA-1 PFX loads too')

  t.test('serves TLS', async (t) => {
    const sni = createSniSelector([fromEnv])
    const server = tls.createServer({ ...serverTlsProfile(), ...sni.defaultCertificate.secureContextOptions, SNICallback: sni.SNICallback }, (s) => {
      // The client closes first: a server-side close races s_client's own and can look like a truncation.
      s.on('error', () => { /* a client that resets is not a failure here */ })
      s.on('end', () => s.end())
    })
    closeFailedHandshakes(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const open = new Set<import('node:net').Socket>()
    server.on('connection', (c) => { open.add(c); c.on('close', () => open.delete(c)) })
    t.teardown(() => new Promise<void>((resolve) => {
      for (const c of open) c.destroy()
      server.close(() => resolve())
    }))
    const port = (server.address() as AddressInfo).port
    for (const servername of ['meet.contoso.com', undefined]) {
      const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          ca: lab.caPem,
          ...(servername === undefined
            ? { checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity('dialin.contoso.com', cert) }
            : { servername }),
        }, () => { const c = socket.getPeerCertificate(); socket.destroy(); resolve(c) })
        socket.on('error', reject)
      })
      t.equal(peer.subjectaltname, 'DNS:webext.contoso.com, DNS:meet.contoso.com, DNS:dialin.contoso.com', `the PFX certificate is served (${servername ?? 'no SNI'}) and verifies against the lab CA`)
    }
    const sClient = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'dialin.contoso.com',
      '-verify_hostname', 'dialin.contoso.com', '-CAfile', lab.caFile, '-verify_return_error'])
    t.equal(sClient.code, 0, 'openssl s_client verifies the chain and the name')
    t.match(sClient.stdout, /Verify return code: 0 \(ok\)/)
  })

  t.test('wrong passphrase', async (t) => {
    for (const [how, cfg, env] of [
      ['environment', { pfx: 'webext.pfx', passphraseEnv: ENV }, { [ENV]: WRONG }],
      ['file', { pfx: 'webext.pfx', passphraseFile: 'wrong.txt' }, {}],
    ] as const) {
      await writeFile(path.join(dir, 'wrong.txt'), WRONG)
      const err = await loadError(t, loadCertificate(cfg, { baseDir: dir, env }))
      t.equal(err.code, 'LRP_ERR_CERT_LOAD', `${how}: LRP_ERR_CERT_LOAD`)
      t.match(err.message, pfxFile, `${how}: the message names the file`)
      t.match(err.message, /passphrase/, `${how}: and says the passphrase is the problem`)
      t.notMatch(visible(err), WRONG, `${how}: the wrong passphrase appears nowhere`)
      t.notMatch(visible(err), PASS, `${how}: nor the right one`)
    }
  })

  t.test('missing passphrase source', async (t) => {
    const noEnv = await loadError(t, loadCertificate({ pfx: 'webext.pfx', passphraseEnv: ENV }, { baseDir: dir, env: {} }))
    t.equal(noEnv.code, 'LRP_ERR_CERT_PASSPHRASE', 'an unset variable is LRP_ERR_CERT_PASSPHRASE')
    t.match(noEnv.message, ENV, 'naming the variable')
    const noFile = await loadError(t, loadCertificate({ pfx: 'webext.pfx', passphraseFile: 'absent.txt' }, { baseDir: dir, env: {} }))
    t.equal(noFile.code, 'LRP_ERR_CERT_PASSPHRASE', 'a missing file is LRP_ERR_CERT_PASSPHRASE')
    t.match(noFile.message, path.join(dir, 'absent.txt'), 'naming the file')
    const none = await loadError(t, loadCertificate({ pfx: 'webext.pfx' }, { baseDir: dir, env: {} }))
    t.equal(none.code, 'LRP_ERR_CERT_LOAD', 'a protected PFX without any passphrase configured')
    t.match(none.fix, /passphraseEnv or passphraseFile/, 'says how to configure one')
  })

  t.test('legacy RC2 PFX', async (t) => {
    const legacyFile = path.join(dir, 'legacy.pfx')
    const legacy = await run('openssl', ['pkcs12', '-export', '-legacy', '-in', lab.external.certFile, '-inkey', lab.external.keyFile,
      '-passout', `pass:${PASS}`, '-out', legacyFile])
    if (legacy.code !== 0) {
      t.pass(`skipped: this openssl cannot write legacy PFX files (${legacy.stderr.trim()})`)
      return
    }
    // Node's bundled OpenSSL 3 does not load the legacy provider unless started with
    // --openssl-legacy-provider; either it loads, or the error says how to convert the file.
    try {
      const loaded = await loadCertificate({ pfx: 'legacy.pfx', passphraseEnv: ENV }, { baseDir: dir, env: { [ENV]: PASS } })
      t.same([...loaded.names].sort(), [...NAMES].sort(), 'loaded (legacy provider available)')
    } catch (err) {
      t.type(err, LyncProxyError)
      t.equal((err as LyncProxyError).code, 'LRP_ERR_CERT_LOAD')
      t.match((err as LyncProxyError).message, /legacy/, 'the message says the encryption is legacy')
      t.match((err as LyncProxyError).fix, /AES256/, 'and the fix says how to re-export')
      t.notMatch(visible(err), PASS, 'without the passphrase')
    }
  })

  t.test('not a PFX', async (t) => {
    const err = await loadError(t, loadCertificate({ pfx: lab.external.certFile, passphraseEnv: ENV }, { baseDir: dir, env: { [ENV]: PASS } }))
    t.equal(err.code, 'LRP_ERR_CERT_LOAD')
    t.match(err.message, /PEM file, not PFX/, 'a PEM file given as pfx is recognised')
    const missing = await loadError(t, loadCertificate({ pfx: 'nope.pfx' }, { baseDir: dir }))
    t.equal(missing.code, 'LRP_ERR_CERT_LOAD')
    t.match(missing.message, path.join(dir, 'nope.pfx'), 'an unreadable PFX names the file')
    t.match(missing.message, /ENOENT/)
  })
})
