// Loading a configuration: read, parse YAML (keeping positions), validate against the schema, check
// references and conflicts, apply overrides and defaults. Every problem found in one pass is reported
// together with its file, line, column and path, so an operator fixes a file in one go.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { LyncProxyError, LyncProxyErrors, type ErrorLocation } from '../errors.js'
import { applyDefaults, type ResolvedConfig } from './defaults.js'
import { toPointer, type ConfigIssue, type DocPath } from './issues.js'
import { crossCheckIssues } from './references.js'
import type { Config } from './schema.js'
import { shadowedRuleWarnings } from './shadowing.js'
import { schemaIssues } from './validate.js'
import { parseYamlWithPositions, type Position } from './yaml-positions.js'

export type { ResolvedConfig, ResolvedListener, ResolvedPool, ResolvedRule, ResolvedTimeouts } from './defaults.js'
export { DEFAULTS } from './defaults.js'

export interface LoadedConfig {
  config: ResolvedConfig
  file: string
  // Absolute directory of the config file: relative cert, key, pfx and CA paths resolve against it.
  baseDir: string
  warnings: string[]
}

// Replaces the port of every http / https listener: LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT let a
// non-root user run the lab without editing it, and tests use port 0.
export interface ConfigOverrides {
  httpPort?: number
  httpsPort?: number
}

export interface LoadOptions {
  overrides?: ConfigOverrides
}

type Locate = (path: DocPath, at?: 'key' | 'value') => Position | undefined

export async function loadConfigFile (file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  return parseConfig(await readConfigText(file), file, options)
}

// The text alone, with the same errors as loadConfigFile: a cluster primary reads the file once and
// hands these bytes to every worker.
export async function readConfigText (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new LyncProxyErrors([readError(file, err)])
  }
}

export function parseConfig (text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const parsed = parseYamlWithPositions(text, file)
  // Schema errors on a document that did not parse would only be noise.
  if (parsed.errors.length > 0) throw new LyncProxyErrors(parsed.errors)
  return check(parsed.value, { file, baseDir: path.resolve(path.dirname(file)) }, options, parsed.locate, parsed.warnings)
}

// For configs built in code (tests): the same checks, with paths but no lines.
export function validateConfigObject (obj: unknown, source: { file: string, baseDir: string }, options: LoadOptions = {}): LoadedConfig {
  return check(obj, { file: source.file, baseDir: path.resolve(source.baseDir) }, options, () => undefined, [])
}

function check (value: unknown, source: { file: string, baseDir: string }, options: LoadOptions, locate: Locate, yamlWarnings: string[]): LoadedConfig {
  const overrides = checkOverrides(options.overrides ?? {})
  const fail = (issues: ConfigIssue[]): never => {
    // In file order, so the report reads top to bottom; sort() is stable, and errors without a line
    // (configs built in code) keep the order of the checks.
    const errors = issues.map((i) => issueToError(i, source.file, locate))
      .sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0) || (a.location.column ?? 0) - (b.location.column ?? 0))
    throw new LyncProxyErrors(errors)
  }

  const schema = schemaIssues(value)
  if (schema.length > 0) fail(schema)

  // The overrides go in before the conflict checks: two listeners forced onto one port is a clash.
  const config = withOverrides(value as Config, overrides)
  const cross = crossCheckIssues(config, {
    overridden: { http: overrides.httpPort !== undefined, https: overrides.httpsPort !== undefined },
  })
  if (cross.length > 0) fail(cross)

  const resolved = applyDefaults(config, source.baseDir)
  const place = (path: DocPath): string | undefined => {
    const at = locate(path, 'value')
    return at === undefined ? undefined : `${source.file}:${at.line}:${at.column}`
  }
  return {
    config: resolved,
    file: source.file,
    baseDir: source.baseDir,
    warnings: [...yamlWarnings, ...configWarnings(resolved), ...shadowedRuleWarnings(resolved, place)],
  }
}

function withOverrides (config: Config, overrides: ConfigOverrides): Config {
  const { httpPort, httpsPort } = overrides
  if (httpPort === undefined && httpsPort === undefined) return config
  return {
    ...config,
    // Only the reverse proxy's external listeners: an HLB VIP on the internal side keeps the ports
    // the pools are reached on.
    listeners: config.listeners.map((l) => {
      const port = l.protocol === 'http' ? httpPort : httpsPort
      return port === undefined || l.interface === 'internal' ? l : { ...l, port }
    }),
  }
}

// Things that are allowed but that an operator should know about.
function configWarnings (config: ResolvedConfig): string[] {
  const warnings: string[] = []
  for (const [name, pool] of Object.entries(config.pools)) {
    if (!pool.tls.verify) {
      warnings.push(`upstream TLS verification is off for pool ${name}: the proxy will forward to any server that answers on its address`)
    }
    if (pool.kind === 'dns' && config.rules.some((r) => r.pool === name)) {
      warnings.push(`pool ${name} uses DNS load balancing for web traffic: Lync Server does not support that (HTTP/HTTPS needs a hardware load balancer); fine for a lab or non-Lync use`)
    }
  }
  return warnings
}

function issueToError (issue: ConfigIssue, file: string, locate: Locate): LyncProxyError {
  const location: ErrorLocation = { file }
  const at = locate(issue.path, issue.at)
  if (at !== undefined) {
    location.line = at.line
    location.column = at.column
  }
  location.path = toPointer(issue.path)
  return new LyncProxyError(issue.code, issue.message, { location, fix: issue.fix })
}

function readError (file: string, err: unknown): LyncProxyError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const reason = code === 'ENOENT'
    ? 'the file does not exist'
    : code === 'EISDIR'
      ? 'it is a directory, not a file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : err instanceof Error ? err.message : String(err)
  return new LyncProxyError('LRP_ERR_CONFIG_READ', `cannot read the configuration: ${reason}`, {
    location: { file },
    cause: err,
  })
}

const PORT_VARIABLES = [['LYNCPROXY_HTTP_PORT', 'httpPort'], ['LYNCPROXY_HTTPS_PORT', 'httpsPort']] as const

// Reads LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT. An empty variable counts as unset (the usual
// shell idiom for clearing one); anything else must be a whole port number.
export function overridesFromEnv (env: NodeJS.ProcessEnv): ConfigOverrides {
  const overrides: ConfigOverrides = {}
  for (const [variable, key] of PORT_VARIABLES) {
    const raw = env[variable]
    if (raw === undefined || raw.trim() === '') continue
    const port = parsePort(raw.trim())
    if (port === undefined) {
      throw new LyncProxyError('LRP_ERR_USAGE', `${variable} must be a port number from 0 to 65535, got '${raw}'`, {
        fix: `set ${variable} to a port number (for example 8443), or unset it`,
      })
    }
    overrides[key] = port
  }
  return overrides
}

function parsePort (s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined
  const n = Number(s)
  return n <= 65535 ? n : undefined
}

function checkOverrides (overrides: ConfigOverrides): ConfigOverrides {
  for (const [, key] of PORT_VARIABLES) {
    const port = overrides[key]
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new LyncProxyError('LRP_ERR_USAGE', `the ${key} override must be a port number from 0 to 65535, got ${String(port)}`)
    }
  }
  return overrides
}

// One block of text for the CLI: every LyncProxyError on its own line; anything else is a bug and
// keeps its stack.
export function formatErrors (e: unknown): string {
  if (e instanceof LyncProxyErrors) return e.errors.map((x) => x.format()).join('\n')
  if (e instanceof LyncProxyError) return e.format()
  if (e instanceof Error) return `internal error: ${e.stack ?? e.message}`
  return `internal error: ${String(e)}`
}
