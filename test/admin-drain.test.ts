// Draining a member through the admin API: no new requests reach it, its request in flight
// finishes, undrain puts it back, and a reload keeps the drain.
import http from 'node:http'
import pino from 'pino'
import t from 'tap'
import { startAdmin } from '../src/admin/server.js'
import { validateConfigObject } from '../src/config/load.js'
import { request } from './helpers/client.js'
import { startTestProxy } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

function adminCall (port: number, path: string): Promise<{ status: number, body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('drain and undrain a pool member through the admin API', async (t) => {
  let release: (() => void) | undefined
  const a = await startUpstream((req, res) => {
    if (req.url === '/hold') { release = () => { res.end('a') }; return }
    res.writeHead(200, { 'X-Who': 'a' }); res.end('a')
  })
  const b = await startUpstream((_req, res) => { res.writeHead(200, { 'X-Who': 'b' }); res.end('b') })
  const config = {
    pools: {
      fe: {
        fqdn: 'pool01.contoso.net',
        kind: 'members',
        members: [{ name: 'a', address: '127.0.0.1', httpPort: a.port }, { name: 'b', address: '127.0.0.1', httpPort: b.port }],
        health: { check: 'none' },
      },
    },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] }],
  }
  const p = await startTestProxy(config)
  const admin = await startAdmin({ proxy: p.proxy, logger: pino({ level: 'silent' }), port: 0, processMetrics: false })
  t.teardown(async () => { await admin.close(); await p.close(); await a.close(); await b.close() })
  const adminPort = Number(new URL(admin.url).port)
  const who = async (): Promise<string> => String((await request({ port: p.httpPort, host: 'webext.contoso.com' })).headers['x-who'])

  // A request held on member a while it is drained.
  let held: Promise<unknown> | undefined
  for (let i = 0; i < 4 && release === undefined; i++) {
    const r = request({ port: p.httpPort, host: 'webext.contoso.com', path: '/hold' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (release !== undefined) held = r
  }
  t.ok(release !== undefined, 'a request is held on member a')

  const drained = await adminCall(adminPort, '/api/pools/fe/members/a/drain')
  t.equal(drained.status, 200)
  t.match(drained.body, { pool: 'fe', member: 'a', draining: true, active: 1 })
  const seen = new Set<string>()
  for (let i = 0; i < 6; i++) seen.add(await who())
  t.same([...seen], ['b'], 'a drained member gets no new requests')
  release?.()
  await held
  t.pass('its request in flight finished')

  const listeners = [
    { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
    { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
  ]
  await p.proxy.reload(validateConfigObject({ ...config, listeners, certs: { dir: p.proxy.config().certs.dir } }, { file: 'test-config.yaml', baseDir: process.cwd() }))
  const afterReload = new Set<string>()
  for (let i = 0; i < 6; i++) afterReload.add(await who())
  t.same([...afterReload], ['b'], 'the drain outlives a reload')

  const undrained = await adminCall(adminPort, '/api/pools/fe/members/a/undrain')
  t.match(undrained.body, { member: 'a', draining: false })
  const back = new Set<string>()
  for (let i = 0; i < 6; i++) back.add(await who())
  t.same([...back].sort(), ['a', 'b'], 'undrain puts it back in rotation')

  const missing = await adminCall(adminPort, '/api/pools/fe/members/zz/drain')
  t.equal(missing.status, 404, 'an unknown member')
  const badAction = await adminCall(adminPort, '/api/pools/fe/members/a/explode')
  t.equal(badAction.status, 400, 'the schema refuses an unknown action')
})
