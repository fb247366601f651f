// `lyncproxy check -c FILE`: validates a configuration the way start-up would (same loader, same
// environment overrides, the same certificate loading) without binding ports or writing anything,
// so it is safe to run on a live proxy before a reload or in CI.
import { parseArgs } from 'node:util'
import { exitCodeOf, LyncProxyError } from '../errors.js'
import { formatErrors, loadConfigFile, overridesFromEnv, type LoadedConfig } from '../config/load.js'
import type { ResolvedConfig } from '../config/defaults.js'
import type { AnalysisTable } from '../routing/analysis-table.js'
import type { Lint } from '../lint/lints.js'
import type { RoutingTable } from '../routing/table.js'

export const CHECK_USAGE = `Usage: lyncproxy check -c FILE [--skip-certificates]

Validates a lyncproxy configuration file: YAML syntax, the schema, references between listeners,
pools and rules, and conflicting settings. Then loads the certificates as start does: every
listener's PEM or PFX files with their passphrases, and the pools' CA files. Binds nothing and
writes nothing; the lab certificates, which start creates when they are missing, are not opened.

Then warns, with the reason, about what breaks Lync although the file is valid: HTTPS bridged to
port 443 of a Lync pool (its internal site; the external one is 4443), lyncdiscover redirected on
port 80 when the certificate may lack its name, meet or dialin not published, admin.<domain>
published, a long-poll rule (/ucwa, /mcx) with a response timeout under 900 s, and an admin plane
open to the network without a token.

Options:
  -c, --config FILE     the YAML configuration to check
      --skip-certificates
                        open no certificate, key, PFX, passphrase or CA file (a machine that
                        validates the file without the deployment's secrets)
  -h, --help            show this help

Environment:
  LYNCPROXY_HTTP_PORT, LYNCPROXY_HTTPS_PORT
                        replace the port of every http / https listener, as at start-up
  the variables named by passphraseEnv, as at start-up

Exit status: 0 valid, 2 invalid configuration, 3 a certificate start could not load, 64 usage error.
`

// Where the output goes; tests pass their own to capture it.
export interface CheckIO {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
  env: NodeJS.ProcessEnv
}

// argv: the arguments after `check` (main.ts strips the command name).
export async function runCheck (argv: string[], io: CheckIO = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let file: string
  let skipCertificates: boolean
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'skip-certificates': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.help === true) {
      io.stdout.write(CHECK_USAGE)
      return 0
    }
    if (values.config === undefined || values.config === '') {
      throw new LyncProxyError('LRP_ERR_USAGE', 'lyncproxy check needs the configuration file: -c FILE', { fix: 'run lyncproxy check -c config/lab.yaml, or see --help' })
    }
    file = values.config
    skipCertificates = values['skip-certificates'] === true
  } catch (err) {
    const e = err instanceof LyncProxyError
      ? err
      // parseArgs throws TypeErrors (unknown option, missing value); they are usage errors.
      : new LyncProxyError('LRP_ERR_USAGE', err instanceof Error ? err.message : String(err))
    io.stderr.write(e.format() + '\n')
    return e.exitCode
  }

  try {
    const overrides = overridesFromEnv(io.env)
    const loaded = await loadConfigFile(file, { overrides })
    // What lints read is compiled by then: a pool's CA file that start could not read fails here.
    const analysis = await compile(loaded, io.env, skipCertificates)
    let found: Lint[]
    try {
      found = await lints(loaded.config, analysis.table)
    } finally {
      analysis.close()
    }
    const { listeners, pools, rules } = loaded.config
    io.stdout.write(`OK: ${file}: ${count(listeners.length, 'listener')}, ${count(Object.keys(pools).length, 'pool')}, ${count(rules.length, 'rule')}\n`)
    for (const [variable, port] of [['LYNCPROXY_HTTP_PORT', overrides.httpPort], ['LYNCPROXY_HTTPS_PORT', overrides.httpsPort]] as const) {
      if (port !== undefined) io.stdout.write(`note: ${variable}=${port} replaces the listener ports in ${file}\n`)
    }
    for (const w of loaded.warnings) io.stderr.write(`warning: ${file}: ${w}\n`)
    for (const lint of found) io.stderr.write(`warning: ${file} at ${lint.path}: ${lint.message}. Why: ${lint.why} [${lint.id}]\n`)
    return 0
  } catch (err) {
    io.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}

// Loads the certificates as start does and compiles the routing table as start does, which reads
// the pools' CA files; with --skip-certificates, the table of `explain`, which reads none. The lab's
// certificates and CA are left out: start creates them when they are missing, and check writes
// nothing. Loaded on use, so that check --help and a file that fails validation stay quick.
async function compile (loaded: LoadedConfig, env: NodeJS.ProcessEnv, skipCertificates: boolean): Promise<AnalysisTable> {
  if (skipCertificates) return (await import('../routing/analysis-table.js')).compileForAnalysis(loaded.config, loaded.baseDir)
  const { loadListenerCertificates } = await import('../tls/load.js')
  await loadListenerCertificates(loaded.config.listeners, { baseDir: loaded.baseDir, env, skipLab: true })
  const { compileTable } = await import('../routing/compile.js')
  const config = structuredClone(loaded.config) as unknown as { pools: Record<string, { tls: { ca: string[] } }> }
  for (const pool of Object.values(config.pools)) pool.tls.ca = pool.tls.ca.filter((ca) => ca !== 'lab')
  const table = compileTable(config as unknown as ResolvedConfig, { baseDir: loaded.baseDir, generation: 0 })
  return { table, close: () => { for (const pool of table.pools.values()) pool.destroy() } }
}

// The Lync lints read the compiled table.
async function lints (config: ResolvedConfig, table: RoutingTable): Promise<Lint[]> {
  const { lintConfig } = await import('../lint/lints.js')
  return lintConfig(config, table)
}

function count (n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
