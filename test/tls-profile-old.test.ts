// listeners[].tlsProfile: old, for the Lync clients a fleet still has (Lync Phone Edition: TLS 1.0
// only; Windows 7: no ECDHE-RSA with GCM). openssl s_client is the old client here: it gets in on a
// listener with the old profile, and is refused on one with the default; `check` warns about old.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { stringify } from 'yaml'
import { startProxy } from '../src/index.js'
import { runCli } from './helpers/cli.js'

const run = promisify(execFile)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-tls-old-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))

const config = {
  certs: { dir: path.join(work, 'certs') },
  listeners: [
    { name: 'modern', protocol: 'https' as const, address: '127.0.0.1', port: 0, certificates: [{ lab: true as const }] },
    { name: 'phones', protocol: 'https' as const, address: '127.0.0.1', port: 0, certificates: [{ lab: true as const }], tlsProfile: 'old' as const },
  ],
  pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: 9, httpsPort: 9 } },
  rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward' as const, pool: 'fe' }],
}

// What an old client negotiates, or why it could not.
async function handshake (port: number, version: '-tls1' | '-tls1_1', cipher: string): Promise<string> {
  const r = await run('sh', ['-c', `echo | openssl s_client -connect 127.0.0.1:${port} -servername webext.contoso.com ${version} -cipher '${cipher}:@SECLEVEL=0' 2>&1`], { encoding: 'utf8', timeout: 20_000 })
    .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  // A refused handshake still prints a session block (with the version the client asked for), but
  // its cipher is (NONE).
  const negotiated = /Cipher is (\S+)/.exec(r.stdout)?.[1]
  if (negotiated === undefined || negotiated === '(NONE)') return 'refused'
  return /^\s*Protocol\s*:\s*(\S+)/m.exec(r.stdout)?.[1] ?? 'unknown'
}

t.test('TLS 1.0 and Windows 7\'s suites: accepted with tlsProfile old, refused by default', async (t) => {
  const proxy = await startProxy(config, { baseDir: work })
  t.teardown(() => proxy.close(0))
  const port = (name: string): number => proxy.listeners.find((l) => l.name === name)!.port
  t.equal(await handshake(port('phones'), '-tls1', 'AES128-SHA'), 'TLSv1', 'Lync Phone Edition\'s TLS 1.0 gets in on the old profile')
  t.equal(await handshake(port('phones'), '-tls1_1', 'ECDHE-RSA-AES128-SHA'), 'TLSv1.1', 'and a TLS 1.1 CBC client')
  t.equal(await handshake(port('modern'), '-tls1', 'AES128-SHA'), 'refused', 'the default profile still refuses TLS 1.0')
  t.equal(await handshake(port('modern'), '-tls1_1', 'ECDHE-RSA-AES128-SHA'), 'refused', 'and TLS 1.1')
})

t.test('lyncproxy check warns about the old profile, with the reason', async (t) => {
  const file = path.join(work, 'old.yaml')
  fs.writeFileSync(file, stringify(config))
  const r = await runCli(['check', '-c', file])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout + r.stderr, /tls-old-profile/)
  t.match(r.stdout + r.stderr, /listener phones accepts TLS 1\.0 and 1\.1 and CBC suites \(tlsProfile: old\)/)
})
