// lyncproxy lab --broken PRESET: the lab behind one classic reverse proxy mistake. The probe,
// which knows nothing of the presets, must fail each with that mistake's cause, and only with it
// (the clean lab passes the whole checklist: test/probe-lab.test.ts). Driven through the API
// (startLab({ broken })) and once through the command line.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startLab } from '../src/index.js'
import { runProbe, type ProbeResult } from '../src/probe/run.js'
import { runCli } from './helpers/cli.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-broken-'))
fs.chmodSync(work, 0o777)
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
const certsDir = path.join(work, 'certs')

async function probeBroken (t: Test, broken: string): Promise<ProbeResult[]> {
  const lab = await startLab({ certsDir, broken })
  t.teardown(() => lab.close())
  return await runProbe({ target: '127.0.0.1', httpPort: lab.http!.port, httpsPort: lab.https!.port, ca: lab.ca, user: 'user1@contoso.com', password: 'Pass@word1' })
}

const notPassed = (results: ProbeResult[]): string[] => results.filter((r) => r.result !== 'PASS').map((r) => `${r.result} ${r.check} ${r.name}`).sort()
const row = (results: ProbeResult[], check: string, name: string): ProbeResult | undefined => results.find((r) => r.check === check && r.name === name)

t.test('bridge-443: AccessLocation Internal, and the sign-in stops there', async (t) => {
  const results = await probeBroken(t, 'bridge-443')
  t.same(notPassed(results), [
    'FAIL access-location lyncdiscover.contoso.com',
    'FAIL access-location webdirext.contoso.com',
    'FAIL access-location webext.contoso.com',
    'SKIP ucwa-signin webext.contoso.com',
  ])
  t.match(row(results, 'access-location', 'webext.contoso.com')?.cause, /the proxy sends 443 to the pool's internal site; bridge to 4443/)
})

t.test('redirect-lyncdiscover: mobile clients that try HTTP first fail', async (t) => {
  const results = await probeBroken(t, 'redirect-lyncdiscover')
  t.same(notPassed(results), ['FAIL lyncdiscover-http lyncdiscover.contoso.com'])
  t.equal(row(results, 'lyncdiscover-http', 'lyncdiscover.contoso.com')?.cause, 'the rule redirects to HTTPS, so mobile clients that try HTTP first fail; forward it to the pool\'s 8080')
})

t.test('drop-host: meet and dialin no longer reach their pages', async (t) => {
  const results = await probeBroken(t, 'drop-host')
  const failed = notPassed(results)
  t.ok(failed.includes('FAIL meet meet.contoso.com') && failed.includes('FAIL dialin dialin.contoso.com'), `meet and dialin fail: ${failed.join('; ')}`)
  t.match(row(results, 'meet', 'meet.contoso.com')?.cause, /^the Host header was not forwarded: Lync routes meet and dialin by Host/)
  t.match(row(results, 'meet', 'meet.contoso.com')?.detail, /reached the server as Host dirpool\.contoso\.net/)
})

t.test('short-timeout: only the opt-in long poll sees it, cut at 60 s', async (t) => {
  const lab = await startLab({ certsDir, broken: 'short-timeout' })
  t.teardown(() => lab.close())
  const results = await runProbe({ target: '127.0.0.1', httpPort: lab.http!.port, httpsPort: lab.https!.port, ca: lab.ca, user: 'user1@contoso.com', password: 'Pass@word1', longPollSeconds: 70 })
  t.same(notPassed(results), ['FAIL long-poll webext.contoso.com'], 'everything else passes: a short poll never meets the timeout')
  const cut = row(results, 'long-poll', 'webext.contoso.com')
  t.match(cut?.detail, /^after 6[0-3] s of timeout=70: 504/)
  t.match(cut?.cause, /read\) timeout for \/ucwa is shorter than the event channel's/)
})

t.test('tls-offload: HTTPS to the pools\' 8080, and autodiscover answers only with a Redirect', async (t) => {
  const results = await probeBroken(t, 'tls-offload')
  t.same(notPassed(results), [
    'FAIL health-probe webdirext.contoso.com',
    'FAIL health-probe webext.contoso.com',
    'FAIL lyncdiscover-json lyncdiscover.contoso.com',
    'FAIL lyncdiscover-ucwa lyncdiscover.contoso.com',
    'FAIL lyncdiscover-xml lyncdiscover.contoso.com',
    'FAIL user-resource webext.contoso.com',
    'SKIP ucwa-signin webext.contoso.com',
  ])
  for (const r of results.filter((x) => x.result === 'FAIL')) t.match(r.cause, /^the proxy offloads TLS: it sends HTTPS requests to the pool's HTTP port \(8080\)/, `${r.check} ${r.name}: the offload is named`)
  t.match(row(results, 'lyncdiscover-json', 'lyncdiscover.contoso.com')?.detail, /only a Redirect link, to https:\/\/webdirext\.contoso\.com\/Autodiscover\/AutodiscoverService\.svc\/root, over HTTPS$/)
})

t.test('pool-ntlm: the NTLM handshake breaks, and the probe blames the pooling', async (t) => {
  const results = await probeBroken(t, 'pool-ntlm')
  t.same(notPassed(results), ['FAIL ntlm-handshake webext.contoso.com/abs/handler/'])
  const ntlm = row(results, 'ntlm-handshake', 'webext.contoso.com/abs/handler/')
  t.match(ntlm?.cause, /pool connection|connection pooling|reuses an authenticated upstream connection/, `the cause is the pooling (${ntlm?.detail ?? ''})`)
  t.notMatch(ntlm?.cause ?? '', /^either the credentials/, 'not the credentials')
})

t.test('the command line: lab --broken', async (t) => {
  const unknown = await runCli(['lab', '--broken', 'tls-everywhere'])
  t.equal(unknown.code, 64)
  t.match(unknown.stderr, /^LRP_ERR_USAGE: no preset called tls-everywhere\. Fix: use one of bridge-443, redirect-lyncdiscover, drop-host, short-timeout, tls-offload, pool-ntlm$/m)
  const help = await runCli(['lab', '--help'])
  t.match(help.stdout, /--broken PRESET .*bridge-443, redirect-lyncdiscover, drop-host, short-timeout, tls-offload, pool-ntlm\n/)
})
