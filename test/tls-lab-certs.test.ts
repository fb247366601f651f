// The lab PKI on disk: what is created, with which properties and permissions, and when it is
// reused or reissued.
import t, { type Test } from 'tap'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generate } from 'selfsigned'
import { LyncProxyError } from '../src/errors.js'
import { ensureLabCertificates, type LabCertificates } from '../src/tls/lab-certs.js'
import { run } from './helpers/run.js'

const EXTERNAL = ['webext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com', 'lyncdiscover.contoso.com']
const INTERNAL = [
  { id: 'fe', names: ['pool01.contoso.net', 'fe01.contoso.net'] },
  { id: 'dir', names: ['dirpool.contoso.net'] },
]
const DAY = 86_400_000
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'


const x509 = (pem: string): X509Certificate => new X509Certificate(pem)
const sans = (pem: string): string[] => (x509(pem).subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, '')).sort()
const mode = async (file: string): Promise<number> => (await stat(file)).mode & 0o777

async function tempDir (t: Test): Promise<string> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'lyncproxy-lab-'))
  t.teardown(() => rm(base, { recursive: true, force: true }))
  return path.join(base, 'certs')
}

t.test('first use creates the CA, the external and the internal certificates', async (t) => {
  const dir = await tempDir(t)
  const lab = await ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: INTERNAL })

  t.equal(await mode(dir), 0o700, 'the directory is created with mode 0700')
  t.equal(lab.caFile, path.join(dir, 'lab-ca.pem'))
  t.equal(await readFile(lab.caFile, 'utf8'), lab.caPem, 'caPem is what lab-ca.pem holds')
  for (const key of ['lab-ca.key', 'external.key', 'internal-fe.key', 'internal-dir.key']) {
    t.equal(await mode(path.join(dir, key)), 0o600, `${key} has mode 0600`)
  }
  t.same([...lab.internal.keys()], ['fe', 'dir'], 'one internal certificate per id')
  t.equal(lab.internal.get('fe')?.certFile, path.join(dir, 'internal-fe.pem'))
  t.equal(lab.internal.get('fe')?.keyFile, path.join(dir, 'internal-fe.key'))
  t.equal(lab.external.certFile, path.join(dir, 'external.pem'))

  const ca = x509(lab.caPem)
  t.ok(ca.ca, 'the CA certificate is a CA')
  t.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), 'the CA is self-signed')
  t.ok(ca.checkPrivateKey(createPrivateKey(await readFile(path.join(dir, 'lab-ca.key'), 'utf8'))), 'lab-ca.key is the CA key')
  t.ok(Date.parse(ca.validTo) - Date.parse(ca.validFrom) > 366 * DAY, 'the CA lives longer than its leaves')

  const leaves: Array<[string, { cert: string, key: string, certFile: string }, string[]]> = [
    ['external', lab.external, EXTERNAL],
    ...INTERNAL.map(({ id, names }): [string, { cert: string, key: string, certFile: string }, string[]] => [`internal ${id}`, lab.internal.get(id) as LabCertificates['external'], names]),
  ]
  for (const [what, leaf, names] of leaves) {
    const cert = x509(leaf.cert)
    t.equal(await readFile(leaf.certFile, 'utf8'), leaf.cert, `${what}: the returned PEM is the file`)
    t.same(sans(leaf.cert), [...names].sort(), `${what}: the SAN holds every name`)
    t.equal(cert.subject, `CN=${names[0]}`, `${what}: CN is the first name`)
    t.notOk(cert.ca, `${what}: not a CA`)
    t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), `${what}: signed by the lab CA`)
    t.ok(cert.checkPrivateKey(createPrivateKey(leaf.key)), `${what}: key matches`)
    t.ok(cert.keyUsage?.includes(SERVER_AUTH), `${what}: serverAuth EKU`)
    t.ok((cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048, `${what}: RSA key of 2048 bits or more`)
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY
    t.ok(days < 366 && days > 300, `${what}: valid for ${days} days`)

    // OpenSSL's own view: signature algorithm, and a verification with the server purpose.
    const text = await run('openssl', ['x509', '-noout', '-text'], leaf.cert)
    t.match(text.stdout, /Signature Algorithm: sha256WithRSAEncryption/, `${what}: sha256 signature`)
    t.match(text.stdout, /Public-Key: \((\d{4,}) bit\)/, `${what}: key size printed by openssl`)
    const verify = await run('openssl', ['verify', '-CAfile', lab.caFile, '-purpose', 'sslserver', leaf.certFile])
    t.equal(verify.code, 0, `${what}: openssl verify -purpose sslserver: ${verify.stdout.trim()} ${verify.stderr.trim()}`)
  }
  const caText = await run('openssl', ['x509', '-noout', '-text'], lab.caPem)
  t.match(caText.stdout, /Signature Algorithm: sha256WithRSAEncryption/, 'CA: sha256 signature')
  t.match(caText.stdout, /CA:TRUE/, 'CA: basic constraints CA:TRUE')
  t.match(caText.stdout, /Certificate Sign/, 'CA: may sign certificates')

  const manifest = JSON.parse(await readFile(path.join(dir, 'lab-certs.json'), 'utf8')) as { leaves: Record<string, { names: string[] }> }
  t.same(Object.keys(manifest.leaves).sort(), ['external', 'internal-dir', 'internal-fe'], 'the manifest records every leaf')
  t.same(manifest.leaves.external?.names, EXTERNAL, 'with the names it was issued for')
})

t.test('later calls reuse, and reissue only what changed', async (t) => {
  const dir = await tempDir(t)
  const first = await ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: INTERNAL })
  const fp = (pem: string): string => x509(pem).fingerprint256

  const second = await ensureLabCertificates({ dir, externalNames: [...EXTERNAL].reverse().map((n) => n.toUpperCase()), internal: INTERNAL })
  t.equal(fp(second.caPem), fp(first.caPem), 'the CA is reused')
  t.equal(fp(second.external.cert), fp(first.external.cert), 'the same set of names (other order, other case) reuses the external certificate')
  t.equal(second.external.key, first.external.key)
  t.equal(fp(second.internal.get('fe')?.cert ?? ''), fp(first.internal.get('fe')?.cert ?? ''), 'internal fe is reused')

  const more = [...EXTERNAL, 'officewebapps01.contoso.com']
  const third = await ensureLabCertificates({ dir, externalNames: more, internal: INTERNAL })
  t.equal(fp(third.caPem), fp(first.caPem), 'a name change keeps the CA')
  t.not(fp(third.external.cert), fp(first.external.cert), 'a name change reissues the external certificate')
  t.ok(sans(third.external.cert).includes('officewebapps01.contoso.com'), 'the new name is in the SAN')
  t.ok(x509(third.external.cert).verify(x509(first.caPem).publicKey), 'signed by the kept CA')
  t.equal(await readFile(third.external.certFile, 'utf8'), third.external.cert, 'the file on disk is the new certificate')
  t.equal(fp(third.internal.get('dir')?.cert ?? ''), fp(first.internal.get('dir')?.cert ?? ''), 'untouched internal certificates are kept')

  // A leaf that expires within 30 days is reissued, even though its names are right.
  const caKey = await readFile(path.join(dir, 'lab-ca.key'), 'utf8')
  const soon = await generate([{ name: 'commonName', value: 'pool01.contoso.net' }], {
    algorithm: 'sha256',
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 10 * DAY),
    ca: { key: caKey, cert: first.caPem },
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'pool01.contoso.net' }, { type: 2, value: 'fe01.contoso.net' }] }],
  })
  await writeFile(path.join(dir, 'internal-fe.pem'), soon.cert)
  await writeFile(path.join(dir, 'internal-fe.key'), soon.private, { mode: 0o600 })
  const fourth = await ensureLabCertificates({ dir, externalNames: more, internal: INTERNAL })
  const fe = x509(fourth.internal.get('fe')?.cert ?? '')
  t.not(fe.fingerprint256, x509(soon.cert).fingerprint256, 'an expiring leaf is reissued')
  t.ok(Date.parse(fe.validTo) - Date.now() > 300 * DAY, 'for a full period')
  t.equal(fp(fourth.external.cert), fp(third.external.cert), 'and the others are kept')

  // Without the CA key nothing can be trusted: everything starts over.
  await unlink(path.join(dir, 'lab-ca.key'))
  const fifth = await ensureLabCertificates({ dir, externalNames: more, internal: INTERNAL })
  t.not(fp(fifth.caPem), fp(first.caPem), 'a lost CA key gives a new CA')
  t.not(fp(fifth.external.cert), fp(fourth.external.cert), 'and a new external certificate')
  t.not(fp(fifth.internal.get('dir')?.cert ?? ''), fp(fourth.internal.get('dir')?.cert ?? ''), 'and new internal certificates')
  t.ok(x509(fifth.internal.get('dir')?.cert ?? '').verify(x509(fifth.caPem).publicKey), 'issued by the new CA')
  t.equal(await mode(path.join(dir, 'lab-ca.key')), 0o600, 'the new CA key has mode 0600')

  // A damaged CA file counts as missing. (No internal certificates this time, which also drops
  // them from the manifest.)
  await writeFile(path.join(dir, 'lab-ca.pem'), 'not a certificate\n')
  const sixth = await ensureLabCertificates({ dir, externalNames: more, internal: [] })
  t.not(fp(sixth.caPem), fp(fifth.caPem), 'an unreadable CA certificate gives a new CA')
  t.ok(x509(sixth.external.cert).verify(x509(sixth.caPem).publicKey), 'and the external certificate is reissued under it')
  const manifest = JSON.parse(await readFile(path.join(dir, 'lab-certs.json'), 'utf8')) as { leaves: Record<string, unknown> }
  t.same(Object.keys(manifest.leaves), ['external'], 'ids no longer configured leave the manifest')
})

t.test('concurrent calls for one directory share one CA', async (t) => {
  const dir = await tempDir(t)
  const [a, b] = await Promise.all([
    ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: [] }),
    ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: [] }),
  ])
  t.equal(a.caPem, b.caPem, 'both calls return the same CA')
  t.equal(a.external.cert, b.external.cert, 'and the same external certificate')
  t.equal(await readFile(path.join(dir, 'lab-ca.pem'), 'utf8'), a.caPem, 'which is the CA on disk')
  t.ok(x509(await readFile(a.external.certFile, 'utf8')).verify(x509(a.caPem).publicKey), 'the certificate on disk is signed by the CA on disk')
})

t.test('bad input is refused before anything is written', async (t) => {
  const dir = await tempDir(t)
  await t.rejects(ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: [{ id: '../escape', names: ['x.contoso.net'] }] }), LyncProxyError, 'an id that is not a plain name')
  await t.rejects(ensureLabCertificates({ dir, externalNames: EXTERNAL, internal: [{ id: 'fe', names: ['a.contoso.net'] }, { id: 'fe', names: ['b.contoso.net'] }] }), LyncProxyError, 'a repeated id')
  await t.rejects(ensureLabCertificates({ dir, externalNames: [], internal: [] }), LyncProxyError, 'no public names')
  await t.rejects(stat(dir), { code: 'ENOENT' }, 'the directory was not created')
})
