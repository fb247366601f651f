// Publishing rules: actions, order, segment boundaries, case, unknown names and paths, SNI vs Host.
import t from 'tap'
import { request } from './helpers/client.js'
import { pool, startTestProxy } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

t.test('publishing rules route by public name and path, first match wins', async (t) => {
  const fe = await startUpstream((req, res) => { res.writeHead(200, { 'X-Who': 'fe' }); res.end(req.url) })
  const dir = await startUpstream((req, res) => { res.writeHead(200, { 'X-Who': 'dir' }); res.end(req.url) })
  const p = await startTestProxy({
    pools: { fe: pool(fe.port), dir: pool(dir.port, { fqdn: 'dirpool.contoso.net' }) },
    rules: [
      { name: 'deny-cscp', publicNames: ['webext.contoso.com'], paths: ['/cscp'], action: 'deny' },
      { name: 'abs-to-dir', publicNames: ['webext.contoso.com'], paths: ['/abs'], action: 'forward', pool: 'dir', listeners: ['external-http'] },
      { name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] },
      { name: 'meet-only', publicNames: ['Meet.Contoso.com'], paths: ['/meet', '/dialin/'], action: 'forward', pool: 'dir' },
      { name: 'wild', publicNames: ['*.lab.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] },
      { name: 'to-https', publicNames: ['webdirext.contoso.com'], action: 'redirect', redirectStatus: 308, listeners: ['external-http'] },
    ],
  })
  t.teardown(async () => { await p.close(); await fe.close(); await dir.close() })
  const get = (host: string, path: string) => request({ port: p.httpPort, host, path })

  let r = await get('webext.contoso.com', '/abs/handler/F-1.lsabs')
  t.equal(r.headers['x-who'], 'dir', '/abs rule comes before the catch-all')
  r = await get('webext.contoso.com', '/ABS')
  t.equal(r.headers['x-who'], 'dir', 'path prefixes match case-insensitively, as IIS does')
  r = await get('webext.contoso.com', '/absx')
  t.equal(r.headers['x-who'], 'fe', '/abs does not match /absx (segment boundary)')
  r = await get('webext.contoso.com', '/abs?x=1')
  t.equal(r.headers['x-who'], 'dir', '/abs matches with a query')
  r = await get('webext.contoso.com', '/CSCP/x')
  t.equal(r.status, 403, 'deny rule')
  t.match(r.body, /deny-cscp/, 'the body names the rule')
  t.equal(fe.requests.filter((q) => q.url.toLowerCase().startsWith('/cscp')).length, 0, 'a denied path never reaches the upstream')

  r = await get('WEBEXT.Contoso.COM.:80', '/ucwa')
  t.equal(r.headers['x-who'], 'fe', 'host matched case-insensitively, trailing dot and port ignored')
  t.equal(fe.requests.at(-1)?.headers.host, 'WEBEXT.Contoso.COM.:80', 'the original Host is forwarded unchanged')

  r = await get('meet.contoso.com', '/meet/user1/ABC')
  t.equal(r.headers['x-who'], 'dir')
  r = await get('meet.contoso.com', '/dialin/')
  t.equal(r.headers['x-who'], 'dir', 'prefix with trailing slash')
  r = await request({ port: p.httpsPort, host: 'meet.contoso.com', path: '/other', tls: { ca: p.certs.caPem } })
  t.equal(r.status, 404, 'a path no rule publishes is not forwarded')
  t.equal(r.headers['x-lyncproxy-error'], 'path_not_published')
  r = await get('meet.contoso.com', '/other?q=1')
  t.equal(r.status, 301, 'on port 80 a published name that no http rule covers is redirected to https')
  t.equal(r.headers.location, `https://meet.contoso.com:${p.httpsPort}/other?q=1`)

  r = await get('a.lab.contoso.com', '/x')
  t.equal(r.headers['x-who'], 'fe', 'wildcard public name')
  r = await get('a.b.lab.contoso.com', '/x')
  t.equal(r.status, 404, 'a wildcard covers one label only')

  r = await get('admin.contoso.com', '/')
  t.equal(r.status, 404, 'unpublished name')
  t.equal(r.headers['x-lyncproxy-error'], 'not_published')
  t.equal(r.headers['content-type'], 'text/plain; charset=utf-8')

  r = await get('webdirext.contoso.com', '/x?y=1')
  t.equal(r.status, 308, 'explicit redirect rule with its status')
  t.match(r.headers.location ?? '', new RegExp(`^https://webdirext\\.contoso\\.com:${p.httpsPort}/x\\?y=1$`))

  const total = fe.requests.length + dir.requests.length
  t.equal(total, 8, 'only the published requests reached an upstream')
})

t.test('SNI and Host naming different sites: 421 unless the certificate covers the Host', async (t) => {
  const fe = await startUpstream((req, res) => { res.end(req.headers.host) }, undefined)
  const p = await startTestProxy({
    pools: { fe: pool(fe.port, { httpsPort: 1 }) },
    rules: [
      { name: 'webext', publicNames: ['webext.contoso.com', 'other.example.org'], action: 'deny' },
    ],
  })
  t.teardown(async () => { await p.close(); await fe.close() })
  const ca = p.certs.caPem
  let r = await request({ port: p.httpsPort, host: 'webext.contoso.com', tls: { ca } })
  t.equal(r.status, 403, 'same SNI and Host: routed (to the deny rule)')
  r = await request({ port: p.httpsPort, host: 'webext.contoso.com', tls: { ca, servername: 'meet.contoso.com' } })
  t.equal(r.status, 403, 'SNI meet, Host webext: the SAN certificate covers both, served')
  r = await request({ port: p.httpsPort, host: 'other.example.org', tls: { ca, servername: 'meet.contoso.com' } })
  t.equal(r.status, 421, 'the certificate chosen for the SNI does not cover the Host')
  t.equal(r.headers['x-lyncproxy-error'], 'misdirected')
})
