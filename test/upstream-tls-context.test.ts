// A pool builds one TLS context and every upstream connection shares it. Given only `ca`, each
// tls.connect would build its own and parse the CA PEM again (0.65 ms, and an OpenSSL context, per
// connection): 5,000 long polls connecting spent 3.3 s of CPU on it.
import tls from 'node:tls'
import t from 'tap'
import { request } from './helpers/client.js'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startUpstream } from './helpers/upstream.js'

const HOST = 'webext.contoso.com'

t.test('new upstream TLS connections, by undici and by node:http, build no TLS context of their own', async (t) => {
  const certs = await testCertificates()
  const up = await startUpstream(undefined, certs.internal.get('fe'))
  t.teardown(() => up.close())
  const p = await startTestProxy({
    pools: { fe: pool(up.port) },
    rules: [
      { name: 'events', publicNames: [HOST], paths: ['/ucwa'], action: 'forward', pool: 'fe', longPoll: true, timeouts: { response: 960 } },
      { name: 'webext', publicNames: [HOST], action: 'forward', pool: 'fe' },
    ],
  })
  t.teardown(() => p.close())
  // Node's TLS client calls the module's createSecureContext when it is given no context. The
  // proxy's connections are told apart from this test's own clients by the name they send (SNI).
  const original = tls.createSecureContext
  let built = 0
  tls.createSecureContext = (options) => {
    if ((options as tls.ConnectionOptions | undefined)?.servername === 'pool01.contoso.net') built++
    return original(options)
  }
  t.teardown(() => { tls.createSecureContext = original })
  // Concurrent requests each need a connection of their own: undici opens several, and long polls
  // (node:http) one each.
  const replies = await Promise.all([
    ...[1, 2, 3].map((n) => request({ port: p.httpsPort, host: HOST, path: `/Autodiscover/${n}`, tls: { ca: certs.caPem } })),
    ...[1, 2, 3].map((n) => request({ port: p.httpsPort, host: HOST, path: `/ucwa/events/${n}`, tls: { ca: certs.caPem } })),
  ])
  t.same(replies.map((r) => r.status), [200, 200, 200, 200, 200, 200])
  t.ok(up.connections() >= 4, `the upstream accepted ${up.connections()} TLS connections`)
  t.same(up.requests.map((r) => r.url).sort(), ['/Autodiscover/1', '/Autodiscover/2', '/Autodiscover/3', '/ucwa/events/1', '/ucwa/events/2', '/ucwa/events/3'])
  t.equal(built, 0, 'no TLS context was built for them')
})
