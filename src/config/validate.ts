// Schema validation with ajv against the TypeBox schema, and the translation of ajv's errors into
// messages an operator can act on. ajv reports what failed in JSON-Schema terms ("must match a schema
// in anyOf", one error per union branch); we report what to write instead.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { ConfigSchema, MAX_WORKERS, RuleSchema } from './schema.js'
import { closest, didYouMean } from './did-you-mean.js'
import { fromPointer, type ConfigIssue, type DocPath } from './issues.js'

// TypeBox schemas are plain JSON Schema objects; this is the part of them the messages read.
interface JsonSchema {
  type?: string
  const?: unknown
  anyOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  patternProperties?: Record<string, JsonSchema>
  required?: string[]
  pattern?: string
  // The schema's own name for the form of a value (see schema.ts): never its `description`, which
  // is written for the reference documentation, not for an error message.
  expected?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minLength?: number
  maxLength?: number
  minItems?: number
}

let validator: ValidateFunction | undefined

function getValidator (): ValidateFunction {
  // Compiled once per process, on first use, so importing this module stays cheap.
  validator ??= new Ajv({
    allErrors: true,
    // verbose puts the failing schema and data on each error; the messages below are built from them.
    verbose: true,
    strict: true,
    // The validator only judges: defaults are applied by defaults.ts (so the input is never mutated
    // and the defaults are visible in one place), and a quoted "443" must be reported, not converted.
    useDefaults: false,
    coerceTypes: false,
    removeAdditional: false,
    // `expected` is schema.ts's annotation for these messages; declared, so that strict mode knows it
    // is not a misspelt keyword.
    keywords: ['expected'],
  }).compile(ConfigSchema)
  return validator
}

const SCHEMA = 'LRP_ERR_CONFIG_SCHEMA'

export function schemaIssues (value: unknown): ConfigIssue[] {
  const validate = getValidator()
  const issues = validate(value) ? [] : translate(validate.errors ?? [])
  return [...workersIssues(issues, value), ...poolNameIssues(value)]
}

// `workers` is 'auto' or a count. The union's own message names only the branch of the value's type
// ("expected 'auto', got '2'" for a quoted number), so the field gets one message naming both forms.
function workersIssues (issues: ConfigIssue[], value: unknown): ConfigIssue[] {
  const isWorkers = (i: ConfigIssue): boolean => i.path.length === 1 && i.path[0] === 'workers'
  if (!issues.some(isWorkers) || !isPlainObject(value)) return issues
  const data = value.workers
  let hint = ''
  if (typeof data === 'string') {
    hint = /^\s*\d+\s*$/.test(data) ? ' (write the number without quotes)' : didYouMean(data, ['auto'])
  }
  const issue: ConfigIssue = {
    code: SCHEMA,
    path: ['workers'],
    message: `expected 'auto' or an integer from 1 to ${MAX_WORKERS}, got ${describeValue(data)}${hint}`,
    fix: `write workers: auto (one worker process per CPU) or a number of worker processes from 1 to ${MAX_WORKERS}; 1 runs the proxy in a single process`,
  }
  return [...issues.filter((i) => !isWorkers(i)), issue]
}

// `pools` is a record whose keys must be names. JSON Schema's patternProperties only validates the
// entries whose key matches, so a pool called `front end` would pass unseen (and unvalidated).
function poolNameIssues (value: unknown): ConfigIssue[] {
  if (!isPlainObject(value) || !isPlainObject(value.pools)) return []
  const patterns = Object.keys((ConfigSchema.properties.pools as JsonSchema).patternProperties ?? {})
  if (patterns.length === 0) return []
  const regexps = patterns.map((p) => new RegExp(p, 'u'))
  const nameText = (RuleSchema.properties.name as JsonSchema).expected ?? 'a name'
  return Object.keys(value.pools)
    .filter((k) => !regexps.some((r) => r.test(k)))
    .map((k): ConfigIssue => ({
      code: SCHEMA,
      path: ['pools', k],
      at: 'key',
      message: `invalid pool name '${k}': expected ${nameText}`,
      fix: 'rename the pool, and the rules that name it',
    }))
}

function translate (errors: readonly ErrorObject[]): ConfigIssue[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf')
  const top = errors.filter((e) => !anyOfs.some((a) => a !== e && isInside(e, a)))
  const issues: ConfigIssue[] = []
  for (const e of top) {
    if (e.keyword === 'anyOf') issues.push(...reduceAnyOf(e, errors.filter((x) => x !== e && isInside(x, e))))
    else issues.push(describe(e))
  }
  return dedupe(issues)
}

// An error belongs to a union's branch when it comes from the union's subschemas and concerns the
// same value or something inside it (the same schema path serves every item of an array).
function isInside (e: ErrorObject, union: ErrorObject): boolean {
  return e.schemaPath.startsWith(union.schemaPath + '/') &&
    (e.instancePath === union.instancePath || e.instancePath.startsWith(union.instancePath + '/'))
}

// One message per failed union instead of one error per branch plus "must match a schema in anyOf".
function reduceAnyOf (union: ErrorObject, inner: ErrorObject[]): ConfigIssue[] {
  const branches = (union.schema ?? []) as JsonSchema[]
  const data: unknown = union.data
  const path = fromPointer(union.instancePath)

  // A union of literals is an enum: `action`, `protocol`, `redirectStatus`, `log.level`.
  if (branches.length > 0 && branches.every((b) => 'const' in b)) {
    const allowed = branches.map((b) => b.const)
    const hint = typeof data === 'string'
      ? didYouMean(data, allowed.filter((v): v is string => typeof v === 'string'))
      : ''
    return [{
      code: SCHEMA,
      path,
      message: `must be one of ${allowed.map(String).join(', ')}, got ${describeValue(data)}${hint}`,
    }]
  }

  // A union of mappings (certificate entries): find the form the operator meant, by the keys they
  // wrote, and report only what is wrong with that form.
  if (branches.length > 0 && branches.every((b) => b.type === 'object')) {
    const forms = branches.map(describeForm).join(', ')
    if (!isPlainObject(data)) {
      return [{ code: SCHEMA, path, message: `expected a mapping of one of these forms: ${forms}, got ${describeValue(data)}` }]
    }
    const keys = Object.keys(data)
    const scored = branches.map((b, index) => {
      const known = keys.filter((k) => b.properties !== undefined && Object.hasOwn(b.properties, k)).length
      const required = b.required ?? []
      const present = required.filter((k) => keys.includes(k)).length
      return { index, known, complete: required.length === 0 ? 1 : present / required.length }
    }).sort((a, b) => b.known - a.known || b.complete - a.complete)
    const [best, second] = scored
    const ambiguous = best === undefined || best.known === 0 ||
      (second !== undefined && second.known === best.known && second.complete === best.complete && best.complete < 1)
    if (!ambiguous) {
      const prefix = `${union.schemaPath}/${best.index}/`
      const issues = translate(inner.filter((x) => x.schemaPath.startsWith(prefix)))
      if (issues.length > 0) return issues
    }
    const allKeys = [...new Set(branches.flatMap((b) => Object.keys(b.properties ?? {})))]
    const unknown = keys.filter((k) => !allKeys.includes(k))
      .map((k) => `; unknown key '${k}'${didYouMean(k, allKeys)}`).join('')
    return [{ code: SCHEMA, path, message: `expected one of these forms: ${forms}${unknown}` }]
  }

  // Mixed unions: judge the value by the branch of its own type, if there is one.
  const type = jsonType(data)
  const index = branches.findIndex((b) => b.type === type || (b.type === 'number' && type === 'integer'))
  if (index >= 0) {
    const issues = translate(inner.filter((x) => x.schemaPath.startsWith(`${union.schemaPath}/${index}/`)))
    if (issues.length > 0) return issues
  }
  return [{
    code: SCHEMA,
    path,
    message: `expected ${branches.map(describeExpected).join(' or ')}, got ${describeValue(data)}`,
  }]
}

function describe (e: ErrorObject): ConfigIssue {
  const path = fromPointer(e.instancePath)
  const schema = (e.parentSchema ?? {}) as JsonSchema
  const data: unknown = e.data
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      const allowed = Object.keys(schema.properties ?? {})
      const suggestion = closest(key, allowed)
      return {
        code: SCHEMA,
        path: [...path, key],
        at: 'key',
        message: `unknown key '${key}'${suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`}` +
          (allowed.length > 0 ? `; allowed here: ${allowed.join(', ')}` : '; no keys are allowed here'),
        fix: suggestion === undefined ? 'remove the key, or use one of the allowed keys' : `rename '${key}' to '${suggestion}'`,
      }
    }
    case 'required':
      return { code: SCHEMA, path, message: `missing required key '${String(params.missingProperty)}'` }
    case 'minLength':
      if (data === '') return { code: SCHEMA, path, message: 'must not be empty' }
      return expectedIssue(path, schema, data)
    case 'maxLength':
      return { code: SCHEMA, path, message: `is too long: at most ${String(params.limit)} characters are allowed` }
    case 'minItems': {
      const limit = Number(params.limit)
      return {
        code: SCHEMA,
        path,
        message: Array.isArray(data) && data.length === 0
          ? `the list is empty; it needs at least ${limit} ${limit === 1 ? 'entry' : 'entries'}`
          : `the list needs at least ${limit} entries`,
      }
    }
    case 'const':
      return { code: SCHEMA, path, message: `expected ${formatLiteral(params.allowedValue)}, got ${describeValue(data)}` }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? []
      return { code: SCHEMA, path, message: `must be one of ${allowed.map(String).join(', ')}, got ${describeValue(data)}` }
    }
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
    case 'pattern':
      return expectedIssue(path, schema, data)
    default:
      return { code: SCHEMA, path, message: e.message ?? `is invalid (${e.keyword})` }
  }
}

function expectedIssue (path: DocPath, schema: JsonSchema, data: unknown): ConfigIssue {
  if (path.length === 0 && (data === null || data === undefined)) {
    return { code: SCHEMA, path, message: `the configuration is empty; expected ${describeExpected(schema)}` }
  }
  return { code: SCHEMA, path, message: `expected ${describeExpected(schema)}, got ${describeValue(data)}${quoteHint(schema, data)}` }
}

// YAML makes it easy to write "443" or 'yes' where a number or a boolean is meant.
function quoteHint (schema: JsonSchema, data: unknown): string {
  if (typeof data !== 'string') return ''
  if ((schema.type === 'integer' || schema.type === 'number') && /^\s*-?\d+(\.\d+)?\s*$/.test(data)) {
    return ' (write the number without quotes)'
  }
  if (schema.type === 'boolean') {
    if (data === 'true' || data === 'false') return ' (write it without quotes)'
    if (/^(yes|no|on|off|y|n)$/i.test(data)) return ' (YAML 1.2: write true or false)'
  }
  return ''
}

export function describeExpected (schema: JsonSchema): string {
  if ('const' in schema) return formatLiteral(schema.const)
  if (schema.anyOf !== undefined) return schema.anyOf.map(describeExpected).join(' or ')
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const noun = schema.type === 'integer' ? 'an integer' : 'a number'
      const { minimum: min, maximum: max, exclusiveMinimum: xmin, exclusiveMaximum: xmax } = schema
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`
      const bounds: string[] = []
      if (min !== undefined) bounds.push(`at least ${min}`)
      if (xmin !== undefined) bounds.push(`greater than ${xmin}`)
      if (max !== undefined) bounds.push(`at most ${max}`)
      if (xmax !== undefined) bounds.push(`less than ${xmax}`)
      return bounds.length > 0 ? `${noun} ${bounds.join(' and ')}` : noun
    }
    case 'string':
      if (schema.expected !== undefined) return schema.expected
      if (schema.pattern !== undefined) return `a string matching ${schema.pattern}`
      return (schema.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string'
    case 'boolean':
      return 'true or false'
    case 'array':
      return 'a list'
    case 'object':
      return schema.required !== undefined && schema.required.length > 0
        ? `a mapping with ${schema.required.join(', ')}`
        : 'a mapping'
    default:
      return schema.expected ?? 'a valid value'
  }
}

// A certificate form, as an operator would write it: {lab: true}, {cert, key}, {pfx}.
function describeForm (schema: JsonSchema): string {
  const required = schema.required ?? []
  const parts = required.map((k) => {
    const p = schema.properties?.[k]
    return p !== undefined && 'const' in p ? `${k}: ${formatLiteral(p.const)}` : k
  })
  return `{${parts.join(', ')}}`
}

export function describeValue (v: unknown): string {
  if (v === null || v === undefined) return 'an empty value'
  if (typeof v === 'string') return `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return String(v)
}

function formatLiteral (v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v)
}

function jsonType (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// ajv can report the same thing twice (for example `type` through two paths of one union); one line each.
function dedupe (issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const k = `${i.path.join('\u0000')}\u0001${i.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
