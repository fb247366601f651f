// Each kind of configuration error: its code, where it points (file, line, column, path) and whether
// the message tells the operator what to write instead.
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { LyncProxyError, LyncProxyErrors } from '../src/errors.js'
import { formatErrors, loadConfigFile, parseConfig, validateConfigObject } from '../src/config/load.js'

const FILE = 'config/test.yaml'

const BASE = `listeners:
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
  dir:
    fqdn: dirpool.contoso.net
rules:
  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
`

function errorsOf (fn: () => unknown): LyncProxyError[] {
  try {
    fn()
  } catch (e) {
    if (e instanceof LyncProxyErrors) return e.errors
    throw e
  }
  throw new Error('expected the config to be rejected')
}

function parseErrors (text: string): LyncProxyError[] {
  return errorsOf(() => parseConfig(text, FILE))
}

// 1-based line of the first line containing `needle`, so the tests follow edits of the YAML.
function lineOf (text: string, needle: string, from = 0): number {
  const lines = text.split('\n')
  const i = lines.findIndex((l, n) => n >= from && l.includes(needle))
  if (i < 0) throw new Error(`${needle} not in text`)
  return i + 1
}

function replace (text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`${from} not in text`)
  return text.replace(from, to)
}

t.test('the base config is valid', async (t) => {
  t.doesNotThrow(() => parseConfig(BASE, FILE))
})

t.test('unknown key, with did-you-mean and the allowed keys', async (t) => {
  const text = replace(BASE, '    pool: fe\n', '    pol: fe\n')
  const errors = parseErrors(text)
  t.equal(errors.length, 1, 'one error, not also "forward without pool"')
  const [e] = errors
  t.equal(e?.code, 'LRP_ERR_CONFIG_SCHEMA')
  t.same(e?.location, { file: FILE, line: lineOf(text, 'pol: fe'), column: 5, path: '/rules/0/pol' })
  t.match(e?.message, /^unknown key 'pol' \(did you mean 'pool'\?\); allowed here: name, description, publicNames, .*pool/)
  t.match(e?.fix, /rename 'pol' to 'pool'/)
  t.equal(e?.exitCode, 2)
})

t.test('unknown key without a close match lists the allowed keys only', async (t) => {
  const text = replace(BASE, '    fqdn: pool01.contoso.net\n', '    fqdn: pool01.contoso.net\n    weight: 100\n')
  const [e] = parseErrors(text)
  t.equal(e?.location.path, '/pools/fe/weight')
  t.equal(e?.location.line, lineOf(text, 'weight'))
  t.notMatch(e?.message, /did you mean/)
  t.match(e?.message, /allowed here: .*fqdn, .*httpsPort/)
})

t.test('wrong type: port', async (t) => {
  const text = replace(BASE, 'port: 8443', 'port: abc')
  const [e, ...rest] = parseErrors(text)
  t.equal(rest.length, 0)
  t.equal(e?.code, 'LRP_ERR_CONFIG_SCHEMA')
  t.same(e?.location, { file: FILE, line: lineOf(text, 'port: abc'), column: 11, path: '/listeners/1/port' })
  t.equal(e?.message, "expected an integer from 0 to 65535, got 'abc'")

  const quoted = parseErrors(replace(BASE, 'port: 8443', 'port: "8443"'))
  t.match(quoted[0]?.message, /got '8443' \(write the number without quotes\)/)

  const big = parseErrors(replace(BASE, 'port: 8443', 'port: 70000'))
  t.equal(big[0]?.message, 'expected an integer from 0 to 65535, got 70000')
})

t.test('union of literals: bad action gives one message', async (t) => {
  const text = replace(BASE, 'action: forward', 'action: foward')
  const errors = parseErrors(text)
  t.equal(errors.length, 1, 'no pile of anyOf errors')
  t.equal(errors[0]?.location.path, '/rules/0/action')
  t.equal(errors[0]?.location.line, lineOf(text, 'action: foward'))
  t.equal(errors[0]?.message, "must be one of forward, redirect, deny, got 'foward' (did you mean 'forward'?)")
})

t.test('union of mappings: certificate entries', async (t) => {
  const typo = parseErrors(replace(BASE, '- lab: true', '- lib: true'))
  t.equal(typo.length, 1)
  t.equal(typo[0]?.location.path, '/listeners/1/certificates/0')
  t.match(typo[0]?.message, /one of these forms: \{lab: true\}, \{labInternal\}, \{cert, key\}, \{pfx\}/)
  t.match(typo[0]?.message, /unknown key 'lib' \(did you mean 'lab'\?\)/)

  const halfPem = parseErrors(replace(BASE, '- lab: true', '- cert: webext.crt'))
  t.equal(halfPem.length, 1)
  t.equal(halfPem[0]?.message, "missing required key 'key'", 'judged as the cert/key form')

  const mixed = parseErrors(replace(BASE, '- lab: true', '- pfx: webext.pfx\n        key: webext.key'))
  t.equal(mixed.length, 1)
  t.equal(mixed[0]?.location.path, '/listeners/1/certificates/0/key')
  t.match(mixed[0]?.message, /unknown key 'key'; allowed here: pfx, passphraseEnv, passphraseFile/)

  const labFalse = parseErrors(replace(BASE, '- lab: true', '- lab: false'))
  t.equal(labFalse[0]?.message, 'expected true, got false')

  const scalar = parseErrors(replace(BASE, '- lab: true', '- lab'))
  t.match(scalar[0]?.message, /expected a mapping of one of these forms: .*, got 'lab'/)
})

t.test('other schema messages', async (t) => {
  const emptyNames = parseErrors(replace(BASE, '[webext.contoso.com]', '[]'))
  t.equal(emptyNames[0]?.message, 'the list is empty; it needs at least 1 entry')

  const badName = parseErrors(replace(BASE, '[webext.contoso.com]', '[web_ext!]'))
  t.equal(badName[0]?.location.path, '/rules/0/publicNames/0')
  t.match(badName[0]?.message, /expected a DNS name/)

  const missing = parseErrors(replace(BASE, '    fqdn: dirpool.contoso.net\n', '    address: 10.0.0.1\n'))
  t.equal(missing[0]?.location.path, '/pools/dir')
  t.equal(missing[0]?.message, "missing required key 'fqdn'")

  const poolName = parseErrors(replace(BASE, '  dir:\n', '  dir pool:\n'))
  t.equal(poolName[0]?.location.path, '/pools/dir pool')
  t.match(poolName[0]?.message, /invalid pool name 'dir pool'/)

  const bool = parseErrors(replace(BASE, '    port: 8080\n', '    port: 8080\n    redirectToHttps: yes\n'))
  t.match(bool[0]?.message, /expected true or false, got 'yes'/)

  const origin = parseErrors(BASE + 'lab:\n  sipDomain: contoso.com\n  crossDomainAuthorizationList: [app.fabrikam.com]\n')
  t.equal(origin[0]?.location.path, '/lab/crossDomainAuthorizationList/0')
  t.equal(origin[0]?.message, "expected an origin such as https://app.contoso.com or http://localhost:8000, got 'app.fabrikam.com'")

  const empty = parseErrors('')
  t.equal(empty[0]?.code, 'LRP_ERR_CONFIG_SCHEMA')
  t.equal(empty[0]?.location.line, 1)
  t.match(empty[0]?.message, /the configuration is empty; expected a mapping with listeners, pools, rules/)
})

t.test('reference: rule names a pool that does not exist', async (t) => {
  const text = replace(BASE, 'pool: fe', 'pool: fee')
  const [e, ...rest] = parseErrors(text)
  t.equal(rest.length, 0)
  t.equal(e?.code, 'LRP_ERR_CONFIG_REFERENCE')
  t.same(e?.location, { file: FILE, line: lineOf(text, 'pool: fee'), column: 11, path: '/rules/0/pool' })
  t.equal(e?.message, "rule 'webext' forwards to pool 'fee', which is not defined (did you mean 'fe'?); defined pools: fe, dir")
})

t.test('reference: a pool name that exists only on Object.prototype', async (t) => {
  const [e] = parseErrors(replace(BASE, 'pool: fe', 'pool: constructor'))
  t.equal(e?.code, 'LRP_ERR_CONFIG_REFERENCE')
})

t.test('reference: rule names an unknown listener', async (t) => {
  const text = replace(BASE, '    action: forward\n', '    listeners: [web-https, web-htps]\n    action: forward\n')
  const [e, ...rest] = parseErrors(text)
  t.equal(rest.length, 0)
  t.equal(e?.code, 'LRP_ERR_CONFIG_REFERENCE')
  t.equal(e?.location.path, '/rules/0/listeners/1')
  t.equal(e?.location.line, lineOf(text, 'web-htps'))
  t.match(e?.message, /listener 'web-htps', which is not defined \(did you mean 'web-https'\?\); defined listeners: web-http, web-https/)
})

t.test('reference: action forward without pool', async (t) => {
  const text = replace(BASE, '    pool: fe\n', '')
  const [e] = parseErrors(text)
  t.equal(e?.code, 'LRP_ERR_CONFIG_REFERENCE')
  t.equal(e?.location.path, '/rules/0')
  t.equal(e?.location.line, lineOf(text, '- name: webext'))
  t.match(e?.message, /rule 'webext' has action forward but no pool; defined pools: fe, dir/)
})

t.test('conflict: duplicate listener and rule names', async (t) => {
  const text = replace(BASE, 'name: web-https', 'name: web-http') + `  - name: webext
    publicNames: [meet.contoso.com]
    action: forward
    pool: dir
`
  const errors = parseErrors(text)
  t.same(errors.map((e) => [e.code, e.location.path]), [
    ['LRP_ERR_CONFIG_CONFLICT', '/listeners/1/name'],
    ['LRP_ERR_CONFIG_CONFLICT', '/rules/1/name'],
  ])
  t.equal(errors[0]?.location.line, lineOf(text, 'name: web-http', 5))
  t.match(errors[0]?.message, /listener name 'web-http' is used twice \(also at \/listeners\/0\)/)
  t.equal(errors[1]?.location.line, lineOf(text, '- name: webext', 20))
  t.match(errors[1]?.message, /rule name 'webext' is used twice/)
})

t.test('conflict: two listeners on the same address:port', async (t) => {
  const text = replace(BASE, 'port: 8443', 'port: 8080')
  const [e, ...rest] = parseErrors(text)
  t.equal(rest.length, 0)
  t.equal(e?.code, 'LRP_ERR_CONFIG_CONFLICT')
  t.same(e?.location, { file: FILE, line: lineOf(text, 'port: 8080', 6), column: 11, path: '/listeners/1/port' })
  t.match(e?.message, /listeners 'web-http' and 'web-https' both listen on 127\.0\.0\.1:8080/)

  t.doesNotThrow(() => parseConfig(replace(BASE, 'port: 8443', 'port: 8080').replace('address: 127.0.0.1\n    port: 8080\n', 'address: 127.0.0.2\n    port: 8080\n'), FILE),
    'same port, different addresses')
  t.doesNotThrow(() => parseConfig(BASE.replaceAll(/port: \d+/g, 'port: 0'), FILE), 'port 0 never clashes')

  const wildcard = parseErrors(replace(replace(BASE, 'port: 8443', 'port: 8080'), 'address: 127.0.0.1', 'address: 0.0.0.0'))
  t.match(wildcard[0]?.message, /both listen on port 8080 \(0\.0\.0\.0 covers 127\.0\.0\.1\)/)

  const overridden = errorsOf(() => parseConfig(BASE, FILE, { overrides: { httpPort: 8443 } }))
  t.match(overridden[0]?.message, /after LYNCPROXY_HTTP_PORT \/ LYNCPROXY_HTTPS_PORT were applied/)
})

t.test('conflict: https listener without certificates, certificates on http', async (t) => {
  const noCerts = replace(BASE, '    certificates:\n      - lab: true\n', '')
  const [e] = parseErrors(noCerts)
  t.equal(e?.code, 'LRP_ERR_CONFIG_CONFLICT')
  t.equal(e?.location.path, '/listeners/1')
  t.equal(e?.location.line, lineOf(noCerts, '- name: web-https'))
  t.match(e?.message, /https listener 'web-https' has no certificates/)
  t.match(e?.fix, /lab: true/)

  const httpCerts = replace(BASE, '    port: 8080\n', '    port: 8080\n    certificates: [{ lab: true }]\n')
  const [h] = parseErrors(httpCerts)
  t.equal(h?.code, 'LRP_ERR_CONFIG_CONFLICT')
  t.equal(h?.location.path, '/listeners/0/certificates')
  t.equal(h?.location.line, lineOf(httpCerts, 'certificates: [{'))
})

t.test('conflict: redirect without an https listener, pool on deny/redirect', async (t) => {
  const httpOnly = `listeners:
  - name: web-http
    protocol: http
    address: 127.0.0.1
    port: 8080
pools: {}
rules:
  - name: to-https
    publicNames: [meet.contoso.com]
    action: redirect
`
  const [r] = parseErrors(httpOnly)
  t.equal(r?.code, 'LRP_ERR_CONFIG_CONFLICT')
  t.equal(r?.location.path, '/rules/0/action')
  t.match(r?.message, /redirects to HTTPS, but no listener has protocol https/)

  const denyPool = replace(BASE, 'action: forward', 'action: deny')
  const [d] = parseErrors(denyPool)
  t.equal(d?.code, 'LRP_ERR_CONFIG_CONFLICT')
  t.equal(d?.location.path, '/rules/0/pool')
  t.match(d?.message, /action deny, which never forwards, but names pool 'fe'/)

  t.doesNotThrow(() => parseConfig(replace(denyPool, '    pool: fe\n', ''), FILE), 'deny without pool is fine')
})

t.test('YAML syntax error', async (t) => {
  const text = replace(BASE, '    protocol: https\n', '   protocol: https\n')
  const [e] = parseErrors(text)
  t.equal(e?.code, 'LRP_ERR_CONFIG_SYNTAX')
  t.equal(e?.location.file, FILE)
  t.equal(e?.location.line, lineOf(text, '   protocol: https'))
  t.type(e?.location.column, 'number')
  t.match(e?.message, /^invalid YAML: /)

  const unclosed = parseErrors('listeners: [a, b\npools: {}\n')
  t.equal(unclosed[0]?.code, 'LRP_ERR_CONFIG_SYNTAX')
})

t.test('workers: auto or 1..64, one message for every wrong form, with the line and the fix', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['0', /^expected 'auto' or an integer from 1 to 64, got 0$/],
    ['65', /^expected 'auto' or an integer from 1 to 64, got 65$/],
    ['2.5', /^expected 'auto' or an integer from 1 to 64, got 2\.5$/],
    ['"4"', /^expected 'auto' or an integer from 1 to 64, got '4' \(write the number without quotes\)$/],
    ['Auto', /^expected 'auto' or an integer from 1 to 64, got 'Auto' \(did you mean 'auto'\?\)$/],
    ['[2]', /^expected 'auto' or an integer from 1 to 64, got a list$/],
  ]
  for (const [value, message] of cases) {
    const text = `workers: ${value}\n` + BASE
    const errors = parseErrors(text)
    t.equal(errors.length, 1, `workers: ${value}: one error, not one per branch of the union`)
    const [e] = errors
    t.equal(e?.code, 'LRP_ERR_CONFIG_SCHEMA')
    t.same(e?.location, { file: FILE, line: 1, column: 10, path: '/workers' }, `workers: ${value}: file, line, column and path`)
    t.match(e?.message, message)
    t.match(e?.fix, /workers: auto .*from 1 to 64; 1 runs the proxy in a single process/, 'the fix names both forms')
    t.equal(e?.exitCode, 2)
  }
  t.equal(parseConfig(BASE, FILE).config.workers, 1, 'absent: 1, a single process')
  t.equal(parseConfig('workers: 3\n' + BASE, FILE).config.workers, 3)
  t.equal(parseConfig('workers: auto\n' + BASE, FILE).config.workers, Math.min(64, os.availableParallelism()), 'auto: one per CPU this process may use')
})

t.test('duplicate YAML key', async (t) => {
  const text = replace(BASE, '    pool: fe\n', '    pool: fe\n    pool: dir\n')
  const [e, ...rest] = parseErrors(text)
  t.equal(rest.length, 0)
  t.equal(e?.code, 'LRP_ERR_CONFIG_SYNTAX')
  t.equal(e?.location.line, lineOf(text, 'pool: dir'))
  t.equal(e?.location.column, 5)
  t.match(e?.message, /duplicate key 'pool'/)
})

t.test('unreadable file', async (t) => {
  const dir = t.testdir({ sub: {} })
  for (const file of [path.join(dir, 'missing.yaml'), path.join(dir, 'sub')]) {
    let err: unknown
    try { await loadConfigFile(file) } catch (e) { err = e }
    t.ok(err instanceof LyncProxyErrors)
    const [e] = (err as LyncProxyErrors).errors
    t.equal(e?.code, 'LRP_ERR_CONFIG_READ')
    t.equal(e?.location.file, file)
    t.equal((err as LyncProxyErrors).exitCode, 2)
  }
})

t.test('several errors are reported together, in file order', async (t) => {
  const text = replace(replace(replace(BASE, 'port: 8080', 'port: http'), 'pool: fe', 'pol: fe'), 'protocol: https', 'protocol: tls')
  const errors = parseErrors(text)
  t.same(errors.map((e) => e.location.path), ['/listeners/0/port', '/listeners/1/protocol', '/rules/0/pol'])
  t.same(errors.map((e) => e.location.line), [lineOf(text, 'port: http'), lineOf(text, 'protocol: tls'), lineOf(text, 'pol: fe')])

  const refs = replace(replace(BASE, 'pool: fe', 'pool: nope'), '    action: forward\n', '    listeners: [nope]\n    action: forward\n')
  t.same(parseErrors(refs).map((e) => e.code), ['LRP_ERR_CONFIG_REFERENCE', 'LRP_ERR_CONFIG_REFERENCE'])
})

t.test('configs built in code: errors have a path but no line', async (t) => {
  const obj = parseYaml(replace(BASE, 'pool: fe', 'pool: fee')) as unknown
  const [e] = errorsOf(() => validateConfigObject(obj, { file: 'in-code', baseDir: '/tmp' }))
  t.same(e?.location, { file: 'in-code', path: '/rules/0/pool' })
})

t.test('formatErrors: one line per error, with where, what and the fix', async (t) => {
  const text = replace(BASE, 'port: 8443', 'port: abc')
  let err: unknown
  try { parseConfig(text, FILE) } catch (e) { err = e }
  t.equal(formatErrors(err),
    `LRP_ERR_CONFIG_SCHEMA: ${FILE}:${lineOf(text, 'port: abc')}:11 at /listeners/1/port: expected an integer from 0 to 65535, got 'abc'. ` +
    'Fix: change the value at the path shown so that it matches the schema')
  t.match(formatErrors(new Error('boom')), /^internal error: Error: boom/)
})
