// One indentation mistake, one syntax error: at the line and column of the badly indented key, with
// the indentation it should have; the errors the parser reports after it in the same top-level
// entry follow on from it and are dropped (the rule is written in src/config/yaml-cascade.ts).
// Independent mistakes, in other top-level entries, are each reported.
import path from 'node:path'
import t from 'tap'
import { LineCounter, parseDocument } from 'yaml'
import { runCheck } from '../src/cli/check.js'
import { parseConfig } from '../src/config/load.js'
import { LyncProxyErrors, type LyncProxyError } from '../src/errors.js'

const FILE = 'proxy.yaml'

function errorsOf (text: string): LyncProxyError[] {
  try {
    parseConfig(text, FILE)
  } catch (e) {
    if (e instanceof LyncProxyErrors) return e.errors
    throw e
  }
  throw new Error('the config parsed')
}

// What the yaml parser itself reports, as line numbers.
function parserErrorLines (text: string): number[] {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, version: '1.2', uniqueKeys: true })
  return doc.errors.map((e) => lineCounter.linePos(e.pos[0]).line)
}

const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1

const OVER_INDENTED = `listeners:
  - name: web
    protocol: http
    address: 127.0.0.1
    port: 8080
pools:
  fe:
    fqdn: pool01.contoso.net
rules:
  - name: webext
     publicNames: [webext.contoso.com]
     action: forward
     pool: fe
     paths: [/]
`

t.test('a key indented one space too deep: one error at its line and column, instead of five', async (t) => {
  t.equal(parserErrorLines(OVER_INDENTED).length, 5, 'the parser reports five')
  const errors = errorsOf(OVER_INDENTED)
  t.equal(errors.length, 1, errors.map((e) => e.format()).join('\n'))
  const [e] = errors
  t.equal(e?.code, 'LRP_ERR_CONFIG_SYNTAX')
  t.same(e?.location, { file: FILE, line: lineOf(OVER_INDENTED, 'publicNames'), column: 6 })
  t.equal(e?.message, "invalid YAML: 'publicNames:' is indented 5 spaces, deeper than 'name:' on line 10 (4 spaces), which has its value on that line")
  t.equal(e?.fix, "indent 'publicNames:' 4 spaces, as 'name:' on line 10; a line indented deeper than the one above belongs inside it, and 'name:' already has a value")
  t.equal(e?.exitCode, 2)

  const dir = t.testdir({ 'proxy.yaml': OVER_INDENTED })
  const file = path.join(dir, 'proxy.yaml')
  let out = ''
  let err = ''
  const code = await runCheck(['-c', file], { stdout: { write: (s) => { out += s } }, stderr: { write: (s) => { err += s } }, env: {} })
  t.equal(code, 2)
  t.equal(out, '')
  t.equal(err, `LRP_ERR_CONFIG_SYNTAX: ${file}:11:6: ${e?.message}. Fix: ${e?.fix}\n`, 'check prints that one line')
})

t.test('a key indented too little: at its own line, with the column of its siblings', async (t) => {
  const text = OVER_INDENTED.replace('     publicNames', '    publicNames').replace('     action', '   action').replace(/ {5}(pool|paths)/g, '    $1')
  const errors = errorsOf(text)
  t.equal(errors.length, 1, errors.map((e) => e.format()).join('\n'))
  t.same(errors[0]?.location, { file: FILE, line: lineOf(text, 'action'), column: 4 })
  t.equal(errors[0]?.message, "invalid YAML: 'action:' is indented 3 spaces, which matches no block around it: the keys before it ('publicNames:' on line 11) are indented 4")
  t.match(errors[0]?.fix, /^indent 'action:' 4 spaces, as 'publicNames:' on line 11 \(YAML nests by indentation/)

  // Between a pool's keys and the pools: either place is offered.
  const pools = OVER_INDENTED.replace('    fqdn: pool01.contoso.net\n', '    fqdn: pool01.contoso.net\n   address: 127.0.0.2\n').replace(/ {5}(publicNames|action|pool|paths)/g, '    $1')
  const [p, ...rest] = errorsOf(pools)
  t.equal(rest.length, 0)
  t.same(p?.location, { file: FILE, line: lineOf(pools, 'address: 127.0.0.2'), column: 4 })
  t.match(p?.fix, "indent 'address:' 4 spaces, as 'fqdn:' on line 8, or 2 spaces, as 'fe:' on line 7, if it belongs there")

  // A key where a list's items are: the item it was meant for is named.
  const list = OVER_INDENTED.replace('    protocol: http', '  protocol: http').replace(/ {5}(publicNames|action|pool|paths)/g, '    $1')
  const [l] = errorsOf(list)
  t.same(l?.location, { file: FILE, line: 3, column: 3 })
  t.equal(l?.message, "invalid YAML: 'protocol:' is indented 2 spaces, as the items of the list on line 2 ('- name:') are, but is not an item of it")
  t.equal(l?.fix, "indent 'protocol:' 4 spaces, as 'name:' on line 2, if it belongs to that item; or start it with '- ' if it begins a new item")
})

t.test('independent mistakes in other top-level entries are each reported, precisely', async (t) => {
  const text = OVER_INDENTED.replace('  fe:\n    fqdn: pool01.contoso.net\n', '  fe:\n    fqdn: pool01.contoso.net\n      address: 127.0.0.2\n    httpPort: 8080\n')
  t.ok(parserErrorLines(text).length > 2, 'the parser reports more')
  const errors = errorsOf(text)
  t.same(errors.map((e) => [e.location.line, e.location.column]), [[lineOf(text, 'address: 127.0.0.2'), 7], [lineOf(text, 'publicNames'), 6]])
  t.match(errors[0]?.message, "'address:' is indented 6 spaces, deeper than 'fqdn:' on line 8 (4 spaces)")
})

t.test('duplicate keys are independent of each other, not of a structural error before them', async (t) => {
  const base = OVER_INDENTED.replace(/ {5}(publicNames|action|pool|paths)/g, '    $1')
  const twice = base.replace('    port: 8080\n', '    port: 8080\n    port: 8081\n').replace('    pool: fe\n', '    pool: fe\n    pool: fe\n')
  t.same(errorsOf(twice).map((e) => e.message), ["duplicate key 'port': a key may appear only once in a mapping", "duplicate key 'pool': a key may appear only once in a mapping"])
  const both = twice.replace('    address: 127.0.0.1\n', '    address: 127.0.0.1\n  x: 1\n').replace('    pool: fe\n    pool: fe\n', '    pool: fe\n    pool: fe\n    pool: fe\n')
  const errors = errorsOf(both)
  t.equal(errors.length, 3, errors.map((e) => e.format()).join('\n'))
  t.match(errors[0]?.message, /^invalid YAML: 'x:' /, 'the listeners entry: its structural error, and not the duplicate port after it')
  t.same(errors.slice(1).map((e) => [e.message, e.location.line]), [
    ["duplicate key 'pool': a key may appear only once in a mapping", lineOf(both, 'pool: fe') + 1],
    ["duplicate key 'pool': a key may appear only once in a mapping", lineOf(both, 'pool: fe') + 2],
  ], 'the rules entry: each of its own duplicates')
})

t.test('a tab in the indentation', async (t) => {
  const text = OVER_INDENTED.replace('    protocol: http', '\tprotocol: http').replace(/ {5}(publicNames|action|pool|paths)/g, '    $1')
  const errors = errorsOf(text)
  t.equal(errors.length, 1, errors.map((e) => e.format()).join('\n'))
  t.same(errors[0]?.location, { file: FILE, line: 3, column: 1 })
  t.equal(errors[0]?.message, 'invalid YAML: line 3 is indented with a tab; YAML indents with spaces only')
  t.equal(errors[0]?.fix, 'replace the tab with spaces')
})

t.test('block scalars, flow lists over several lines, quoted text and lists in a key\'s column are read correctly', async (t) => {
  const valid = `listeners:
- name: web
  protocol: http
  address: "127.0.0.1"
  port: 8080
pools:
  fe:
    description: |
      Front End pool:
        indented text: that is not a key
    fqdn: pool01.contoso.net
    tls:
      ca: [
        ca.pem,
        lab]
    address: '127.0.0.1'
rules:
  - name: webext
    description: "a quoted text
      over two lines: still text"
    publicNames:
    - webext.contoso.com
    - meet.contoso.com
    action: forward
    pool: fe
`
  t.doesNotThrow(() => parseConfig(valid, FILE))
  // The same entries, with a mistake after each construct: found where it is, so none of them was
  // taken for one.
  const broken = valid.replace("    address: '127.0.0.1'\n", "     address: '127.0.0.1'\n").replace('    action: forward\n', '   action: forward\n')
  const errors = errorsOf(broken)
  t.same(errors.map((e) => [e.location.line, e.location.column]), [[lineOf(broken, "address: '127"), 6], [lineOf(broken, 'action: forward'), 4]], errors.map((e) => e.format()).join('\n'))
  t.match(errors[0]?.message, "'address:' is indented 5 spaces, which matches no block around it: the keys before it ('ca:' on line 13) are indented 6, those of the block around them ('tls:' on line 12) 4")
  t.match(errors[1]?.message, "'action:' is indented 3 spaces, which matches no block around it: the keys before it ('publicNames:' on line 21) are indented 4")
})

t.test('other syntax errors keep the parser\'s message and position', async (t) => {
  const errors = errorsOf('listeners: [a, b\npools: {}\n')
  t.equal(errors.length, 1)
  t.equal(errors[0]?.message, 'invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]')
  t.same(errors[0]?.location, { file: FILE, line: 2, column: 1 })
})
