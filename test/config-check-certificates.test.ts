// `lyncproxy check` loads certificates as `start` does (the same loader in src/tls/load.ts): a PEM,
// key, PFX, passphrase or pool CA file that start could not use fails check with start's own line
// and exit 3, without binding or writing anything. Real files in a temp directory; start runs as a
// child process (test/helpers/cli.ts) to show that its message is the same.
import { createPrivateKey } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { runCheck, type CheckIO } from '../src/cli/check.js'
import { runCli } from './helpers/cli.js'
import { testCertificates } from './helpers/proxy.js'

async function check (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number, out: string, err: string }> {
  const captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env,
  }
  const code = await runCheck(argv, io)
  return { code, ...captured }
}

// An https listener with the given certificate entries, a pool trusting `ca`.
function config (o: { certificates: string, ca?: string, extra?: string }): string {
  return `admin:
  enabled: false
listeners:
  - name: web-https
    protocol: https
    address: 127.0.0.1
    port: 0
    certificates:
${o.certificates}
pools:
  fe:
    fqdn: pool01.contoso.net
    address: 127.0.0.1
    tls:
      ca: [${o.ca ?? '"ca.pem"'}]
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
${o.extra ?? ''}`
}

t.test('a missing certificate file: check fails with exit 3 and the line start prints', async (t) => {
  const certs = await testCertificates()
  const dir = t.testdir({
    'ca.pem': fs.readFileSync(certs.caFile, 'utf8'),
    'key.pem': certs.external.key,
    'missing-cert.yaml': config({ certificates: '      - { cert: webext.pem, key: key.pem }' }),
  })
  const file = path.join(dir, 'missing-cert.yaml')
  const [r, start] = await Promise.all([check(['-c', file]), runCli(['start', '-c', file])])
  t.equal(r.code, 3, 'exit 3, as start')
  t.equal(r.out, '', 'no OK')
  const certFile = path.join(dir, 'webext.pem')
  t.equal(r.err, `LRP_ERR_CERT_LOAD: ${certFile}: cannot read the certificate file ${certFile} (ENOENT). Fix: check the path; relative paths are resolved from ${dir}\n`)
  t.equal(start.code, 3, `start exits 3 too${start.code === 3 ? '' : ': ' + start.stderr}`)
  t.equal(start.stderr, r.err, 'with the same line')

  const skipped = await check(['-c', file, '--skip-certificates'])
  t.equal(skipped.code, 0, '--skip-certificates opens none')
  t.match(skipped.out, /^OK: /)
})

t.test('every listener\'s certificate problem is reported in one pass', async (t) => {
  const certs = await testCertificates()
  const dir = t.testdir({
    'ca.pem': fs.readFileSync(certs.caFile, 'utf8'),
    'cert.pem': certs.external.cert,
    // The certificate where the key should be: a classic swap.
    'two.yaml': config({
      certificates: '      - { cert: cert.pem, key: cert.pem }',
      extra: '',
    }).replace('pools:', `  - name: second-https
    protocol: https
    address: 127.0.0.1
    port: 0
    certificates:
      - { pfx: webext.pfx }
pools:`),
  })
  const r = await check(['-c', path.join(dir, 'two.yaml')])
  t.equal(r.code, 3)
  const lines = r.err.trimEnd().split('\n')
  t.equal(lines.length, 2, r.err)
  t.match(lines[0], `LRP_ERR_CERT_LOAD: ${path.join(dir, 'cert.pem')}: the key file ${path.join(dir, 'cert.pem')} holds a certificate, not a private key`)
  t.match(lines[1], `LRP_ERR_CERT_LOAD: ${path.join(dir, 'webext.pfx')}: cannot read the PFX file ${path.join(dir, 'webext.pfx')} (ENOENT)`)
})

t.test('passphrases come from the environment check is given, as at start', async (t) => {
  const certs = await testCertificates()
  const encrypted = createPrivateKey(certs.external.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string
  const dir = t.testdir({
    'ca.pem': fs.readFileSync(certs.caFile, 'utf8'),
    'cert.pem': certs.external.cert,
    'key.pem': encrypted,
    'pass.yaml': config({ certificates: '      - { cert: cert.pem, key: key.pem, passphraseEnv: WEBEXT_PASS }' }),
  })
  const file = path.join(dir, 'pass.yaml')
  const unset = await check(['-c', file])
  t.equal(unset.code, 3)
  t.match(unset.err, /^LRP_ERR_CERT_PASSPHRASE: .*environment variable WEBEXT_PASS, which is not set\. Fix: set WEBEXT_PASS/)
  const wrong = await check(['-c', file], { WEBEXT_PASS: 'battery staple' })
  t.equal(wrong.code, 3)
  t.match(wrong.err, /^LRP_ERR_CERT_LOAD: .*the passphrase from the environment variable WEBEXT_PASS does not decrypt the private key/)
  t.notMatch(wrong.err, 'battery staple', 'and never prints it')
  const right = await check(['-c', file], { WEBEXT_PASS: 'correct horse' })
  t.equal(right.code, 0, right.err)
  t.equal(right.out, `OK: ${file}: 1 listener, 1 pool, 1 rule\n`)
  t.equal(right.err, '')
})

t.test("a pool's CA file that start could not read fails check too", async (t) => {
  const certs = await testCertificates()
  const dir = t.testdir({
    'cert.pem': certs.external.cert,
    'key.pem': certs.external.key,
    'ca.yaml': config({ certificates: '      - { cert: cert.pem, key: key.pem }', ca: '"internal-ca.pem"' }),
  })
  const r = await check(['-c', path.join(dir, 'ca.yaml')])
  t.equal(r.code, 3)
  t.match(r.err, `LRP_ERR_CERT_LOAD: at /pools/fe/tls/ca: cannot read the CA file ${path.join(dir, 'internal-ca.pem')} of pool fe`)
  t.equal(r.out, '')
})

t.test('lab certificates: start creates them, so check neither opens nor creates them', async (t) => {
  const dir = t.testdir({})
  const certsDir = path.join(dir, 'not-yet')
  const file = path.join(dir, 'lab.yaml')
  fs.writeFileSync(file, config({ certificates: '      - lab: true', ca: 'lab', extra: `certs:\n  dir: ${JSON.stringify(certsDir)}\n` }))
  const r = await check(['-c', file])
  t.equal(r.code, 0, r.err)
  t.equal(r.err, '')
  t.notOk(fs.existsSync(certsDir), 'nothing was written')
})

t.test('the example deployment names files this machine lacks: exit 3, or 0 with --skip-certificates', async (t) => {
  const example = path.resolve('config/example-deployment.yaml')
  const r = await check(['-c', example])
  t.equal(r.code, 3)
  t.match(r.err, /^LRP_ERR_CERT_LOAD: \/etc\/lyncproxy\/webext\.contoso\.com\.pfx: cannot read the PFX file/)
  const skipped = await check(['-c', example, '--skip-certificates'])
  t.equal(skipped.code, 0, skipped.err)
  t.match(skipped.out, /^OK: .*example-deployment\.yaml: 2 listeners, 3 pools, 7 rules\n$/)
})
