// The lyncproxy command as an operator meets it: help, exit statuses, the messages of start-up
// errors (file, line, path, fix), and a running `start` that serves, reloads on SIGHUP and stops
// on SIGTERM. Each case spawns the built CLI (test/helpers/cli.ts says how); each spawn starts node
// and loads the CLI's modules, so independent runs are started together.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { request } from './helpers/client.js'
import { CliProcess, runCli, withoutPrivilege, type CliResult } from './helpers/cli.js'
import { testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'
import { freePort } from './helpers/ports.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-cli-'))
// The unprivileged run must be able to read the configs.
fs.chmodSync(dir, 0o755)
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

function write (name: string, text: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text, { mode: 0o644 })
  return file
}

function canBind (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

// An http-only config. The pool trusts a CA file rather than the lab CA, so that `start` creates
// no lab certificates.
function config (o: { port: number, ca: string, upstreamPort?: number, rules: string }): string {
  // No admin plane: its default port 9090 would be shared by every proxy these tests start at once.
  return `admin:
  enabled: false
listeners:
  - name: external-http
    protocol: http
    address: 127.0.0.1
    port: ${o.port}
pools:
  fe:
    fqdn: pool01.contoso.net
    address: 127.0.0.1
    httpPort: ${o.upstreamPort ?? 8080}
    tls:
      ca: [${JSON.stringify(o.ca)}]
rules:
${o.rules}`
}

const FORWARD_RULE = `  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
`

t.test('help and usage errors', async (t) => {
  const [main, start, lab, check, unknown, noCommand, badOption] = await Promise.all([
    runCli(['--help']), runCli(['start', '--help']), runCli(['lab', '--help']), runCli(['check', '--help']),
    runCli(['frobnicate']), runCli([]), runCli(['start', '--no-such-option']),
  ])
  const usage = (r: CliResult, what: string, pattern: RegExp): void => {
    t.equal(r.code, 0, `${what}: exit 0`)
    t.match(r.stdout, pattern, `${what}: usage text on stdout`)
    t.equal(r.stderr, '', `${what}: nothing on stderr`)
  }
  usage(main, 'lyncproxy --help', /^Usage: lyncproxy <command>[\s\S]*\bstart\b[\s\S]*\bcheck\b/)
  usage(start, 'start --help', /^Usage: lyncproxy start -c FILE[\s\S]*SIGHUP/)
  usage(lab, 'lab --help', /^Usage: lyncproxy lab[\s\S]*LYNCPROXY_HTTP_PORT/)
  usage(check, 'check --help', /^Usage: lyncproxy check -c FILE[\s\S]*Exit status/)
  t.equal(unknown.code, 64, 'an unknown command exits 64 (EX_USAGE)')
  t.match(unknown.stderr, /LRP_ERR_USAGE: unknown command 'frobnicate'/)
  t.match(unknown.stderr, /Fix: use one of .*start/, 'and says what to use instead')
  t.equal(noCommand.code, 64, 'no command at all exits 64')
  t.match(noCommand.stdout, /^Usage: lyncproxy/)
  t.equal(badOption.code, 64, 'an unknown option exits 64')
  t.match(badOption.stderr, /LRP_ERR_USAGE: .*no-such-option.*Fix: see lyncproxy start --help/)
})

t.test('check -c config/lab.yaml: the shipped lab config is valid', async (t) => {
  const r = await runCli(['check', '-c', 'config/lab.yaml'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^OK: config\/lab\.yaml: \d+ listeners, \d+ pools, \d+ rules/)
})

t.test('start-up errors: exit status and a message that says where and how to fix it', async (t) => {
  const certs = await testCertificates()
  const badPort = await freePort()
  const badText = config({ port: badPort, ca: certs.caFile, rules: FORWARD_RULE.replace('pool: fe', 'pool: fee') })
  const bad = write('bad.yaml', badText)
  const badLine = badText.split('\n').findIndex((l) => l.includes('pool: fee')) + 1

  const holder = net.createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const busyPort = (holder.address() as net.AddressInfo).port
  const busy = write('busy.yaml', config({ port: busyPort, ca: certs.caFile, rules: FORWARD_RULE }))

  const [invalid, inUse] = await Promise.all([runCli(['start', '-c', bad]), runCli(['start', '-c', busy])])

  t.equal(invalid.code, 2, 'an invalid config exits 2')
  t.match(invalid.stderr, `LRP_ERR_CONFIG_REFERENCE: ${bad}:${badLine}:`, 'names the file and the line')
  t.match(invalid.stderr, 'at /rules/0/pool', 'and the path in the document')
  t.match(invalid.stderr, /pool 'fee', which is not defined \(did you mean 'fe'\?\)/, 'says what is wrong')
  t.match(invalid.stderr, /Fix: \S/, 'and how to fix it')
  t.equal(invalid.stdout, '', 'nothing on stdout')
  t.ok(await canBind(badPort), `port ${badPort} is still free: nothing was bound`)

  t.equal(inUse.code, 4, 'a port in use exits 4')
  t.match(inUse.stderr, /^LRP_ERR_LISTEN_IN_USE: /)
  t.match(inUse.stderr, `127.0.0.1:${busyPort}`, 'names the address and port')
  t.match(inUse.stderr, /Fix: \S/)
})


const dropPrivileges = withoutPrivilege(81)

t.test('a privileged port without privilege: exit 4 and one line that gives the fixes', { skip: 'skip' in dropPrivileges ? dropPrivileges.skip : false }, async (t) => {
  if ('skip' in dropPrivileges) return
  const certs = await testCertificates()
  const ca = path.join(dir, 'ca.pem')
  fs.copyFileSync(certs.caFile, ca)
  fs.chmodSync(ca, 0o644)
  const file = write('privileged.yaml', config({ port: 81, ca, rules: FORWARD_RULE }))
  const r = await runCli(['start', '-c', file], { prefix: dropPrivileges.prefix })
  t.equal(r.code, 4, `exit 4${r.code === 4 ? '' : ': ' + r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  t.equal(lines.length, 1, `one line${lines.length === 1 ? '' : ': ' + r.stderr}`)
  const line = lines[0] ?? ''
  t.match(line, /^LRP_ERR_LISTEN_PRIVILEGED: /)
  t.match(line, '127.0.0.1:81', 'names the address and port')
  t.match(line, /\broot\b/, 'fix: run as root')
  t.match(line, 'CAP_NET_BIND_SERVICE', 'fix: the capability')
  t.match(line, 'LYNCPROXY_HTTP_PORT', 'fix: the port variables')
  t.match(line, 'LYNCPROXY_HTTPS_PORT')
})

t.test('start: serves, reloads on SIGHUP (a broken file changes nothing), exits 0 on SIGTERM', async (t) => {
  const certs = await testCertificates()
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  // The file's port is 80; LYNCPROXY_HTTP_PORT=0 replaces it, as a non-root user would do.
  const good = config({ port: 80, ca: certs.caFile, upstreamPort: upstream.port, rules: FORWARD_RULE })
  const file = write('good.yaml', good)
  const cli = new CliProcess(['start', '-c', file], { env: { LYNCPROXY_HTTP_PORT: '0' } })
  t.teardown(() => cli.kill('SIGKILL'))

  const listening = await cli.waitFor(/listening: external-http http:\/\/127\.0\.0\.1:(\d+)/)
  const startedMs = performance.now() - cli.spawnedAt
  t.ok(listening, `logs "listening" with the bound port${listening === undefined ? ': ' + cli.output : ''}`)
  if (listening === undefined) return
  const port = Number(listening[1])
  t.not(port, 80, 'the environment variable replaced the port of the file')

  let r = await request({ port, host: 'webext.contoso.com', path: '/abs/x' })
  t.equal(r.status, 200, 'answers a request')
  t.equal(upstream.requests.length, 1, 'by forwarding it to the pool')

  // A file that no longer validates: the running table stays.
  fs.writeFileSync(file, good.replace('pool: fe\n', 'pool: nosuchpool\n'))
  let mark = cli.output.length
  cli.kill('SIGHUP')
  const failed = await cli.waitFor(/reload of [^"]*good\.yaml failed; the running configuration stays in place/, 15_000, mark)
  t.ok(failed, 'logs that the reload failed')
  t.match(cli.output.slice(mark), /LRP_ERR_CONFIG_REFERENCE[^\n]*\/rules\/0\/pool/, 'and why')
  r = await request({ port, host: 'webext.contoso.com', path: '/abs/y' })
  t.equal(r.status, 200, 'still serving with the old rules')
  t.equal(upstream.requests.length, 2)

  // A valid change: the rule now denies.
  fs.writeFileSync(file, good.replace('action: forward\n    pool: fe\n', 'action: deny\n'))
  mark = cli.output.length
  cli.kill('SIGHUP')
  t.ok(await cli.waitFor(/configuration reloaded/, 15_000, mark), 'logs the reload')
  r = await request({ port, host: 'webext.contoso.com', path: '/abs/z' })
  t.equal(r.status, 403, 'the changed rule takes effect')
  t.equal(r.headers['x-lyncproxy-error'], 'denied')
  t.equal(upstream.requests.length, 2, 'and nothing more reached the pool')

  // With nothing in flight, stopping waits for nothing: it must take less time than starting (node,
  // the modules, the config, the bind) took on this machine just now, under the same load. One that
  // waited out its grace (5 s for the listeners) fails this unless starting took longer still.
  const stoppedAt = performance.now()
  cli.kill('SIGTERM')
  // If it never exits, the helper's kill ends it (a signal, no status).
  const exit = await cli.exited
  const stopMs = performance.now() - stoppedAt
  t.equal(exit.signal, null, 'exits after SIGTERM')
  t.equal(exit.code, 0, 'with status 0')
  t.ok(stopMs < startedMs, `in less time than it took to start (${stopMs.toFixed(0)} ms to stop, ${startedMs.toFixed(0)} ms to start)`)
  t.match(cli.output, /SIGTERM: closing listeners/, 'and says what it is doing')
  t.ok(await canBind(port), 'the port is free again')
})

// Windows has no SIGHUP or SIGTERM to send: the console's commands take their paths.
t.test('start --console: reload and stop typed on standard input do what SIGHUP and SIGTERM do', async (t) => {
  const certs = await testCertificates()
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const good = config({ port: 0, ca: certs.caFile, upstreamPort: upstream.port, rules: FORWARD_RULE })
  const file = write('console.yaml', good)
  const cli = new CliProcess(['start', '-c', file, '--console'], { stdin: true })
  t.teardown(() => cli.kill('SIGKILL'))
  const listening = await cli.waitFor(/listening: external-http http:\/\/127\.0\.0\.1:(\d+)/)
  t.ok(listening, `starts${listening === undefined ? ': ' + cli.output : ''}`)
  if (listening === undefined) return
  const port = Number(listening[1])
  t.equal((await request({ port, host: 'webext.contoso.com', path: '/abs/a' })).status, 200)

  let mark = cli.output.length
  cli.type('rehash')
  t.ok(await cli.waitFor(/console: rehash is not a command; the commands are: reload \(/, 15_000, mark), 'an unknown command is named, with the ones there are')

  fs.writeFileSync(file, good.replace('action: forward\n    pool: fe\n', 'action: deny\n'))
  mark = cli.output.length
  cli.type('reload')
  t.ok(await cli.waitFor(/configuration reloaded/, 15_000, mark), 'reload reads the file again')
  const denied = await request({ port, host: 'webext.contoso.com', path: '/abs/b' })
  t.equal(denied.status, 403, 'and the changed rule takes effect')
  t.equal(upstream.requests.length, 1, 'nothing more reached the pool')

  cli.type('stop')
  const exit = await cli.exited
  t.equal(exit.code, 0, 'stop exits 0')
  t.match(cli.output, /console stop: closing listeners, finishing requests in flight/, 'after draining, as SIGTERM does')
  t.ok(await canBind(port), 'the port is free again')
})
