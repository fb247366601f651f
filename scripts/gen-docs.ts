// Writes the two reference pages that are generated rather than written: docs/configuration.md from
// the config schema (its fields, their types and descriptions) and the defaults, and docs/errors.md
// from the error registry and the failure vocabulary. Generated, because a hand-kept copy of a schema drifts from it; the prose around
// each table lives in scripts/docs/*.head.md. test/docs-generated.test.ts fails when a committed page
// differs from what this renders, so `npm run docs` belongs in any change to those sources.
//
//   node --import ./bench/register.mjs scripts/gen-docs.ts        (npm run docs)
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox'
import { DEFAULTS } from '../src/config/defaults.js'
import { configJsonSchemaText } from '../src/config/json-schema.js'
import { ConfigSchema } from '../src/config/schema.js'
import { ErrorCodes, type ErrorCode } from '../src/errors.js'
import { EdgeFailures, InjectedFaults, INTERNAL_FAILURE, OPTIONS_STAR, ParseFailures, UpstreamFailures, VOCABULARY, type FailureKind } from '../src/respond/failure.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SCHEMA_FILE = 'src/config/schema.ts'

// Where each of DEFAULTS' values applies, by field path. Keyed by DEFAULTS' own keys, so a default
// added there without a place here is a type error, and a path that stops existing in the schema
// makes the generator throw.
const DEFAULT_PATHS: Record<keyof typeof DEFAULTS, string[]> = {
  listenerAddress: ['listeners[].address', 'tcp[].address'],
  poolHttpPort: ['pools.<name>.httpPort'],
  poolHttpsPort: ['pools.<name>.httpsPort'],
  poolMaxSockets: ['pools.<name>.maxSockets'],
  poolCa: ['pools.<name>.tls.ca'],
  paths: ['rules[].paths'],
  redirectStatus: ['rules[].redirectStatus'],
  connectTimeout: ['defaults.timeouts.connect'],
  responseTimeout: ['defaults.timeouts.response'],
  clientIdleTimeout: ['defaults.clientIdleTimeout'],
  headersTimeout: ['defaults.headersTimeout'],
  requestTimeout: ['defaults.requestTimeout'],
  handshakeTimeout: ['defaults.handshakeTimeout'],
  maxConnections: ['defaults.maxConnections'],
  maxHeaderBytes: ['defaults.maxHeaderBytes'],
  underscoreHeaders: ['defaults.underscoreHeaders'],
  maxBodyBytes: ['defaults.maxBodyBytes'],
  requestBufferBytes: ['defaults.requestBufferBytes'],
  certsDir: ['certs.dir'],
  poolKind: ['pools.<name>.kind'],
  balance: ['pools.<name>.balance'],
  affinity: ['pools.<name>.affinity'],
  healthPath: ['pools.<name>.health.path'],
  healthInterval: ['pools.<name>.health.interval'],
  healthTimeout: ['pools.<name>.health.timeout'],
  healthRise: ['pools.<name>.health.rise'],
  healthFall: ['pools.<name>.health.fall'],
  passiveFailures: ['pools.<name>.passive.failures'],
  passiveBackoff: ['pools.<name>.passive.backoff'],
  memberWeight: ['pools.<name>.members[].weight'],
  tcpIdleTimeout: ['tcp[].idleTimeout'],
  logLevel: ['log.level'],
  adminEnabled: ['admin.enabled'],
  adminAddress: ['admin.address'],
  adminPort: ['admin.port'],
  adminFlowHistory: ['admin.flowHistory'],
  workers: ['workers'],
}

// Defaults that applyDefaults (src/config/defaults.ts) derives from other fields instead of reading
// DEFAULTS; said in words.
const DERIVED_DEFAULTS: Record<string, string> = {
  'listeners[].interface': '`external`',
  'listeners[].redirectToHttps': '`true` on http listeners',
  'pools.<name>.address': 'the pool\'s `fqdn`',
  'pools.<name>.tls.verify': '`true`',
  'pools.<name>.tls.servername': 'the pool\'s `fqdn`',
  'pools.<name>.health.check': '`http` for a members pool, `none` otherwise',
  'pools.<name>.members[].httpPort': 'the pool\'s `httpPort`',
  'pools.<name>.members[].httpsPort': 'the pool\'s `httpsPort`',
  'rules[].listeners': 'every listener',
  'rules[].maxBodyBytes': '`defaults.maxBodyBytes`',
  'rules[].requestBufferBytes': '`defaults.requestBufferBytes`',
  'rules[].timeouts.connect': '`defaults.timeouts.connect`',
  'rules[].timeouts.response': '`defaults.timeouts.response`',
  'rules[].longPoll': '`false`',
  'tcp[].targetPort': 'the frontend\'s `port`',
}

// What each start-up error means, beside the registry's fix. Keyed by ErrorCode, so a code added to
// src/errors.ts without its meaning here is a type error.
const ERROR_MEANINGS: Record<ErrorCode, string> = {
  LRP_ERR_CONFIG_READ: 'the config file could not be read',
  LRP_ERR_CONFIG_SYNTAX: 'the file is not valid YAML',
  LRP_ERR_CONFIG_SCHEMA: 'a value does not match the schema (a wrong type, an unknown field, a value out of range)',
  LRP_ERR_CONFIG_REFERENCE: 'a name refers to a pool, listener or server that is not defined',
  LRP_ERR_CONFIG_CONFLICT: 'two settings contradict each other',
  LRP_ERR_CERT_LOAD: 'a certificate, key or PFX file could not be read or does not fit',
  LRP_ERR_CERT_PASSPHRASE: 'the passphrase of a key or PFX is missing',
  LRP_ERR_LISTEN_PRIVILEGED: 'a port below 1024, or a bind a security policy refuses, without the privilege for it',
  LRP_ERR_LISTEN_IN_USE: 'another program (or another of lyncproxy\'s servers) holds the address and port',
  LRP_ERR_LISTEN_ADDRESS: 'the address is not one of this machine\'s, or its name does not resolve',
  LRP_ERR_USAGE: 'the command line (or a LYNCPROXY_* variable) is not valid',
}

// What each upstream failure means. Their reasons are written per request by
// src/forward/upstream-failure.ts (they name the pool, the address and the port), so the page says
// them in general terms. Keyed by UpstreamFailures' own keys, so a failure added there without its
// meaning here is a type error.
const UPSTREAM_MEANINGS: Record<keyof typeof UpstreamFailures, string> = {
  connectTimeout: 'no connection to the pool within the connect timeout (`timeouts.connect`)',
  busy: 'every connection to the member (`maxSockets`) stayed busy for twice the connect timeout; the request was never sent',
  timeout: 'no response headers from the pool within the rule\'s response timeout (`timeouts.response`)',
  refused: 'the pool refused the connection: nothing listens on the bridged port',
  tlsUntrusted: 'the pool\'s certificate is not trusted: its issuing CA is missing from `pools.<name>.tls.ca`',
  tlsName: 'the pool\'s certificate does not name the pool\'s `fqdn` (or `tls.servername`)',
  tlsExpired: 'the pool\'s certificate is expired or not yet valid',
  dns: 'the pool\'s address does not resolve',
  unreachable: 'no route to the pool\'s address (host or network unreachable)',
  badResponse: 'the pool sent invalid HTTP',
  tlsFailed: 'TLS with the pool failed otherwise, for example a plain-HTTP port given as `httpsPort`',
  reset: 'the pool closed or reset the connection before responding',
  noHealthyMember: 'every member of the pool is down, ejected or drained',
}

interface Field {
  path: string
  type: string
  required: boolean
  description: string
}

// ---- configuration.md ----

export function renderConfiguration (): string {
  const fields = new Map<string, Field>()
  walkSchema(ConfigSchema, '', fields)
  const undescribed = [...fields.values()].filter((f) => f.description === '').map((f) => f.path)
  if (undescribed.length > 0) throw new Error(`${SCHEMA_FILE}: these fields have no description: ${undescribed.join(', ')}`)
  const defaults = defaultsByPath()
  for (const p of defaults.keys()) if (!fields.has(p)) throw new Error(`a default is mapped to ${p}, which the schema does not have`)

  const sections = new Map<string, Field[]>()
  for (const f of fields.values()) {
    const top = f.path.split(/[.[]/)[0] ?? f.path
    sections.set(top, [...(sections.get(top) ?? []), f])
  }
  const out = [generatedNote([SCHEMA_FILE, 'src/config/defaults.ts', 'scripts/docs/configuration.head.md']), head('configuration'), '## Every field', '',
    'Generated from the schema: a path\'s `[]` is any item of a list, `<name>` any key of a map. "required" means the field must be given.', '']
  for (const [top, list] of sections) {
    out.push(`### \`${top}\``, '', '| field | type | default | what it is |', '|---|---|---|---|')
    for (const f of list) {
      const def = defaults.get(f.path) ?? (f.required ? 'required' : '')
      out.push(`| \`${f.path}\` | ${cell(f.type)} | ${cell(def)} | ${cell(f.description)} |`)
    }
    out.push('')
  }
  return out.join('\n')
}

function defaultsByPath (): Map<string, string> {
  const map = new Map<string, string>()
  for (const [key, paths] of Object.entries(DEFAULT_PATHS) as Array<[keyof typeof DEFAULTS, string[]]>) {
    for (const p of paths) map.set(p, `\`${JSON.stringify(DEFAULTS[key])}\``)
  }
  for (const [p, text] of Object.entries(DERIVED_DEFAULTS)) map.set(p, text)
  return map
}

// Every field of the schema by its path, in the schema's order, with what the schema says of it: its
// type, whether it must be given, and its description.
function walkSchema (schema: TSchema, at: string, out: Map<string, Field>): void {
  const kind = schema[Kind] as string
  if (kind === 'Object') {
    const required = new Set<string>((schema.required as string[] | undefined) ?? [])
    for (const [key, sub] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const p = at === '' ? key : `${at}.${key}`
      const field: Field = {
        path: p,
        type: typeName(sub),
        required: required.has(key) && sub[OptionalKind] !== 'Optional',
        description: typeof sub.description === 'string' ? sub.description : '',
      }
      // A field of several object forms (a certificate) is listed once per path.
      if (!out.has(p)) out.set(p, field)
      walkSchema(sub, p, out)
    }
  } else if (kind === 'Array') {
    walkSchema(schema.items as TSchema, `${at}[]`, out)
  } else if (kind === 'Union') {
    for (const variant of schema.anyOf as TSchema[]) walkSchema(variant, at, out)
  } else if (kind === 'Record') {
    for (const sub of Object.values(schema.patternProperties as Record<string, TSchema>)) walkSchema(sub, `${at}.<name>`, out)
  }
}

function typeName (schema: TSchema): string {
  switch (schema[Kind] as string) {
    case 'String': return 'string'
    case 'Boolean': return 'boolean'
    case 'Integer': return `integer${range(schema)}`
    case 'Number': return `number${range(schema)}`
    case 'Literal': return `\`${JSON.stringify(schema.const)}\``
    case 'Array': return `list of ${typeName(schema.items as TSchema)}`
    case 'Record': return 'map of name → object'
    case 'Object': return 'object'
    case 'Union': {
      const variants = schema.anyOf as TSchema[]
      return variants.some((v) => v[Kind] === 'Object') ? 'object, one of the forms below' : variants.map(typeName).join(' or ')
    }
    default: return String(schema[Kind])
  }
}

function range (schema: TSchema): string {
  const lower = schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : schema.minimum !== undefined ? `≥ ${schema.minimum}` : ''
  const upper = schema.maximum !== undefined ? `≤ ${schema.maximum}` : ''
  const both = [lower, upper].filter((s) => s !== '').join(', ')
  return both === '' ? '' : ` (${both})`
}

// ---- errors.md ----

export function renderErrors (): string {
  const out = [generatedNote(['src/errors.ts', 'src/respond/failure.ts', 'scripts/gen-docs.ts (the meanings)', 'scripts/docs/errors.head.md']), head('errors'),
    ...requestFailures(),
    '## Start-up and configuration errors', '',
    'Each is printed as one line: `CODE: file:line:column at /path/in/document: what is wrong. Fix: what to do`,',
    'and the process exits with the code\'s exit status. Where the registry\'s fix is general, the message',
    'often carries a more precise one (the program holding a port, the setting that moves it).', '',
    '| code | exit | what it means | the fix |', '|---|---|---|---|']
  for (const [code, entry] of Object.entries(ErrorCodes) as Array<[ErrorCode, (typeof ErrorCodes)[ErrorCode]]>) {
    out.push(`| \`${code}\` | ${entry.exit} | ${cell(ERROR_MEANINGS[code])} | ${cell(entry.fix)} |`)
  }
  const exits = [...new Set(Object.values(ErrorCodes).map((e) => e.exit))].sort((a, b) => a - b)
  out.push('', `Exit statuses: 0 ok; ${exits.map((x) => `${x} ${exitMeaning(x)}`).join(', ')}.`, '')
  return out.join('\n')
}

// The answers the proxy gives in place of the upstream's, from respond/failure.ts's vocabulary.
function requestFailures (): string[] {
  const groups: Array<{ title: string, rows: Array<{ kind: FailureKind, what: string }> }> = [
    { title: 'Refused at the edge, before any upstream is involved', rows: Object.values(EdgeFailures).map((f) => ({ kind: f, what: f.reason })) },
    { title: 'Refused by the HTTP parser: the bytes never became a request', rows: Object.values(ParseFailures).map((f) => ({ kind: f, what: f.reason })) },
    {
      title: 'The upstream failed; the body names the pool, the address and port, and what to check',
      rows: (Object.entries(UpstreamFailures) as Array<[keyof typeof UpstreamFailures, FailureKind]>).map(([key, f]) => ({ kind: f, what: UPSTREAM_MEANINGS[key] })),
    },
    { title: 'The proxy failed', rows: [{ kind: INTERNAL_FAILURE, what: INTERNAL_FAILURE.reason }] },
  ]
  // OPTIONS * is answered, not refused; anything else the vocabulary holds must be on the page.
  const listed = new Set(groups.flatMap((g) => g.rows.map((r) => r.kind)))
  const missing = VOCABULARY.filter((k) => k !== OPTIONS_STAR && !listed.has(k)).map((k) => k.code)
  if (missing.length > 0) throw new Error(`src/respond/failure.ts: VOCABULARY has failures this page does not list: ${missing.join(', ')}`)

  const out = ['## Failures on the request path', '',
    'Each is answered with its status, its code in `X-Lyncproxy-Error` and the access log, and a short body:',
    'the status and code, the rule when one matched, and what went wrong. A 503 also carries `Retry-After`.', '']
  for (const group of groups) {
    out.push(`### ${group.title}`, '', '| status | `X-Lyncproxy-Error` | what happened |', '|---|---|---|')
    for (const { kind, what } of group.rows) out.push(`| ${kind.status} | \`${kind.code}\` | ${cell(prose(what))} |`)
    out.push('')
  }
  out.push('An upstream that dies in the middle of a response body can no longer be answered with a status: the client',
    'connection is aborted, never ended cleanly, so the client cannot take a truncated body for a whole one.', '',
    'Why the edge refuses what it refuses (versions, Host, sizes, header names) is in [hardening.md](hardening.md);',
    'a pool with no healthy member is in [pools-and-hlb.md](pools-and-hlb.md).', '')
  out.push('### Injected on purpose by a rule\'s `fault` (for client developers\' tests)', '', '| status | code | what happened |', '|---|---|---|')
  for (const [key, fault] of Object.entries(InjectedFaults) as Array<[keyof typeof InjectedFaults, { code: string }]>) {
    out.push(`| ${key === 'abort' ? 'the rule\'s `fault.abort`' : 'none'} | \`${fault.code}\` | ${cell(INJECTED_MEANINGS[key])} |`)
  }
  out.push('')
  return out
}

const INJECTED_MEANINGS: Record<keyof typeof InjectedFaults, string> = {
  abort: 'answered with the status the rule names, instead of forwarding',
  reset: 'the client connection was closed without an answer',
  stall: 'nothing was forwarded and nothing answered, until the client gave up',
  truncated: 'the response body was cut after `fault.truncateAfter` bytes by closing the connection',
  cut: 'the connection was closed `fault.cutAfter` seconds after the request, before the response ended',
}

// Reason texts are plain words: a `<name>` outside backticks would be read as an HTML tag.
function prose (text: string): string {
  return text.split('`').map((part, i) => i % 2 === 0 ? part.replace(/</g, '&lt;') : part).join('`')
}

function exitMeaning (exit: number): string {
  const codes = Object.entries(ErrorCodes).filter(([, e]) => e.exit === exit).map(([c]) => c)
  if (codes.every((c) => c.startsWith('LRP_ERR_CONFIG_'))) return 'bad config'
  if (codes.every((c) => c.startsWith('LRP_ERR_CERT_'))) return 'certificate problem'
  if (codes.every((c) => c.startsWith('LRP_ERR_LISTEN_'))) return 'cannot bind'
  if (codes.every((c) => c === 'LRP_ERR_USAGE')) return 'usage'
  return codes.join(', ')
}

// ---- shared ----

function generatedNote (sources: string[]): string {
  return `<!-- Generated by scripts/gen-docs.ts from ${sources.join(', ')}. Edit those, then run npm run docs. -->\n`
}

function head (name: string): string {
  return fs.readFileSync(path.join(REPO, 'scripts/docs', `${name}.head.md`), 'utf8').trimEnd() + '\n'
}

// A table cell: one line, with the column separator escaped.
function cell (text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|')
}

export const GENERATED_DOCS: ReadonlyArray<{ file: string, render: () => string }> = [
  { file: 'docs/configuration.md', render: renderConfiguration },
  { file: 'docs/errors.md', render: renderErrors },
  // Not a page, but generated and checked the same way: what `lyncproxy schema` prints.
  { file: 'schema/lyncproxy.schema.json', render: configJsonSchemaText },
]

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  for (const doc of GENERATED_DOCS) {
    fs.mkdirSync(path.dirname(path.join(REPO, doc.file)), { recursive: true })
    fs.writeFileSync(path.join(REPO, doc.file), doc.render())
    process.stdout.write(`wrote ${doc.file}\n`)
  }
}
