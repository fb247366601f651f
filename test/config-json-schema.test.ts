// The published JSON Schema (schema/lyncproxy.schema.json, `lyncproxy schema`) as an editor or a CI
// job meets it: a standard draft-07 validator, not lyncproxy's own pipeline, accepts the shipped
// configs and refuses what lyncproxy refuses; the committed file is what the CLI prints; every shipped
// config names the schema in its yaml-language-server modeline.
import fs from 'node:fs'
import path from 'node:path'
import { Ajv } from 'ajv'
import t from 'tap'
import { parse } from 'yaml'
import { REPO, runCli } from './helpers/cli.js'

const committed = fs.readFileSync(path.join(REPO, 'schema/lyncproxy.schema.json'), 'utf8')
const schema = JSON.parse(committed) as Record<string, unknown>
// strict: false, as an editor's validator is: it must not need lyncproxy's own keywords.
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema)
const configs = fs.readdirSync(path.join(REPO, 'config')).filter((f) => f.endsWith('.yaml'))

t.test('the shipped configs are valid against the published schema and name it', async (t) => {
  t.ok(configs.length >= 3, 'config/ holds the lab, compose and example configs')
  for (const name of configs) {
    const text = fs.readFileSync(path.join(REPO, 'config', name), 'utf8')
    t.equal(text.split('\n')[0], '# yaml-language-server: $schema=../schema/lyncproxy.schema.json', `${name} starts with the modeline`)
    t.ok(validate(parse(text)), `${name} is valid${validate.errors === null || validate.errors === undefined ? '' : ': ' + JSON.stringify(validate.errors)}`)
  }
})

t.test('the schema refuses what lyncproxy refuses', async (t) => {
  const lab = parse(fs.readFileSync(path.join(REPO, 'config/lab.yaml'), 'utf8')) as Record<string, unknown>
  // The lab config, loosely typed for spoiling.
  interface Spoilable { listner?: unknown, listeners: Array<{ port: number }>, rules: Array<{ name?: string }>, pools: Record<string, unknown> }
  const cases: Array<[string, (c: Spoilable) => void]> = [
    ['an unknown top-level key', (c) => { c.listner = [] }],
    ['a port out of range', (c) => { c.listeners[0]!.port = 70000 }],
    ['a rule without a name', (c) => { delete c.rules[0]!.name }],
    ['a pool name with a space', (c) => { c.pools['front end'] = c.pools.fe }],
    ['no listeners', (c) => { c.listeners = [] }],
  ]
  for (const [what, spoil] of cases) {
    const config = structuredClone(lab) as unknown as Spoilable
    spoil(config)
    t.notOk(validate(config), `${what} is refused`)
  }
})

t.test('lyncproxy schema prints the committed schema', async (t) => {
  const r = await runCli(['schema'])
  t.equal(r.code, 0)
  t.ok(r.stdout === committed, 'stdout is schema/lyncproxy.schema.json, byte for byte')
  t.notMatch(r.stdout, /"expected"\s*:/, 'lyncproxy\'s own message annotation is left out')
  const extra = await runCli(['schema', 'now'])
  t.equal(extra.code, 64)
  t.match(extra.stderr, /^LRP_ERR_USAGE: lyncproxy schema takes no arguments, got 'now'/)
})
