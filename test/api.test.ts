// The package's API as a client project's test suite uses it (src/index.ts): startLab() on
// ephemeral loopback ports, followed by the lab's own links through its fetch and through curl;
// loadConfig() with a broken file; startProxy() with a config object in front of a real upstream,
// asserting on the bytes that upstream received.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { loadConfig, LyncProxyErrors, startLab, startProxy, type Lab } from '../src/index.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-api-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))

// An upstream that records each request's target and headers, and answers 'from upstream'.
async function recordingUpstream (t: Test): Promise<{ port: number, received: Array<{ url: string, headers: http.IncomingHttpHeaders }> }> {
  const received: Array<{ url: string, headers: http.IncomingHttpHeaders }> = []
  const upstream = http.createServer((req, res) => {
    received.push({ url: req.url ?? '', headers: req.headers })
    res.end('from upstream')
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
  return { port: (upstream.address() as net.AddressInfo).port, received }
}

t.test('startLab: the published names, reached through the lab\'s fetch, as a client follows them', async (t) => {
  const lab: Lab = await startLab({ certsDir: path.join(work, 'certs'), admin: true })
  t.teardown(() => lab.close())
  t.equal(lab.urls['webext.contoso.com'], 'https://webext.contoso.com', 'the real URL, not a loopback port')
  t.equal(lab.httpUrls['lyncdiscover.contoso.com'], 'http://lyncdiscover.contoso.com')
  t.ok(lab.users.length > 0 && lab.users[0]!.sipUri.includes('@'), 'the lab users')
  t.match(lab.ca, /^-----BEGIN CERTIFICATE-----/)
  t.equal(fs.readFileSync(lab.caFile, 'utf8'), lab.ca)
  t.ok(lab.caFile.startsWith(path.join(work, 'certs')), 'the certificates went where certsDir said')

  const seen: Array<{ path: string, upstream: string, status: number }> = []
  const detach = lab.proxy.bus.subscribe((ex) => { seen.push({ path: ex.target, upstream: ex.upstream, status: ex.status }) })
  t.teardown(detach)

  const root = await lab.fetch(`${lab.urls['lyncdiscover.contoso.com']!}/?sipuri=${lab.users[0]!.sipUri}`, { headers: { accept: 'application/json' } })
  t.equal(root.status, 200)
  const body = await root.json() as { _links: { user: { href: string } } }
  const user = new URL(body._links.user.href)
  t.equal(user.origin, 'https://webdirext.contoso.com', 'lyncdiscover is the Director, whose root links to its own user resource')
  const challenge = await lab.fetch(user, { headers: { accept: 'application/json' } })
  t.equal(challenge.status, 401, 'the link the lab gave is followed unchanged')
  t.match(challenge.headers.get('www-authenticate') ?? '', /MsRtcOAuth/)
  await challenge.arrayBuffer()
  // Both went through the proxy to a stand-in, on the bridged port.
  const forwarded = seen.filter((s) => s.upstream !== '')
  t.ok(forwarded.some((s) => s.path.startsWith('/?sipuri=') && s.status === 200), `autodiscover was forwarded: ${JSON.stringify(seen)}`)
  t.ok(forwarded.some((s) => s.path.startsWith(user.pathname) && s.status === 401 && /^127\.0\.1\.2[12]:/.test(s.upstream)), 'the user resource went to a Director server (dir01 or dir02)')

  await t.rejects(lab.fetch('https://intranet.contoso.com/'), { cause: { code: 'ENOTFOUND' } }, 'an unpublished name never leaves the process')
  await t.rejects(lab.fetch('https://webext.contoso.com:8443/'), { cause: { code: 'ENOTFOUND' } }, 'nor a port the lab does not publish')

  // curl reaches the same URLs with --connect-to (asynchronously: the lab runs in this process).
  const curl = await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '30', '--cacert', lab.caFile,
    ...lab.connectTo.flatMap((c) => ['--connect-to', c]), 'https://webext.contoso.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com'], { encoding: 'utf8' })
  t.equal(curl.stdout, '200', `curl through connectTo: ${curl.stderr}`)

  t.ok(lab.adminUrl?.startsWith('http://127.0.0.1:'), 'the admin plane on an ephemeral port')
  const routes = await fetch(new URL('/api/routes', lab.adminUrl))
  t.equal(routes.status, 200)
  t.match(await routes.json(), { listeners: [{ name: 'external-http' }] })
})

t.test('startLab: close() lets every port go', async (t) => {
  const lab = await startLab({ certsDir: path.join(work, 'certs') })
  const ports = [lab.https!, lab.http!]
  await lab.close()
  for (const p of ports) {
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(p.port, p.address)
      s.once('connect', () => { s.destroy(); resolve('connected') })
      s.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? 'error') })
    })
    t.equal(refused, 'ECONNREFUSED', `${p.address}:${p.port} is closed`)
  }
})

t.test('loadConfig: a broken file throws the coded errors `lyncproxy check` prints', async (t) => {
  const file = path.join(work, 'broken.yaml')
  fs.writeFileSync(file, 'listeners:\n  - name: web\n    protocol: htp\n    port: 80\npools: {}\nrules: []\n')
  const err = await loadConfig(file).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof LyncProxyErrors, 'LyncProxyErrors')
  const first = (err as LyncProxyErrors).errors[0]!
  t.equal(first.code, 'LRP_ERR_CONFIG_SCHEMA')
  t.equal(first.location.file, file)
  t.equal(first.location.line, 3, 'the line to edit')
})

t.test('startProxy: a config object in front of a real upstream', async (t) => {
  const { received, port: upstreamPort } = await recordingUpstream(t)
  const proxy = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: upstreamPort, httpsPort: upstreamPort } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' }],
  })
  t.teardown(() => proxy.close(0))
  const port = proxy.listeners[0]!.port
  const reply = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/ucwa/v1/applications', headers: { host: 'webext.contoso.com' } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
  t.same(reply, { status: 200, body: 'from upstream' })
  t.equal(received.length, 1)
  t.equal(received[0]!.url, '/ucwa/v1/applications')
  t.equal(received[0]!.headers.host, 'webext.contoso.com', 'Host kept, as TMG and ARR publish it')
  t.equal(received[0]!.headers['x-forwarded-for'], '127.0.0.1')
  const other = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'intranet.contoso.com' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  t.equal(other, 404, 'an unpublished name is answered by the proxy')
  t.equal(received.length, 1, 'and never forwarded')
})

t.test('preserveHost: false sends the pool\'s name as Host, and the client\'s in X-Forwarded-Host', async (t) => {
  const { received, port: upstreamPort } = await recordingUpstream(t)
  const proxy = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: upstreamPort, httpsPort: upstreamPort } },
    rules: [
      { name: 'meet', publicNames: ['meet.contoso.com'], action: 'forward', pool: 'fe', preserveHost: false },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' },
    ],
  })
  t.teardown(() => proxy.close(0))
  const port = proxy.listeners[0]!.port
  for (const host of ['meet.contoso.com', 'webext.contoso.com']) {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => { res.resume().on('end', resolve) }).on('error', reject)
    })
  }
  t.equal(received[0]?.headers.host, 'pool01.contoso.net', 'rewritten on the rule that says so')
  t.equal(received[0]?.headers['x-forwarded-host'], 'meet.contoso.com')
  t.equal(received[1]?.headers.host, 'webext.contoso.com', 'kept everywhere else')
})
