// `lyncproxy check`: exit codes and what it prints, run in-process with captured output.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runCheck, type CheckIO } from '../src/cli/check.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LAB = path.join(root, 'config/lab.yaml')

interface Captured { out: string, err: string }

async function check (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured & { code: number }> {
  const captured: Captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env,
  }
  const code = await runCheck(argv, io)
  return { code, ...captured }
}

t.test('valid configs: exit 0 and a summary', async (t) => {
  const lab = await check(['-c', LAB])
  t.equal(lab.code, 0)
  t.equal(lab.out, `OK: ${LAB}: 6 listeners, 4 pools, 8 rules\n`)
  t.equal(lab.err, '')

  // Its certificate and CA files are the deployment's (/etc/lyncproxy): see config-check-certificates.
  const example = path.join(root, 'config/example-deployment.yaml')
  const ex = await check(['--config', example, '--skip-certificates'])
  t.equal(ex.code, 0)
  t.match(ex.out, /^OK: .*example-deployment\.yaml: 2 listeners, 3 pools, 7 rules\n$/)
})

t.test('invalid config: exit 2, every error on stderr, nothing on stdout', async (t) => {
  const dir = t.testdir({
    'bad.yaml': `listeners:
  - name: web
    protocol: http
    address: 127.0.0.1
    port: abc
pools:
  fe:
    fqdn: pool01.contoso.net
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pol: fe
`,
  })
  const file = path.join(dir, 'bad.yaml')
  const r = await check(['-c', file])
  t.equal(r.code, 2)
  t.equal(r.out, '')
  const lines = r.err.trimEnd().split('\n')
  t.equal(lines.length, 2)
  t.match(lines[0], `LRP_ERR_CONFIG_SCHEMA: ${file}:5:11 at /listeners/0/port: expected an integer from 0 to 65535, got 'abc'. Fix: `)
  t.match(lines[1], `LRP_ERR_CONFIG_SCHEMA: ${file}:13:5 at /rules/0/pol: unknown key 'pol' (did you mean 'pool'?)`)
})

t.test('unreadable file: exit 2', async (t) => {
  const r = await check(['-c', '/nonexistent/lyncproxy.yaml'])
  t.equal(r.code, 2)
  t.match(r.err, /^LRP_ERR_CONFIG_READ: \/nonexistent\/lyncproxy\.yaml: cannot read the configuration: the file does not exist/)
})

t.test('warnings go to stderr after OK', async (t) => {
  const dir = t.testdir({
    'noverify.yaml': `listeners:
  - name: web
    protocol: http
    address: 127.0.0.1
    port: 8080
pools:
  fe:
    fqdn: pool01.contoso.net
    tls: { verify: false }
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
`,
  })
  const file = path.join(dir, 'noverify.yaml')
  const r = await check(['-c', file])
  t.equal(r.code, 0)
  t.equal(r.out, `OK: ${file}: 1 listener, 1 pool, 1 rule\n`)
  t.equal(r.err, `warning: ${file}: upstream TLS verification is off for pool fe: the proxy will forward to any server that answers on its address\n`)
})

t.test('environment overrides are applied as at start-up', async (t) => {
  const ok = await check(['-c', LAB], { LYNCPROXY_HTTP_PORT: '8080', LYNCPROXY_HTTPS_PORT: '8443' })
  t.equal(ok.code, 0)
  t.match(ok.out, /note: LYNCPROXY_HTTP_PORT=8080/)
  t.match(ok.out, /note: LYNCPROXY_HTTPS_PORT=8443/)

  // Both listeners of lab.yaml are on 127.0.0.1, so forcing them onto one port is a conflict.
  const clash = await check(['-c', LAB], { LYNCPROXY_HTTP_PORT: '8443', LYNCPROXY_HTTPS_PORT: '8443' })
  t.equal(clash.code, 2)
  t.match(clash.err, /LRP_ERR_CONFIG_CONFLICT: .*both listen on 127\.0\.0\.1:8443 \(after LYNCPROXY_HTTP_PORT/)

  const bad = await check(['-c', LAB], { LYNCPROXY_HTTPS_PORT: 'https' })
  t.equal(bad.code, 64)
  t.match(bad.err, /^LRP_ERR_USAGE: LYNCPROXY_HTTPS_PORT must be a port number from 0 to 65535, got 'https'/)
})

t.test('usage', async (t) => {
  const help = await check(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /^Usage: lyncproxy check -c FILE/)
  t.equal(help.err, '')

  const none = await check([])
  t.equal(none.code, 64)
  t.match(none.err, /^LRP_ERR_USAGE: .*-c FILE/)

  const unknown = await check(['-c', LAB, '--verbose'])
  t.equal(unknown.code, 64)
  t.match(unknown.err, /^LRP_ERR_USAGE: .*--verbose/)

  const positional = await check([LAB])
  t.equal(positional.code, 64)

  const noValue = await check(['-c'])
  t.equal(noValue.code, 64)
})

t.test('without io, errors are written to process.stderr', async (t) => {
  let err = ''
  const write = process.stderr.write
  // stderr only: tap reports on stdout, so capturing stderr cannot swallow test output.
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    err += String(chunk)
    return true
  }) as typeof process.stderr.write
  let code: number
  try {
    code = await runCheck(['-c', '/nonexistent/lyncproxy.yaml'])
  } finally {
    process.stderr.write = write
  }
  t.equal(code, 2)
  t.match(err, /LRP_ERR_CONFIG_READ/)
})
