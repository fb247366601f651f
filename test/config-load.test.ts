// Loading valid configurations: the shipped files, defaults, overrides, freezing, warnings.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { LyncProxyError } from '../src/errors.js'
import { loadConfigFile, overridesFromEnv, parseConfig, validateConfigObject } from '../src/config/load.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// Smallest useful config: one http and one https listener, one pool, one rule, everything else default.
const MINIMAL = `listeners:
  - name: web-http
    protocol: http
    address: 127.0.0.1
    port: 8080
  - name: web-https
    protocol: https
    address: 127.0.0.1
    port: 8443
    certificates:
      - lab: true
pools:
  fe:
    fqdn: pool01.contoso.net
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
`

t.test('config/lab.yaml validates', async (t) => {
  const file = path.join(root, 'config/lab.yaml')
  const loaded = await loadConfigFile(file)
  t.equal(loaded.file, file)
  t.equal(loaded.baseDir, path.join(root, 'config'))
  t.same(loaded.warnings, [])
  const { config } = loaded
  t.same(config.listeners.filter((l) => l.interface === 'external').map((l) => [l.name, l.protocol, l.port]), [['external-http', 'http', 80], ['external-https', 'https', 443]])
  t.same(config.listeners.filter((l) => l.interface === 'internal').map((l) => [l.name, l.address, l.port]), [
    ['dir-vip-http', '127.0.1.2', 80], ['dir-vip-https', '127.0.1.2', 443], ['dir-vip-ext-http', '127.0.1.2', 8080], ['dir-vip-ext-https', '127.0.1.2', 4443],
  ], 'the Director HLB VIP is on the internal interface')
  t.same(Object.keys(config.pools), ['fe', 'dir', 'dir-servers', 'owas'])
  t.same(config.pools.fe?.members.map((m) => m.name), ['fe01', 'fe02'])
  t.same(config.tcp.map((f) => f.port), [5061, 444, 50001, 50002, 50003], 'the HLB layer-4 ports of the second seed')
  t.equal(config.rules.length, 8)
  const longpoll = config.rules.find((r) => r.name === 'webext-longpoll')
  t.same(longpoll?.timeouts, { connect: 5, response: 960 }, 'rule timeout merged over defaults')
  t.same(longpoll?.paths, ['/ucwa', '/mcx'])
  // config/ is a directory named config, so the certs directory is the repository's certs/.
  t.equal(config.certs.dir, path.join(root, 'certs'))
})

t.test('config/example-deployment.yaml validates (its files need not exist)', async (t) => {
  const loaded = await loadConfigFile(path.join(root, 'config/example-deployment.yaml'))
  const { config } = loaded
  t.same(loaded.warnings, [])
  t.same(config.listeners.map((l) => `${l.address}:${l.port}`), ['0.0.0.0:80', '0.0.0.0:443'])
  t.same(Object.keys(config.pools), ['fe', 'dir', 'owas'])
  const https = config.listeners.find((l) => l.protocol === 'https')
  t.match(https?.certificates?.[0], { pfx: String, passphraseEnv: String })
  for (const pool of Object.values(config.pools)) {
    t.equal(pool.address, pool.fqdn, 'pools are reached by their HLB VIP FQDN')
    t.not(pool.tls.ca[0], 'lab', 'pools trust the internal CA, not the lab CA')
  }
  const deny = config.rules[0]
  t.equal(deny?.action, 'deny')
  t.ok(deny?.publicNames.includes('admin.contoso.com'), 'admin simple URL is denied')
  const discover = config.rules.filter((r) => r.name.startsWith('lyncdiscover'))
  t.equal(discover.length, 2)
  for (const r of discover) t.ok(r.publicNames.includes('lyncdiscover.fabrikam.com'), 'lyncdiscover for every SIP domain')
  t.equal(config.certs.dir, '/var/lib/lyncproxy/certs')
})

t.test('defaults are applied', async (t) => {
  const { config } = parseConfig(MINIMAL, '/srv/lyncproxy/lyncproxy.yaml')
  const [http, https] = config.listeners
  t.equal(http?.redirectToHttps, true, 'http listeners redirect to https by default')
  t.equal(https?.redirectToHttps, false, 'never on https listeners')
  t.same(config.pools.fe, {
    fqdn: 'pool01.contoso.net',
    kind: 'vip',
    members: [{ name: 'vip', address: 'pool01.contoso.net', httpPort: 8080, httpsPort: 4443, weight: 1 }],
    balance: 'round-robin',
    affinity: 'none',
    health: { check: 'none', path: '/autodiscover/autodiscoverservice.svc/root', interval: 5, timeout: 2, rise: 2, fall: 3 },
    passive: { failures: 3, backoff: 10 },
    address: 'pool01.contoso.net',
    httpPort: 8080,
    httpsPort: 4443,
    maxSockets: 128,
    tls: { ca: ['lab'], verify: true, servername: 'pool01.contoso.net' },
  })
  const rule = config.rules[0]
  t.same(rule?.paths, ['/'])
  t.same(rule?.listeners, ['web-http', 'web-https'], 'a rule without listeners is on all of them')
  t.equal(rule?.redirectStatus, 301)
  t.same(rule?.timeouts, { connect: 5, response: 120 })
  t.equal(rule?.longPoll, false, 'a rule carries long polls only when it says so')
  t.same(config.defaults, { timeouts: { connect: 5, response: 120 }, clientIdleTimeout: 120, headersTimeout: 30, requestTimeout: 300, handshakeTimeout: 10, maxConnections: 20_000, maxHeaderBytes: 16_384, underscoreHeaders: 'refuse', trustedProxies: [], maxBodyBytes: 256 * 1024 * 1024, requestBufferBytes: 64 * 1024 })
  t.equal(config.log.level, 'info')
  t.equal(config.certs.dir, '/srv/lyncproxy/certs', 'certs beside a config that is not in config/')
})

t.test('explicit values win over defaults; rule timeouts merge with defaults.timeouts', async (t) => {
  const text = MINIMAL.replace('    fqdn: pool01.contoso.net\n', `    fqdn: pool01.contoso.net
    address: 10.0.0.10
    httpPort: 80
    httpsPort: 443
    maxSockets: 10
    tls:
      ca: [internal-ca.pem]
      servername: webpool.contoso.net
`) + `    timeouts:
      response: 960
defaults:
  timeouts:
    connect: 3
  clientIdleTimeout: 60
certs:
  dir: /var/lib/lyncproxy/certs
log:
  level: debug
`
  const { config } = parseConfig(text, '/srv/lyncproxy/lyncproxy.yaml')
  t.match(config.pools.fe, { address: '10.0.0.10', httpPort: 80, httpsPort: 443, maxSockets: 10 })
  t.same(config.pools.fe?.tls, { ca: ['internal-ca.pem'], verify: true, servername: 'webpool.contoso.net' })
  t.same(config.rules[0]?.timeouts, { connect: 3, response: 960 })
  t.same(config.defaults.timeouts, { connect: 3, response: 120 })
  t.equal(config.defaults.clientIdleTimeout, 60)
  t.equal(config.certs.dir, '/var/lib/lyncproxy/certs')
  t.equal(config.log.level, 'debug')
})

t.test('listener address defaults to 127.0.0.1', async (t) => {
  const { config } = parseConfig(MINIMAL.replace('    address: 127.0.0.1\n    port: 8080\n', '    port: 8080\n'), 'x.yaml')
  t.equal(config.listeners[0]?.address, '127.0.0.1')
})

t.test('certs.dir resolution', async (t) => {
  const withDir = (dir: string): string => MINIMAL + `certs:\n  dir: ${dir}\n`
  t.equal(parseConfig(MINIMAL, '/opt/lp/config/a.yaml').config.certs.dir, '/opt/lp/certs', 'parent of a config/ directory')
  t.equal(parseConfig(withDir('certs'), '/opt/lp/config/a.yaml').config.certs.dir, '/opt/lp/certs', 'writing the default changes nothing')
  t.equal(parseConfig(withDir('tls'), '/etc/lp/a.yaml').config.certs.dir, '/etc/lp/tls')
  t.equal(parseConfig(withDir('/abs/certs'), '/etc/lp/a.yaml').config.certs.dir, '/abs/certs')
})

t.test('log.file resolves against the config file\'s directory', async (t) => {
  const withLog = (file: string): string => MINIMAL + `log:\n  file: ${file}\n`
  t.equal(parseConfig(withLog('logs/lp.log'), '/etc/lp/a.yaml').config.log.file, '/etc/lp/logs/lp.log')
  t.equal(parseConfig(withLog('/var/log/lp.log'), '/etc/lp/a.yaml').config.log.file, '/var/log/lp.log')
  t.equal(parseConfig(MINIMAL, '/etc/lp/a.yaml').config.log.file, undefined, 'no log.file: stdout')
})

t.test('the result is deep-frozen plain data and the input is not modified', async (t) => {
  const input = parseYaml(MINIMAL) as Record<string, unknown>
  const before = JSON.stringify(input)
  const { config } = validateConfigObject(input, { file: 'built-in-code', baseDir: '/srv/lp' })
  t.equal(JSON.stringify(input), before, 'input unchanged')
  t.notOk(Object.isFrozen(input), 'input not frozen')
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.listeners))
  t.ok(Object.isFrozen(config.pools.fe?.tls.ca))
  t.ok(Object.isFrozen(config.rules[0]?.timeouts))
  t.throws(() => { (config.rules as unknown as unknown[]).push({}) }, TypeError)
  t.same(JSON.parse(JSON.stringify(config)), config, 'JSON round trip: plain data')
})

t.test('overrides replace the port of every http / https listener', async (t) => {
  const twoHttp = MINIMAL.replace('listeners:\n', `listeners:
  - name: admin-http
    protocol: http
    address: 127.0.0.2
    port: 81
`)
  const { config } = parseConfig(twoHttp, 'x.yaml', { overrides: { httpPort: 18080, httpsPort: 0 } })
  t.same(config.listeners.map((l) => [l.name, l.port]), [['admin-http', 18080], ['web-http', 18080], ['web-https', 0]])

  const onlyHttps = parseConfig(MINIMAL, 'x.yaml', { overrides: { httpsPort: 9443 } }).config
  t.same(onlyHttps.listeners.map((l) => l.port), [8080, 9443])

  // Two https listeners on one address forced onto port 0 is fine: 0 means "any free port".
  const both = MINIMAL.replace('pools:\n', `  - name: other-https
    protocol: https
    address: 127.0.0.1
    port: 9443
    certificates: [{ lab: true }]
pools:
`)
  t.same(parseConfig(both, 'x.yaml', { overrides: { httpsPort: 0 } }).config.listeners.map((l) => l.port), [8080, 0, 0])

  t.throws(() => parseConfig(MINIMAL, 'x.yaml', { overrides: { httpPort: 70000 } }), { code: 'LRP_ERR_USAGE' })
  t.throws(() => parseConfig(MINIMAL, 'x.yaml', { overrides: { httpPort: 1.5 } }), { code: 'LRP_ERR_USAGE' })
})

t.test('overridesFromEnv', async (t) => {
  t.same(overridesFromEnv({}), {})
  t.same(overridesFromEnv({ LYNCPROXY_HTTP_PORT: '8080', LYNCPROXY_HTTPS_PORT: '0' }), { httpPort: 8080, httpsPort: 0 })
  t.same(overridesFromEnv({ LYNCPROXY_HTTPS_PORT: ' 8443 ' }), { httpsPort: 8443 })
  t.same(overridesFromEnv({ LYNCPROXY_HTTP_PORT: '' }), {}, 'empty means unset')
  for (const bad of ['abc', '70000', '-1', '80.5', '0x50']) {
    let err: unknown
    try { overridesFromEnv({ LYNCPROXY_HTTPS_PORT: bad }) } catch (e) { err = e }
    t.ok(err instanceof LyncProxyError, `${bad} is rejected`)
    t.equal((err as LyncProxyError).code, 'LRP_ERR_USAGE')
    t.match((err as LyncProxyError).message, /LYNCPROXY_HTTPS_PORT/)
    t.match((err as LyncProxyError).message, bad)
    t.equal((err as LyncProxyError).exitCode, 64)
  }
})

t.test('warnings: upstream TLS verification off', async (t) => {
  const text = MINIMAL.replace('    fqdn: pool01.contoso.net\n', '    fqdn: pool01.contoso.net\n    tls:\n      verify: false\n')
  const loaded = parseConfig(text, 'x.yaml')
  t.same(loaded.warnings, ['upstream TLS verification is off for pool fe: the proxy will forward to any server that answers on its address'])
  t.equal(loaded.config.pools.fe?.tls.verify, false)
})

t.test('lab certificates and ca: [lab] are accepted without a lab section', async (t) => {
  const text = MINIMAL.replace('    fqdn: pool01.contoso.net\n', '    fqdn: pool01.contoso.net\n    tls:\n      ca: [lab]\n')
  t.doesNotThrow(() => parseConfig(text, 'x.yaml'))
})

t.test('validateConfigObject resolves paths against the given baseDir', async (t) => {
  const loaded = validateConfigObject(parseYaml(MINIMAL), { file: 'inline', baseDir: '/a/config' })
  t.equal(loaded.file, 'inline')
  t.equal(loaded.baseDir, '/a/config')
  t.equal(loaded.config.certs.dir, '/a/certs')
})
