// A publishing rule that an earlier rule shadows (same public name on the same listener, a path the
// earlier rule's prefix covers) is valid but gets no requests: check warns, naming both rules with
// file and line and which shadows which. Judged as the data plane matches (case-insensitive names,
// path prefixes on segment boundaries, exact names before wildcards), and checked against the
// compiled table: the rule the warning calls shadowed is not the one a request reaches.
import path from 'node:path'
import t from 'tap'
import { runCheck, type CheckIO } from '../src/cli/check.js'
import { parseConfig } from '../src/config/load.js'
import { compileForAnalysis } from '../src/routing/analysis-table.js'
import { lookupHost, matchPath } from '../src/routing/match.js'

async function check (file: string): Promise<{ code: number, out: string, err: string }> {
  const captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env: {},
  }
  const code = await runCheck(['-c', file], io)
  return { code, ...captured }
}

const HEAD = `admin: { enabled: false }
listeners:
  - { name: web-http, protocol: http, port: 8080 }
  - { name: web-https, protocol: https, port: 8443, certificates: [{ lab: true }] }
pools:
  fe: { fqdn: pool01.contoso.net }
  dir: { fqdn: dirpool.contoso.net }
rules:
`

function lineOf (text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1
}

function shadowWarnings (rules: string): string[] {
  return parseConfig(HEAD + rules, 'proxy.yaml').warnings.filter((w) => / is never used: | is shadowed by | twice: /.test(w))
}

t.test('an exact duplicate that forwards to another pool: never used, both rules named', async (t) => {
  const text = HEAD + `  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
  - name: webext-dir
    publicNames: [webext.contoso.com]
    action: forward
    pool: dir
`
  const dir = t.testdir({ 'proxy.yaml': text })
  const file = path.join(dir, 'proxy.yaml')
  const r = await check(file)
  t.equal(r.code, 0, 'a warning: the file stays valid')
  t.match(r.out, /^OK: /)
  const lines = r.err.trimEnd().split('\n').filter((l) => l.includes('never used'))
  t.equal(lines.length, 1, r.err)
  t.equal(lines[0],
    `warning: ${file}: rule 'webext-dir' (${file}:${lineOf(text, 'name: webext-dir')}:5) is never used: rule 'webext' (${file}:${lineOf(text, '- name: webext')}:5) ` +
    'comes before it and takes every request it would match (webext.contoso.com/ on listeners web-http, web-https), because the first matching rule wins. ' +
    "Fix: remove 'webext-dir', or move it above 'webext' if it is the one meant to apply")

  // What the warning says is what the data plane does.
  const loaded = parseConfig(text, file)
  const analysis = compileForAnalysis(loaded.config, dir)
  t.teardown(() => analysis.close())
  for (const listener of ['web-http', 'web-https']) {
    const entry = lookupHost(analysis.table.listeners.get(listener)!, 'WebExt.contoso.com')
    t.equal(entry === undefined ? undefined : matchPath(entry.routes, '/anything')?.rule, 'webext', `${listener}: the first rule takes the request`)
  }
})

t.test('a differently cased duplicate inside one list: that name is shadowed, the rule is not dead', async (t) => {
  const rules = `  - name: webext
    publicNames: [webext.contoso.com]
    action: forward
    pool: fe
  - name: mixed
    publicNames: [other.contoso.com, WEBEXT.Contoso.com]
    paths: [/ucwa]
    listeners: [web-https]
    action: forward
    pool: dir
`
  const text = HEAD + rules
  const [w, ...rest] = shadowWarnings(rules)
  t.equal(rest.length, 0)
  t.equal(w, `rule 'mixed' (proxy.yaml:${lineOf(text, 'name: mixed')}:5) is shadowed by rule 'webext' (proxy.yaml:${lineOf(text, '- name: webext')}:5) ` +
    "for WEBEXT.Contoso.com/ucwa on listener web-https: 'webext' comes first and takes those requests, because the first matching rule wins. " +
    "Fix: drop those names or paths from 'mixed', or move it above 'webext' if it is the one meant to apply")
})

t.test('the same name twice in one rule, in another case: both entries named', async (t) => {
  const rules = `  - name: dialin
    publicNames: [dialin.contoso.com, DialIn.Contoso.com.]
    paths: [/dialin, /DialIn]
    action: forward
    pool: dir
`
  const text = HEAD + rules
  const line = lineOf(text, 'publicNames: [dialin')
  const paths = lineOf(text, 'paths: [/dialin')
  t.same(shadowWarnings(rules), [
    `rule 'dialin' lists the public name 'DialIn.Contoso.com.' (proxy.yaml:${line}:39) twice: it is the same as 'dialin.contoso.com' (proxy.yaml:${line}:19), ` +
      'because public names are matched regardless of case and a trailing dot. Fix: remove one of the two',
    `rule 'dialin' lists the path '/DialIn' (proxy.yaml:${paths}:22) twice: it is the same as '/dialin' (proxy.yaml:${paths}:13), ` +
      'because paths are matched regardless of case. Fix: remove one of the two',
  ])
})

t.test('what is not shadowed', async (t) => {
  const cases: Array<[string, string]> = [
    ['the same name on other listeners', `  - { name: a, publicNames: [webext.contoso.com], listeners: [web-http], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], listeners: [web-https], action: forward, pool: dir }
`],
    ['a narrower path first, the rest after', `  - { name: a, publicNames: [webext.contoso.com], paths: [/ucwa], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], action: forward, pool: dir }
`],
    ['a prefix that is not on a segment boundary', `  - { name: a, publicNames: [webext.contoso.com], paths: [/ucwa], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], paths: [/ucwax], action: forward, pool: dir }
`],
    ['a wildcard first: exact names are looked up before wildcards', `  - { name: a, publicNames: ['*.contoso.com'], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], action: forward, pool: dir }
`],
    ['any host first: exact names are looked up before it', `  - { name: a, publicNames: ['*'], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], action: forward, pool: dir }
`],
  ]
  for (const [what, rules] of cases) {
    t.same(shadowWarnings(rules), [], what)
  }
})

t.test('what is shadowed, whatever the action', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['a deny rule first', `  - { name: a, publicNames: [webext.contoso.com], action: deny }
  - { name: b, publicNames: [webext.contoso.com], action: forward, pool: dir }
`, /^rule 'b' .* is never used: rule 'a' /],
    ['a longer path after its prefix', `  - { name: a, publicNames: [webext.contoso.com], paths: [/ucwa], action: forward, pool: fe }
  - { name: b, publicNames: [webext.contoso.com], paths: [/UCWA/v1/, /ucwa], action: forward, pool: dir }
`, /^rule 'b' .* is never used: rule 'a' .*\(webext\.contoso\.com\/UCWA\/v1\/, webext\.contoso\.com\/ucwa on listeners web-http, web-https\)/],
    ['the same wildcard twice', `  - { name: a, publicNames: ['*.contoso.com'], action: forward, pool: fe }
  - { name: b, publicNames: ['*.CONTOSO.com'], action: forward, pool: dir }
`, /^rule 'b' .* is never used: rule 'a' /],
    ['covered by two earlier rules, one part each', `  - { name: a, publicNames: [webext.contoso.com], action: forward, pool: fe }
  - { name: b, publicNames: [meet.contoso.com], action: forward, pool: fe }
  - { name: c, publicNames: [webext.contoso.com, meet.contoso.com], action: forward, pool: dir }
`, /^rule 'c' .* is shadowed by rule 'a' .* for webext\.contoso\.com\/ on/],
  ]
  for (const [what, rules, pattern] of cases) {
    const found = shadowWarnings(rules)
    t.ok(found.some((w) => pattern.test(w)), `${what}: ${found.join(' | ')}`)
  }
})
