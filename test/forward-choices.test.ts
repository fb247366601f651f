// The request-field choices a fleet may need (defaults.maxHeaderBytes, underscoreHeaders,
// trustedProxies), each asserted on the bytes the upstream received; the defaults stay as they were.
import http from 'node:http'
import type net from 'node:net'
import t, { type Test } from 'tap'
import { LyncProxyErrors, startProxy, type Config } from '../src/index.js'

interface Received { raw: string[] }

async function upstream (t: Test): Promise<{ port: number, received: Received[] }> {
  const received: Received[] = []
  // The upstream accepts large sections itself, so that only the proxy's limit is tested.
  const server = http.createServer({ maxHeaderSize: 65_536 }, (req, res) => { received.push({ raw: req.rawHeaders }); res.end('ok') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as net.AddressInfo).port, received }
}

async function proxy (t: Test, upstreamPort: number, defaults: Config['defaults'] = {}): Promise<number> {
  const p = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: upstreamPort, httpsPort: upstreamPort } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' }],
    defaults,
  })
  t.teardown(() => p.close(0))
  return p.listeners[0]!.port
}

function send (port: number, headers: Record<string, string>): Promise<{ status: number, error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ucwa', headers: { host: 'webext.contoso.com', ...headers }, agent: false, maxHeaderSize: 65_536 }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, error: String(res.headers['x-lyncproxy-error'] ?? '') }))
    })
    req.on('error', (err) => resolve({ status: 0, error: err.message }))
  })
}

const field = (r: Received | undefined, name: string): string[] => {
  const out: string[] = []
  for (let i = 0; r !== undefined && i < r.raw.length; i += 2) if (r.raw[i]!.toLowerCase() === name) out.push(r.raw[i + 1]!)
  return out
}

t.test('a name with _: refused by default, dropped or forwarded when the config says so', async (t) => {
  const up = await upstream(t)
  const refuse = await proxy(t, up.port)
  t.same(await send(refuse, { x_user: 'alice' }), { status: 400, error: 'bad_header' }, 'the default is unchanged')
  t.equal(up.received.length, 0)

  const drop = await proxy(t, up.port, { underscoreHeaders: 'drop' })
  t.equal((await send(drop, { x_user: 'alice', 'x-kept': '1' })).status, 200)
  t.same(field(up.received.at(-1), 'x_user'), [], 'dropped, as nginx does')
  t.same(field(up.received.at(-1), 'x-kept'), ['1'], 'the rest goes on')

  const forward = await proxy(t, up.port, { underscoreHeaders: 'forward' })
  t.equal((await send(forward, { x_user: 'alice' })).status, 200)
  t.same(field(up.received.at(-1), 'x_user'), ['alice'], 'forwarded, as IIS accepts it')
})

t.test('trustedProxies: X-Forwarded-For kept from a trusted proxy, replaced from anyone else', async (t) => {
  const up = await upstream(t)
  const untrusted = await proxy(t, up.port)
  await send(untrusted, { 'x-forwarded-for': '203.0.113.9' })
  t.same(field(up.received.at(-1), 'x-forwarded-for'), ['127.0.0.1'], 'by default the client cannot name itself')

  const otherNet = await proxy(t, up.port, { trustedProxies: ['10.0.0.0/8'] })
  await send(otherNet, { 'x-forwarded-for': '203.0.113.9' })
  t.same(field(up.received.at(-1), 'x-forwarded-for'), ['127.0.0.1'], 'a client outside the trusted blocks is not believed')

  const trusted = await proxy(t, up.port, { trustedProxies: ['127.0.0.0/8', '::1'] })
  await send(trusted, { 'x-forwarded-for': '203.0.113.9, 198.51.100.7' })
  t.same(field(up.received.at(-1), 'x-forwarded-for'), ['203.0.113.9, 198.51.100.7, 127.0.0.1'], 'the chain is kept and the client appended')
  await send(trusted, {})
  t.same(field(up.received.at(-1), 'x-forwarded-for'), ['127.0.0.1'], 'with nothing sent, the client alone')
  t.same(field(up.received.at(-1), 'forwarded'), ['for=127.0.0.1;proto=http;host=webext.contoso.com'])

  // RFC 7239 §4: each proxy appends its own element to Forwarded, as to X-Forwarded-For.
  await send(trusted, { forwarded: 'for=203.0.113.9;proto=https;host=webext.contoso.com' })
  t.same(field(up.received.at(-1), 'forwarded'), ['for=203.0.113.9;proto=https;host=webext.contoso.com, for=127.0.0.1;proto=http;host=webext.contoso.com'], 'Forwarded from a trusted proxy: kept, this hop appended')
  await send(otherNet, { forwarded: 'for=203.0.113.9' })
  t.same(field(up.received.at(-1), 'forwarded'), ['for=127.0.0.1;proto=http;host=webext.contoso.com'], 'from anyone else: replaced')
})

t.test('maxHeaderBytes: a 20 KiB Kerberos-sized Authorization, refused at 16 KiB, forwarded at 32 KiB', async (t) => {
  const up = await upstream(t)
  const token = 'Negotiate ' + 'Y'.repeat(20 * 1024)
  const small = await proxy(t, up.port)
  t.equal((await send(small, { authorization: token })).status, 431, 'the default limit answers 431')
  t.equal(up.received.length, 0)
  const large = await proxy(t, up.port, { maxHeaderBytes: 32_768 })
  t.equal((await send(large, { authorization: token })).status, 200)
  t.same(field(up.received.at(-1), 'authorization'), [token], 'the whole field reached the upstream')
})

t.test('a trustedProxies entry that is not an address is a config error with its expected form', async (t) => {
  const err = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1' } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' }],
    defaults: { trustedProxies: ['proxy.contoso.com'] },
  }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof LyncProxyErrors)
  t.equal((err as LyncProxyErrors).errors[0]?.message, 'expected an IP address or a CIDR block such as 10.0.0.0/8, got \'proxy.contoso.com\'')
})

t.test('a reload that changes maxHeaderBytes is refused: Node fixes it when the server is made', async (t) => {
  const up = await upstream(t)
  const p = await startProxy({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1', port: 0 }],
    pools: { fe: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: up.port, httpsPort: up.port } },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe' }],
  })
  t.teardown(() => p.close(0))
  const config = p.config()
  const next = { config: { ...config, defaults: { ...config.defaults, maxHeaderBytes: 32_768 } }, file: 'changed.yaml', baseDir: process.cwd(), warnings: [] }
  await t.rejects(p.reload(next), { code: 'LRP_ERR_CONFIG_CONFLICT', message: /changes defaults\.maxHeaderBytes from 16384 to 32768/, fix: /restart the proxy/ })
  const small = await send(p.listeners[0]!.port, { authorization: 'Negotiate ' + 'Y'.repeat(20 * 1024) })
  t.equal(small.status, 431, 'the running limit is unchanged')
})
