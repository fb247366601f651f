// `lyncproxy lab` (what `npm start` runs): the proxy and the stand-in Lync servers on loopback, then
// what a person needs to point a client at it.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createReloader } from '../control/reload.js'
import type { RunningAdmin } from '../admin/server.js'
import { formatErrors, loadConfigFile, overridesFromEnv, type ResolvedConfig } from '../config/load.js'
import { applyHeapPolicy } from '../control/heap-policy.js'
import { startLab, type RunningLab } from '../lab/run.js'
import { attachErrorLog, logEscapedErrors } from '../observe/error-log.js'
import { createLogger } from '../observe/logger.js'
import { exitCodeOf } from '../errors.js'
import { CONSOLE_COMMANDS, consoleByDefault } from '../control/console-commands.js'
import { handleSignals } from '../control/signals.js'
import { brokenPresetNames, withBrokenPreset } from '../lab/broken-presets.js'
import { parseFaultOption, withFaults } from './fault-option.js'

export const DEFAULT_LAB_CONFIG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/lab.yaml')

export const LAB_USAGE = `Usage: lyncproxy lab [-c FILE] [--log-level LEVEL] [--log-file FILE] [--fault RULE:FIELD=VALUE ...] [--broken PRESET] [--console]

Runs the lab: lyncproxy plus stand-in Front End, Director and Office Web Apps servers, all on loopback.
Lab certificates (a lab CA and the server certificates) are created in certs/ on first start.

Options:
  -c, --config FILE     the lab configuration (default: config/lab.yaml)
      --log-level LEVEL fatal, error, warn, info, debug, trace or silent
      --log-file FILE   append JSON log lines to FILE instead of stdout (default: the config's log.file)
      --fault SPEC      inject faults on a rule, as rules.<name>.fault does: RULE:FIELD=VALUE[,...]
                        with delay=S, abort=STATUS, reset, stall, truncateAfter=BYTES, cutAfter=S,
                        percent=P (for example --fault webext:abort=503); repeatable, and
                        kept by a reload (SIGHUP)
      --broken PRESET   run the lab behind a classically misconfigured proxy: ${brokenPresetNames().join(', ')}
                        (docs/library.md says what each one breaks)
      --console         read commands from standard input: reload, stop, help (on by default on
                        Windows in a console, which has no SIGHUP)
  -h, --help            show this help

Environment:
  LYNCPROXY_HTTP_PORT, LYNCPROXY_HTTPS_PORT   use these ports instead of 80 and 443 (no root needed)

Without the privilege to bind ports below 1024, every lab port below 1024 moves up by 10000
(80 -> 10080, 443 -> 10443); the banner prints the ports in use.
`

export async function runLab (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, 'log-file': { type: 'string' }, fault: { type: 'string', multiple: true }, broken: { type: 'string' }, console: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help === true) { process.stdout.write(LAB_USAGE); return 0 }
  const file = values.config ?? DEFAULT_LAB_CONFIG
  const input = values.console === true || consoleByDefault() ? process.stdin : undefined
  applyHeapPolicy()
  try {
    const faults = (values.fault ?? []).map(parseFaultOption)
    const fromFile = await loadConfigFile(file, { overrides: overridesFromEnv(process.env) })
    // --broken and --fault change the file's config; a reload of the file makes the same changes.
    const asAsked = (config: ResolvedConfig): ResolvedConfig => withFaults(values.broken === undefined ? config : withBrokenPreset(config, values.broken), faults)
    const loaded = { ...fromFile, config: asAsked(fromFile.config) }
    const logFile = values['log-file'] ?? loaded.config.log.file
    const logger = createLogger({ level: values['log-level'] ?? loaded.config.log.level, ...(logFile === undefined ? {} : { file: logFile }) })
    // The lab's stand-ins and its HLB VIP live in this process; a cluster would need them elsewhere.
    if (loaded.config.workers > 1) logger.warn(`workers: ${loaded.config.workers} is for lyncproxy start; the lab runs in one process`)
    const lab = await startLab(loaded, { logger })
    attachErrorLog(lab.proxy.bus, logger)
    logEscapedErrors(logger)
    // As in start: signals work from the moment the lab serves; reloads count once the admin plane is up.
    let admin: RunningAdmin | undefined
    const prepare = (config: ResolvedConfig): ResolvedConfig => lab.prepare(asAsked(config))
    const early = createReloader({ file, proxy: lab.proxy, logger, env: process.env, prepare })
    handleSignals({ file, logger, proxy: lab.proxy, close: async (graceMs) => { await admin?.close(); await lab.close(graceMs) }, reload: () => (admin?.reload ?? early)(), ...(input === undefined ? {} : { console: input }) })
    try {
      admin = await (await import('../admin/server.js')).startAdminIfEnabled(loaded, lab.proxy, logger, undefined, prepare)
    } catch (err) {
      await lab.close()
      throw err
    }
    process.stdout.write(labBanner(lab, admin, { console: input !== undefined }))
    return -1
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}

export function labBanner (lab: RunningLab, admin?: RunningAdmin, o: { console?: boolean } = {}): string {
  const proxy = lab.proxy
  const config = proxy.config()
  const names = proxy.table().publicNames.filter((n) => !n.startsWith('*.'))
  // The reverse proxy's own listeners: the HLB VIP's are internal and serve other names.
  const external = proxy.listeners.filter((l) => config.listeners.find((c) => c.name === l.name)?.interface !== 'internal')
  const http = external.find((l) => l.protocol === 'http')
  const https = external.find((l) => l.protocol === 'https')
  const lines: string[] = ['', 'lyncproxy lab is ready.', '']
  lines.push('Listeners:')
  for (const l of proxy.listeners) lines.push(`  ${l.name.padEnd(16)} ${l.protocol}://${l.address}:${l.port}`)
  for (const f of config.tcp) lines.push(`  ${f.name.padEnd(16)} tcp://${f.address}:${f.port} (layer 4, to pool ${f.pool})`)
  lines.push('', 'Stand-in servers:')
  for (const s of lab.standIns) lines.push(`  ${s.member.padEnd(8)} ${s.sites.map((x) => `${x.kind} ${x.protocol}://${x.address}:${x.port}`).join(', ')}`)
  if (admin !== undefined) lines.push('', `Admin plane and teaching page: ${admin.url}`, `  metrics ${admin.url}metrics, routes ${admin.url}api/routes, live flows ${admin.url}api/flows`)
  lines.push('', 'Published names:')
  for (const n of names) lines.push(`  ${n}`)
  if (proxy.labCerts !== undefined) lines.push('', `Trust the lab CA: ${proxy.labCerts.caFile}`)
  lines.push('', 'Try it (curl --resolve points a name at the proxy without DNS):')
  const ca = proxy.labCerts === undefined ? '' : ` --cacert ${proxy.labCerts.caFile}`
  for (const n of names) {
    if (https !== undefined) lines.push(`  curl -si${ca} --resolve ${n}:${https.port}:${https.address} 'https://${n}${https.port === 443 ? '' : ':' + https.port}${tryPath(n, config)}'`)
  }
  if (http !== undefined) {
    const lyncdiscover = names.find((n) => n.startsWith('lyncdiscover.'))
    if (lyncdiscover !== undefined) lines.push(`  curl -si --resolve ${lyncdiscover}:${http.port}:${http.address} 'http://${lyncdiscover}${http.port === 80 ? '' : ':' + http.port}${tryPath(lyncdiscover, config)}'`)
  }
  const address = https?.address ?? http?.address ?? '127.0.0.1'
  lines.push('', 'Or add to the hosts file (/etc/hosts, C:\\Windows\\System32\\drivers\\etc\\hosts):')
  lines.push(`  ${address} ${names.join(' ')}`)
  for (const n of lab.notes) lines.push('', `note: ${n}`)
  lines.push('', 'Ctrl-C stops the lab.')
  if (o.console === true) lines.push(`Type a command here: ${CONSOLE_COMMANDS}.`)
  lines.push('')
  return lines.join('\n')
}

// A page each published name really serves in the lab, so that every "try it" line answers 200:
// the autodiscover root for the pools' web names and lyncdiscover, a meeting for meet, the dial-in
// page, and Office Web Apps' discovery document.
function tryPath (name: string, config: ResolvedConfig): string {
  const domain = config.lab?.sipDomain ?? 'contoso.com'
  const user = config.lab?.users?.[0]?.sipUri ?? `user1@${domain}`
  const lower = name.toLowerCase()
  if (lower.startsWith('lyncdiscover.')) return `/?sipuri=${user}`
  if (lower.startsWith('meet.')) return `/${user.split('@')[0] ?? 'user1'}/ABC123`
  if (lower.startsWith('dialin.')) return '/'
  const rule = config.rules.find((r) => r.action === 'forward' && r.publicNames.some((p) => p.toLowerCase() === lower))
  const role = rule?.pool === undefined ? undefined : config.pools[rule.pool]?.role
  if (role === 'owas') return '/hosting/discovery'
  if (role === 'frontend' || role === 'director') return `/Autodiscover/AutodiscoverService.svc/root?originalDomain=${domain}`
  return '/'
}
