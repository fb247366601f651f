// The admin plane against a web page in the operator's browser: a foreign Host (DNS rebinding), a
// cross-site POST (a form or a no-cors fetch, text/plain), a token in the URL of a POST. Each
// request is written byte for byte on a raw socket, so that Host, Origin and Sec-Fetch-Site say
// exactly what a browser (or an attacker's page in one) would send.
import net from 'node:net'
import os from 'node:os'
import pino from 'pino'
import t, { type Test } from 'tap'
import { AdminHosts } from '../src/admin/guard.js'
import { startAdmin, type RunningAdmin } from '../src/admin/server.js'
import { startTestProxy, type TestProxy } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const TOKEN_ENV = 'LYNCPROXY_TEST_GUARD_TOKEN'
const TOKEN = 'guard-token-7'
const DRAIN = '/api/pools/fe/members/a/drain'
const UNDRAIN = '/api/pools/fe/members/a/undrain'

interface Reply { status: number, headers: Map<string, string>, body: string }

// One request on its own connection; `host: null` leaves the Host line out.
function raw (port: number, o: { method?: string, target: string, host: string | null, headers?: Record<string, string>, body?: string, version?: string }): Promise<Reply> {
  const lines = [`${o.method ?? 'GET'} ${o.target} HTTP/${o.version ?? '1.1'}`]
  if (o.host !== null) lines.push(`Host: ${o.host}`)
  for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`${k}: ${v}`)
  if (o.body !== undefined && !Object.keys(o.headers ?? {}).some((k) => k.toLowerCase() === 'transfer-encoding')) lines.push(`Content-Length: ${Buffer.byteLength(o.body)}`)
  lines.push('Connection: close')
  const bytes = lines.join('\r\n') + '\r\n\r\n' + (o.body ?? '')
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${o.method ?? 'GET'} ${o.target} within 5 s`)) }, 5000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('end', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const head = text.slice(0, split).split('\r\n')
      const headers = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      let body = text.slice(split + 4)
      if (headers.get('transfer-encoding') === 'chunked') body = dechunk(body)
      resolve({ status: Number(head[0]?.split(' ')[1]), headers, body })
    })
    socket.write(bytes)
  })
}

function dechunk (s: string): string {
  let out = ''
  for (let at = 0; ;) {
    const eol = s.indexOf('\r\n', at)
    const size = parseInt(s.slice(at, eol), 16)
    if (!(size > 0)) return out
    out += s.slice(eol + 2, eol + 2 + size)
    at = eol + 2 + size + 2
  }
}

const json = (r: Reply): { error?: string, message?: string, [k: string]: unknown } => JSON.parse(r.body) as { error?: string, message?: string }

interface Plane { proxy: TestProxy, admin: RunningAdmin, port: number, own: string, draining: () => boolean }

async function startPlane (t: Test, o: { token?: boolean, hosts?: string[] } = {}): Promise<Plane> {
  const a = await startUpstream()
  const b = await startUpstream()
  const proxy = await startTestProxy({
    pools: {
      fe: { fqdn: 'pool01.contoso.net', kind: 'members', members: [{ name: 'a', address: '127.0.0.1', httpPort: a.port }, { name: 'b', address: '127.0.0.1', httpPort: b.port }], health: { check: 'none' } },
    },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] }],
    ...(o.token === true ? { admin: { tokenEnv: TOKEN_ENV } } : {}),
  })
  const admin = await startAdmin({
    proxy: proxy.proxy,
    logger: pino({ level: 'silent' }),
    port: 0,
    processMetrics: false,
    env: { [TOKEN_ENV]: TOKEN },
    ...(o.hosts === undefined ? {} : { hosts: o.hosts }),
  })
  t.teardown(async () => { await admin.close(); await proxy.close(); await a.close(); await b.close() })
  return {
    proxy,
    admin,
    port: admin.port,
    own: `127.0.0.1:${admin.port}`,
    draining: () => proxy.proxy.table().pools.get('fe')!.members.find((m) => m.name === 'a')!.draining,
  }
}

t.test('with no token, a foreign Host is refused on every route (DNS rebinding)', async (t) => {
  const p = await startPlane(t)
  for (const target of ['/api/config', '/api/routes', '/metrics', '/readyz', '/healthz', '/', '/static/app.js', '/api/flows', '/nosuch']) {
    const r = await raw(p.port, { target, host: 'evil.example' })
    t.equal(r.status, 421, `GET ${target} with Host: evil.example`)
    t.match(r.headers.get('content-type'), /^application\/json/, 'with a JSON body')
    t.equal(json(r).error, 'misdirected_host')
    t.notMatch(r.body, /"listeners"|"pools"|lyncproxy_|<html/i, 'and nothing of the plane in it')
  }
  const rebound = await raw(p.port, { target: '/api/config', host: `evil.example:${p.port}` })
  t.equal(rebound.status, 421, 'the attacker\'s name with the right port (what the rebound page sends)')
  t.match(json(rebound).message, new RegExp(`127\\.0\\.0\\.1:${p.port}.*not 'evil\\.example:${p.port}'`), 'the message names what it answers to and what it got')
  for (const host of [`127.0.0.1:${p.port + 1 > 65535 ? 1 : p.port + 1}`, '127.0.0.1', 'localhost', `127.0.0.1.evil.example:${p.port}`, `localhost.:${p.port}x`, `[::2]:${p.port}`]) {
    t.equal((await raw(p.port, { target: '/api/config', host })).status, 421, `Host: ${host}`)
  }
  for (const host of [p.own, `localhost:${p.port}`, `LocalHost:${p.port}`, `[::1]:${p.port}`]) {
    const r = await raw(p.port, { target: '/api/config', host })
    t.equal(r.status, 200, `Host: ${host}`)
  }
  const noHost = await raw(p.port, { target: '/readyz', host: null, version: '1.0' })
  t.equal(noHost.status, 200, 'HTTP/1.0 without Host (a load balancer\'s default health check) passes: no browser sends that')
  const post = await raw(p.port, { method: 'POST', target: DRAIN, host: 'evil.example' })
  t.equal(post.status, 421, 'a POST under a foreign name too')
  t.notOk(p.draining(), 'and it drained nothing')
})

t.test('with no token, a cross-site POST is refused and changes nothing', async (t) => {
  const p = await startPlane(t)
  const generation = p.proxy.proxy.table().generation
  // What an attacker's page sends with fetch(..., { method: 'POST', mode: 'no-cors', body: 'x' }).
  const attack = { 'Content-Type': 'text/plain;charset=UTF-8', Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' }
  const drain = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: attack, body: 'x' })
  t.equal(drain.status, 403, 'the cross-site drain')
  t.equal(json(drain).error, 'cross_origin')
  t.match(json(drain).message, /cross-site/)
  t.notOk(p.draining(), 'the member is still in rotation')
  const reload = await raw(p.port, { method: 'POST', target: '/api/reload', host: p.own, headers: attack, body: 'x' })
  t.equal(reload.status, 403, 'the cross-site reload')
  t.equal(p.proxy.proxy.table().generation, generation, 'no reload happened')

  // One header at a time: each is enough to refuse.
  const cases: Array<[string, Record<string, string>]> = [
    ['Origin of another site, no Sec-Fetch-Site (an older browser)', { Origin: 'http://evil.example' }],
    ['Origin of another port on localhost', { Origin: `http://localhost:${p.port === 1 ? 2 : p.port - 1}` }],
    ['Origin https:// of the plane\'s own name', { Origin: `https://${p.own}` }],
    ['Origin null without Sec-Fetch-Site', { Origin: 'null' }],
    ['Sec-Fetch-Site: same-site (another port on the same host)', { 'Sec-Fetch-Site': 'same-site' }],
    ['Sec-Fetch-Site: cross-site, no Origin', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: cross-site with the plane\'s own Origin', { 'Sec-Fetch-Site': 'cross-site', Origin: `http://${p.own}` }],
  ]
  for (const [what, headers] of cases) {
    const r = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { ...headers, 'Content-Type': 'application/json' }, body: '{}' })
    t.equal(r.status, 403, what)
  }
  t.notOk(p.draining(), 'none of them drained')

  // The page itself: same-origin, JSON.
  const own = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { Origin: `http://${p.own}`, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' }, body: '{}' })
  t.equal(own.status, 200, 'a same-origin JSON POST drains')
  t.ok(p.draining())
  const viaLocalhost = await raw(p.port, { method: 'POST', target: UNDRAIN, host: `localhost:${p.port}`, headers: { Origin: `http://localhost:${p.port}`, 'Sec-Fetch-Site': 'same-origin' } })
  t.equal(viaLocalhost.status, 200, 'the page opened as localhost, an empty POST')
  t.notOk(p.draining())
  const hidden = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' } })
  t.equal(hidden.status, 200, 'Origin null is the page\'s own when Sec-Fetch-Site says same-origin (a referrer policy hid it)')
  const typed = await raw(p.port, { method: 'POST', target: UNDRAIN, host: p.own, headers: { 'Sec-Fetch-Site': 'none' } })
  t.equal(typed.status, 200, 'Sec-Fetch-Site: none (the user\'s own action, not a page)')
  t.notOk(p.draining())
})

t.test('a POST takes a JSON body or none', async (t) => {
  const p = await startPlane(t)
  // What a cross-site page can send without a preflight, with no Origin (curl, or a browser that
  // left it out): refused by its type alone.
  const refused: Array<[string, Record<string, string>, string]> = [
    ['text/plain', { 'Content-Type': 'text/plain' }, 'x'],
    ['text/plain with an empty body', { 'Content-Type': 'text/plain' }, ''],
    ['a form', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=1'],
    ['multipart', { 'Content-Type': 'multipart/form-data; boundary=zz' }, '--zz--\r\n'],
    ['a body without a Content-Type', {}, '{}'],
    ['a chunked body without a Content-Type', { 'Transfer-Encoding': 'chunked' }, '2\r\n{}\r\n0\r\n\r\n'],
    ['application/jsonx', { 'Content-Type': 'application/jsonx' }, '{}'],
  ]
  for (const [what, headers, body] of refused) {
    const r = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers, body })
    t.equal(r.status, 415, what)
    t.equal(json(r).error, 'unsupported_media_type')
  }
  t.notOk(p.draining(), 'none of them drained')

  const accepted: Array<[string, Record<string, string>, string | undefined]> = [
    ['no body, no Content-Type (curl -X POST)', {}, undefined],
    ['Content-Length: 0', {}, ''],
    ['application/json', { 'Content-Type': 'application/json' }, '{}'],
    ['application/json; charset=utf-8', { 'Content-Type': 'Application/JSON; charset=utf-8' }, '{"why":"maintenance"}'],
    ['application/json with no body (fetch with the header and no body)', { 'Content-Type': 'application/json' }, ''],
    ['chunked application/json', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, '2\r\n{}\r\n0\r\n\r\n'],
  ]
  let drained = false
  for (const [what, headers, body] of accepted) {
    drained = !drained
    const r = await raw(p.port, { method: 'POST', target: drained ? DRAIN : UNDRAIN, host: p.own, headers, ...(body === undefined ? {} : { body }) })
    t.equal(r.status, 200, what)
    t.equal(p.draining(), drained, `and the member is ${drained ? 'drained' : 'back'}`)
  }
  const broken = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { 'Content-Type': 'application/json' }, body: '{"x":' })
  t.equal(broken.status, 400, 'JSON that does not parse')
  t.equal(p.draining(), drained, 'changes nothing')
  const reload = await raw(p.port, { method: 'POST', target: '/api/reload', host: p.own, headers: { 'Content-Type': 'application/json' }, body: '{}' })
  t.equal(reload.status, 409, 'a JSON reload reaches the handler (409: this proxy has no file to re-read)')
})

t.test('with a token, POST routes take it from the Authorization header only', async (t) => {
  const p = await startPlane(t, { token: true })
  const inQuery = await raw(p.port, { method: 'POST', target: `${DRAIN}?token=${TOKEN}`, host: p.own })
  t.equal(inQuery.status, 401, 'POST with ?token=')
  t.match(json(inQuery).message, /Authorization header only/, 'and the answer says where it goes')
  t.match(inQuery.headers.get('www-authenticate'), /^Bearer/)
  t.notOk(p.draining(), 'nothing drained')
  const reload = await raw(p.port, { method: 'POST', target: `/api/reload?token=${TOKEN}`, host: p.own, headers: { 'Content-Type': 'application/json' }, body: '{}' })
  t.equal(reload.status, 401, 'the reload with ?token=')
  t.equal((await raw(p.port, { method: 'POST', target: DRAIN, host: p.own })).status, 401, 'no token at all')
  t.equal((await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { Authorization: 'Bearer wrong' } })).status, 401, 'a wrong one')
  t.equal((await raw(p.port, { method: 'POST', target: `${DRAIN}?token=${TOKEN}`, host: p.own, headers: { Authorization: 'Bearer wrong' } })).status, 401, 'a wrong header beside a right query')
  t.notOk(p.draining())

  const ok = await raw(p.port, { method: 'POST', target: DRAIN, host: p.own, headers: { Authorization: `Bearer ${TOKEN}` } })
  t.equal(ok.status, 200, 'Authorization: Bearer')
  t.ok(p.draining())

  // The token does not open what Host and Origin close, and is not asked for first.
  const foreign = await raw(p.port, { method: 'POST', target: UNDRAIN, host: 'evil.example', headers: { Authorization: `Bearer ${TOKEN}` } })
  t.equal(foreign.status, 421, 'a foreign Host with the token')
  const crossSite = await raw(p.port, { method: 'POST', target: UNDRAIN, host: p.own, headers: { Authorization: `Bearer ${TOKEN}`, Origin: 'http://evil.example' } })
  t.equal(crossSite.status, 403, 'a cross-site POST with the token')
  const text = await raw(p.port, { method: 'POST', target: UNDRAIN, host: p.own, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/plain' }, body: 'x' })
  t.equal(text.status, 415, 'text/plain with the token')
  const anonymousText = await raw(p.port, { method: 'POST', target: UNDRAIN, host: p.own, headers: { 'Content-Type': 'text/plain' }, body: 'x' })
  t.equal(anonymousText.status, 401, 'without the token, a POST learns nothing about its body')
  t.ok(p.draining(), 'still drained: none of them undrained')

  // GETs keep ?token=: the page's assets and its EventSource cannot send a header.
  t.equal((await raw(p.port, { target: `/readyz?token=${TOKEN}`, host: p.own })).status, 200, 'GET /readyz?token=')
  t.equal((await raw(p.port, { target: `/static/app.js?token=${TOKEN}`, host: p.own })).status, 200, 'GET /static/app.js?token=')
  t.equal((await raw(p.port, { method: 'HEAD', target: `/readyz?token=${TOKEN}`, host: p.own })).status, 200, 'HEAD /readyz?token=')
  t.equal((await raw(p.port, { target: '/readyz?token=wrong', host: p.own })).status, 401, 'a wrong one')
  t.equal((await raw(p.port, { target: '/healthz', host: p.own })).status, 200, '/healthz needs none')
})

// A port forward (ssh -L, docker -p): bytes relayed to the admin listener unchanged.
async function portForward (t: Test, to: () => number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(to(), '127.0.0.1')
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as net.AddressInfo).port
}

t.test('names given to the plane are accepted as Host and Origin', async (t) => {
  let adminPort = 0
  const forwarded = await portForward(t, () => adminPort)
  const p = await startPlane(t, { hosts: ['admin.lab.contoso.com', '192.0.2.80', `127.0.0.1:${forwarded}`] })
  adminPort = p.port
  t.equal((await raw(p.port, { target: '/api/routes', host: `admin.lab.contoso.com:${p.port}` })).status, 200, 'the given name, with the listener\'s port')
  t.equal((await raw(p.port, { target: '/api/routes', host: `192.0.2.80:${p.port}` })).status, 200, 'the given address')
  t.equal((await raw(p.port, { target: '/api/routes', host: `other.lab.contoso.com:${p.port}` })).status, 421, 'not another')
  t.equal((await raw(p.port, { target: '/api/routes', host: `admin.lab.contoso.com:${forwarded}` })).status, 421, 'nor the given name on another port')
  const post = await raw(p.port, { method: 'POST', target: DRAIN, host: `admin.lab.contoso.com:${p.port}`, headers: { Origin: `http://admin.lab.contoso.com:${p.port}` } })
  t.equal(post.status, 200, 'its page\'s POST')
  t.ok(p.draining())

  // Through the port forward the Host (and the page's Origin) carry the forwarded port.
  const through = await raw(forwarded, { target: '/api/routes', host: `127.0.0.1:${forwarded}` })
  t.equal(through.status, 200, 'the forwarded address:port, given with its port')
  const undrain = await raw(forwarded, { method: 'POST', target: UNDRAIN, host: `127.0.0.1:${forwarded}`, headers: { Origin: `http://127.0.0.1:${forwarded}`, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' }, body: '{}' })
  t.equal(undrain.status, 200, 'and the page\'s POST through it')
  t.notOk(p.draining())
  t.equal((await raw(forwarded, { target: '/api/routes', host: `localhost:${forwarded}` })).status, 421, 'only the forwarded name that was given')
})

t.test('which names an admin address goes by', async (t) => {
  const loop = new AdminHosts(['127.0.0.1'], 9090)
  for (const h of ['127.0.0.1:9090', 'localhost:9090', '[::1]:9090']) t.ok(loop.accepts(h), `loopback: ${h}`)
  for (const h of ['127.0.0.1', 'localhost:9091', '0.0.0.0:9090', os.hostname() + ':9090']) t.notOk(loop.accepts(h), `loopback: not ${h}`)

  const v6 = new AdminHosts(['::1'], 9090)
  t.ok(v6.accepts('[::1]:9090') && v6.accepts('localhost:9090') && v6.accepts('127.0.0.1:9090'), '::1 is loopback too')
  t.notOk(v6.accepts('::1:9090'), 'an IPv6 address only in brackets')

  const lan = new AdminHosts(['192.0.2.7'], 9090)
  t.ok(lan.accepts('192.0.2.7:9090'), 'a LAN address: itself')
  t.notOk(lan.accepts('localhost:9090'), 'and not localhost, which it does not listen on')

  const given = new AdminHosts(['127.0.0.1'], 9090, ['127.0.0.1:19090', '[fd00::5]:19090', 'fd00::6', 'Admin.Lab.', 'web.lab:80'])
  for (const h of ['127.0.0.1:19090', '[fd00::5]:19090', '[fd00::6]:9090', 'admin.lab:9090', 'web.lab', 'web.lab:80']) t.ok(given.accepts(h), `given: ${h}`)
  for (const h of ['[fd00::5]:9090', '[fd00::6]:19090', 'web.lab:9090', 'admin.lab']) t.notOk(given.accepts(h), `given: not ${h}`)

  const web = new AdminHosts(['127.0.0.1'], 80)
  t.ok(web.accepts('localhost') && web.accepts('localhost:80'), 'on port 80, with or without the port')

  // A wildcard address listens on every interface: every address of this machine, and its name.
  const any = new AdminHosts(['0.0.0.0', '0.0.0.0'], 9090)
  const addresses = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).map((i) => i.family === 'IPv6' ? `[${i.address.replace(/%.*$/, '')}]` : i.address)
  t.ok(addresses.length > 0)
  for (const a of addresses) t.ok(any.accepts(`${a}:9090`), `wildcard: ${a}`)
  t.ok(any.accepts(`${os.hostname()}:9090`), 'wildcard: the host name')
  t.ok(any.accepts('localhost:9090'), 'wildcard: localhost')
  t.notOk(any.accepts('0.0.0.0:9090'), 'wildcard: not the wildcard itself')
  t.notOk(any.accepts('evil.example:9090'), 'wildcard: not a foreign name')
})
