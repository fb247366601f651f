// `lyncproxy start -c FILE`: the proxy alone, in front of real (or any) Lync servers.
import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import { formatErrors, overridesFromEnv, parseConfig, readConfigText } from '../config/load.js'
import { createReloader } from '../control/reload.js'
import type { RunningAdmin } from '../admin/server.js'
import { applyHeapPolicy } from '../control/heap-policy.js'
import { startProxy } from '../control/proxy.js'
import { attachErrorLog, logEscapedErrors } from '../observe/error-log.js'
import { createLogger } from '../observe/logger.js'
import { exitCodeOf, LyncProxyError } from '../errors.js'
import { consoleByDefault } from '../control/console-commands.js'
import { handleSignals } from '../control/signals.js'

export const START_USAGE = `Usage: lyncproxy start -c FILE [--log-level LEVEL] [--log-file FILE] [--console]

Runs the reverse proxy with the given configuration until SIGTERM/SIGINT. SIGHUP reloads the file.
With workers > 1 in the file, this process forks that many workers and restarts any that dies.

Options:
  -c, --config FILE     the YAML configuration
      --log-level LEVEL fatal, error, warn, info, debug, trace or silent (default: the config's log.level)
      --log-file FILE   append JSON log lines to FILE instead of stdout (default: the config's log.file)
      --console         read commands from standard input: reload, stop, help (on by default on
                        Windows in a console, which has no SIGHUP; POST /api/reload works everywhere)
  -h, --help            show this help

Environment:
  LYNCPROXY_HTTP_PORT, LYNCPROXY_HTTPS_PORT   replace the port of every http / https listener
`

export async function runStart (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, 'log-file': { type: 'string' }, console: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help === true) { process.stdout.write(START_USAGE); return 0 }
  if (values.config === undefined) {
    const e = new LyncProxyError('LRP_ERR_USAGE', 'lyncproxy start needs -c FILE', { fix: 'see lyncproxy start --help' })
    process.stderr.write(e.format() + '\n')
    return e.exitCode
  }
  const file = values.config
  const input = values.console === true || consoleByDefault() ? process.stdin : undefined
  applyHeapPolicy()
  // node:cluster starts a worker with this same command line; the primary gives it the config.
  if (cluster.isWorker) {
    return (await import('../cluster/worker.js')).runWorker({ file, ...(values['log-level'] === undefined ? {} : { logLevel: values['log-level'] }), ...(values['log-file'] === undefined ? {} : { logFile: values['log-file'] }) })
  }
  try {
    const text = await readConfigText(file)
    const loaded = parseConfig(text, file, { overrides: overridesFromEnv(process.env) })
    const logFile = values['log-file'] ?? loaded.config.log.file
    const logger = createLogger({ level: values['log-level'] ?? loaded.config.log.level, ...(logFile === undefined ? {} : { file: logFile }) })
    if (loaded.config.workers > 1) return await (await import('../cluster/primary.js')).runPrimary({ file, text, loaded, logger, env: process.env, ...(input === undefined ? {} : { console: input }) })
    const proxy = await startProxy(loaded, { logger })
    attachErrorLog(proxy.bus, logger)
    logEscapedErrors(logger)
    for (const l of proxy.listeners) logger.info(`listening: ${l.name} ${l.protocol}://${l.address}:${l.port}`)
    // Signals are handled from the moment the listeners serve; until the admin plane is up a reload
    // takes the same path without its metric.
    let admin: RunningAdmin | undefined
    const early = createReloader({ file, proxy, logger, env: process.env })
    handleSignals({ file, logger, proxy, close: async (graceMs) => { await admin?.close(); await proxy.close(graceMs) }, reload: () => (admin?.reload ?? early)(), ...(input === undefined ? {} : { console: input }) })
    try {
      // fastify and prom-client load only when the proxy really starts, not for --help.
      admin = await (await import('../admin/server.js')).startAdminIfEnabled(loaded, proxy, logger)
    } catch (err) {
      await proxy.close(0)
      throw err
    }
    if (admin !== undefined) logger.info(`admin plane and teaching page: ${admin.url}`)
    return -1
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}
