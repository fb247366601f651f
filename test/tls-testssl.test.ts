// The TLS profile as an auditor sees it: testssl.sh (Debian package testssl.sh, command `testssl`)
// against the https listener, with the lab CA added as a trust anchor, for webext and lyncdiscover.
// The JSON is gated: nothing at LOW or above (nor a scan WARN/FATAL) beyond the allowlist below,
// and the profile's promises are asserted one by one.
//
// Time: about 35–45 s on 2 cores. Protocols, ciphers, forward secrecy, preferences and the
// vulnerability checks depend on the server, not on the name, so they run once (webext, the long
// run); lyncdiscover gets the per-name checks (server defaults: the certificate and its trust) and
// the HTTP headers (HSTS), in parallel with it.
//
// testssl's own `--severity LOW` would drop the OK/INFO entries from the JSON, and those carry what
// is asserted below (TLS1 not offered, the SAN, the trust); the same LOW filter is applied here.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const run = promisify(execFile)

// Findings at LOW or above that are accepted, each for a reason that holds for a lab:
const ALLOWLIST: Record<string, string> = {
  // HIGH "Neither CRL nor OCSP URI provided": the lab CA is a private CA made by `lyncproxy certs`;
  // it publishes no CRL and runs no OCSP responder, so its certificates carry neither. A production
  // certificate from a public or enterprise CA has them.
  cert_revocation: 'the lab CA publishes no CRL and runs no OCSP responder',
  // MEDIUM "--": X-Frame-Options, Content-Security-Policy, X-Content-Type-Options and the like are
  // the application's to send (the Lync/IIS web components); the proxy relays them unchanged and
  // invents none. The test upstream sends none. HSTS, the one the proxy owns, is checked below.
  security_headers: 'application security headers come from the Lync web servers, not the proxy',
}
// WARN is not a finding but a check testssl could not complete. One is known to race on a busy
// machine: session resumption over TLS 1.3 (s_client may exit before the server's ticket arrives
// and then reports "connect problem"). WARNs are listed in the output, not gated; everything the
// gate is about is asserted explicitly below. FATAL (the scan gave up) fails.
const GATED = new Set(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'FATAL'])
const HSTS_MAX_AGE = 63072000

interface Finding { id: string, severity: string, finding: string }

function findTestssl (): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    for (const name of ['testssl', 'testssl.sh']) {
      const p = path.join(dir, name)
      if (fs.existsSync(p)) return p
    }
  }
  return undefined
}

const testssl = findTestssl()

t.test('testssl.sh against the https listener', { skip: testssl === undefined ? 'testssl is not installed (Debian package testssl.sh)' : false }, async (t) => {
  if (testssl === undefined) return
  const certs = await testCertificates()
  const upstream = await startUpstream(undefined, certs.internal.get('fe'))
  const p = await startTestProxy({
    pools: { fe: pool(upstream.port) },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com', 'lyncdiscover.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-https'], hstsMaxAge: HSTS_MAX_AGE }],
  })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-testssl-'))
  t.teardown(async () => { await p.close(); await upstream.close(); fs.rmSync(dir, { recursive: true, force: true }) })

  // Must not block: the proxy under test runs in this process.
  const scan = async (host: string, checks: string[]): Promise<Finding[]> => {
    const json = path.join(dir, `${host}.json`)
    const args = ['--quiet', '--color', '0', '--warnings', 'off', '-n', 'none', '--ip', '127.0.0.1', '--add-ca', certs.caFile, '--jsonfile', json, ...checks, `https://${host}:${p.httpsPort}`]
    // Its exit status says nothing about findings; the JSON does.
    await run(testssl, args, { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }).catch(() => undefined)
    return fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) as Finding[] : []
  }
  const started = performance.now()
  const [webext, lyncdiscover] = await Promise.all([
    scan('webext.contoso.com', ['-p', '-s', '-f', '-S', '-P', '-U']),
    scan('lyncdiscover.contoso.com', ['-S', '-h']),
  ])
  t.comment(`testssl took ${Math.round((performance.now() - started) / 1000)} s`)
  const get = (list: Finding[], id: string): Finding | undefined => list.find((f) => f.id === id)

  for (const [host, findings] of [['webext.contoso.com', webext], ['lyncdiscover.contoso.com', lyncdiscover]] as const) {
    t.ok(findings.length > 10, `${host}: a JSON report`)
    const flagged = findings.filter((f) => GATED.has(f.severity) && ALLOWLIST[f.id] === undefined)
    t.same(flagged.map((f) => `${f.id} ${f.severity}: ${f.finding}`), [], `${host}: nothing at LOW or above beyond the allowlist`)
    for (const f of findings.filter((x) => x.severity === 'WARN')) t.comment(`${host}: testssl could not complete ${f.id}: ${f.finding}`)
    // The certificate served for this name covers it and is trusted through the lab CA.
    t.equal(get(findings, 'cert_chain_of_trust')?.severity, 'OK', `${host}: chain of trust OK with --add-ca`)
    t.match(get(findings, 'cert_trust')?.finding ?? '', /^Ok via SAN/, `${host}: trust (hostname) OK via SAN`)
    t.ok((get(findings, 'cert_subjectAltName')?.finding ?? '').split(/\s+/).includes(host), `${host}: the served certificate's SAN names it`)
    t.equal(get(findings, 'cert_expirationStatus')?.severity, 'OK', `${host}: not near expiry`)
  }

  for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) t.match(get(webext, id)?.finding, /^not offered/, `${id} not offered`)
  for (const id of ['TLS1_2', 'TLS1_3']) t.match(get(webext, id)?.finding, /^offered/, `${id} offered`)
  for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE']) {
    t.match(get(webext, id)?.finding, /^not offered/, `${id} not offered`)
  }
  t.match(get(webext, 'cipherlist_STRONG')?.finding, /^offered/, 'AEAD ciphers offered')
  t.match(get(webext, 'PFS')?.finding, /^offered/, 'forward secrecy offered')
  const curves = (get(webext, 'PFS_ECDHE_curves')?.finding ?? '').split(/\s+/)
  t.same(curves.sort(), ['X25519', 'prime256v1', 'secp384r1'], 'curves X25519, P-256, P-384 and no others')
  t.equal(get(webext, 'cipher_order')?.finding, 'server', 'server cipher order')
  t.equal(get(webext, 'ALPN')?.finding, 'http/1.1', 'ALPN http/1.1 only')
  const vulnerabilities = ['heartbleed', 'CCS', 'ticketbleed', 'ROBOT', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'BREACH', 'POODLE_SSL', 'fallback_SCSV', 'SWEET32', 'FREAK', 'DROWN', 'LOGJAM', 'BEAST', 'LUCKY13', 'RC4']
  t.same(vulnerabilities.filter((id) => get(webext, id)?.severity !== 'OK'), [], 'every vulnerability check ran and is OK')
  t.equal(get(lyncdiscover, 'HSTS_time')?.severity, 'OK', `HSTS max-age ${HSTS_MAX_AGE}`)
})
