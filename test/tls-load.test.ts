// PEM and lab certificates through loadCertificate, and the errors an operator meets with them.
import t, { type Test } from 'tap'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { LyncProxyError } from '../src/errors.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { loadCertificate } from '../src/tls/load.js'

const SECRET = 'Key-Secret-93b1e0'
const WRONG = 'Wrong-Secret-5c27aa'
const ENV = 'LYNCPROXY_TEST_KEY_PASS'

async function failure (t: Test, promise: Promise<unknown>): Promise<LyncProxyError> {
  try {
    await promise
  } catch (err) {
    t.type(err, LyncProxyError, 'a LyncProxyError')
    return err as LyncProxyError
  }
  t.fail('expected the load to fail')
  return new LyncProxyError('LRP_ERR_USAGE', 'did not fail')
}

function visible (err: LyncProxyError): string {
  return [err.message, err.fix, err.format(), String((err.cause as Error | undefined)?.message ?? '')].join('\n')
}

t.test('PEM and lab certificates', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-load-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lab = await ensureLabCertificates({
    dir,
    externalNames: ['webext.contoso.com', 'Meet.Contoso.com'],
    internal: [{ id: 'fe', names: ['pool01.contoso.net'] }],
  })

  t.test('lab: true', async (t) => {
    const c = await loadCertificate({ lab: true }, { baseDir: dir, lab })
    t.same(c.names, ['webext.contoso.com', 'meet.contoso.com'], 'lower-case SAN names')
    t.equal(c.source, `lab certificate ${lab.external.certFile}`)
    t.equal(c.notAfter.getTime(), Date.parse(new X509Certificate(lab.external.cert).validTo), 'notAfter')
    const err = await failure(t, loadCertificate({ lab: true }, { baseDir: dir }))
    t.equal(err.code, 'LRP_ERR_CERT_LOAD', 'without the lab certificates it fails')
  })

  t.test('PEM with a chain and an encrypted key', async (t) => {
    const encrypted = createPrivateKey(lab.internal.get('fe')?.key ?? '').export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: SECRET }) as string
    await writeFile(path.join(dir, 'fe-enc.key'), encrypted, { mode: 0o600 })
    const c = await loadCertificate(
      { cert: 'internal-fe.pem', key: 'fe-enc.key', chain: 'lab-ca.pem', passphraseEnv: ENV },
      { baseDir: dir, env: { [ENV]: SECRET } })
    t.same(c.names, ['pool01.contoso.net'])
    const cert = String(c.secureContextOptions.cert)
    t.equal(cert.match(/BEGIN CERTIFICATE/g)?.length, 2, 'the chain is appended to the certificate')
    t.ok(cert.indexOf((lab.internal.get('fe')?.cert ?? '').trim()) === 0, 'leaf first')
    t.notMatch(JSON.stringify(c.secureContextOptions), SECRET, 'the options hold a decrypted key, not the passphrase')
    t.notMatch(c.source, SECRET)
    t.match(c.source, path.join(dir, 'internal-fe.pem'))

    await writeFile(path.join(dir, 'secret.txt'), `${SECRET}\r\n`)
    const viaFile = await loadCertificate({ cert: 'internal-fe.pem', key: 'fe-enc.key', passphraseFile: 'secret.txt' }, { baseDir: dir, env: {} })
    t.same(viaFile.names, ['pool01.contoso.net'], 'passphrase file with CRLF')

    const wrong = await failure(t, loadCertificate({ cert: 'internal-fe.pem', key: 'fe-enc.key', passphraseEnv: ENV }, { baseDir: dir, env: { [ENV]: WRONG } }))
    t.equal(wrong.code, 'LRP_ERR_CERT_LOAD', 'a wrong passphrase is LRP_ERR_CERT_LOAD')
    t.match(wrong.message, path.join(dir, 'fe-enc.key'), 'naming the key file')
    t.match(wrong.message, ENV, 'and where the passphrase came from')
    t.notMatch(visible(wrong), WRONG, 'never the passphrase itself')

    const none = await failure(t, loadCertificate({ cert: 'internal-fe.pem', key: 'fe-enc.key' }, { baseDir: dir }))
    t.equal(none.code, 'LRP_ERR_CERT_LOAD', 'an encrypted key with no passphrase configured')
    t.match(none.fix, /passphraseEnv or passphraseFile/)

    const unset = await failure(t, loadCertificate({ cert: 'internal-fe.pem', key: 'fe-enc.key', passphraseEnv: ENV }, { baseDir: dir, env: {} }))
    t.equal(unset.code, 'LRP_ERR_CERT_PASSPHRASE', 'an unset variable')
  })

  t.test('operator mistakes', async (t) => {
    const mismatch = await failure(t, loadCertificate({ cert: 'external.pem', key: 'internal-fe.key' }, { baseDir: dir }))
    t.equal(mismatch.code, 'LRP_ERR_CERT_LOAD', 'a key of another certificate')
    t.match(mismatch.message, /does not belong/)
    t.match(mismatch.message, path.join(dir, 'internal-fe.key'))
    t.match(mismatch.message, path.join(dir, 'external.pem'))

    const missing = await failure(t, loadCertificate({ cert: 'gone.pem', key: 'external.key' }, { baseDir: dir }))
    t.equal(missing.code, 'LRP_ERR_CERT_LOAD', 'a missing file')
    t.match(missing.message, path.join(dir, 'gone.pem'))
    t.equal(missing.location.file, path.join(dir, 'gone.pem'), 'location names the file')
    t.match(missing.fix, dir, 'the fix says where relative paths start')

    await writeFile(path.join(dir, 'garbage.pem'), 'hello\n')
    const garbage = await failure(t, loadCertificate({ cert: 'garbage.pem', key: 'external.key' }, { baseDir: dir }))
    t.equal(garbage.code, 'LRP_ERR_CERT_LOAD', 'not PEM')
    t.match(garbage.message, /no PEM certificate/)

    const der = new X509Certificate(lab.external.cert).raw
    await writeFile(path.join(dir, 'external.der'), der)
    const derErr = await failure(t, loadCertificate({ cert: 'external.der', key: 'external.key' }, { baseDir: dir }))
    t.match(derErr.message, /DER/, 'DER is recognised')
    t.match(derErr.fix, /openssl x509 -inform der/, 'with the conversion command')

    const swapped = await failure(t, loadCertificate({ cert: 'external.key', key: 'external.pem' }, { baseDir: dir }))
    t.match(swapped.message, /private key, not a certificate/, 'cert and key swapped')

    const pem = await readFile(lab.external.certFile, 'utf8')
    const lines = pem.trim().split('\n')
    lines.splice(3, 2)
    await writeFile(path.join(dir, 'damaged.pem'), lines.join('\n') + '\n')
    const damaged = await failure(t, loadCertificate({ cert: 'damaged.pem', key: 'external.key' }, { baseDir: dir }))
    t.equal(damaged.code, 'LRP_ERR_CERT_LOAD', 'a damaged PEM block')
    t.match(damaged.message, path.join(dir, 'damaged.pem'))
  })
})
