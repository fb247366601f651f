// `lyncproxy start -c FILE`: the proxy alone, in front of real (or any) Lync servers.
import { parseArgs } from 'node:util'
import { formatErrors, loadConfigFile, overridesFromEnv } from '../config/load.js'
import { startProxy } from '../control/proxy.js'
import { createLogger } from '../observe/logger.js'
import { exitCodeOf } from './exit-code.js'
import { handleSignals } from './run-proxy.js'

export const START_USAGE = `Usage: lyncproxy start -c FILE [--log-level LEVEL] [--log-file FILE]

Runs the reverse proxy with the given configuration until SIGTERM/SIGINT. SIGHUP reloads the file.

Options:
  -c, --config FILE     the YAML configuration
      --log-level LEVEL fatal, error, warn, info, debug, trace or silent (default: the config's log.level)
      --log-file FILE   append JSON log lines to FILE instead of stdout
  -h, --help            show this help

Environment:
  LYNCPROXY_HTTP_PORT, LYNCPROXY_HTTPS_PORT   replace the port of every http / https listener
`

export async function runStart (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, 'log-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help === true) { process.stdout.write(START_USAGE); return 0 }
  if (values.config === undefined) { process.stderr.write('LRP_ERR_USAGE: lyncproxy start needs -c FILE. Fix: see lyncproxy start --help\n'); return 64 }
  const file = values.config
  try {
    const loaded = await loadConfigFile(file, { overrides: overridesFromEnv(process.env) })
    const logger = createLogger({ level: values['log-level'] ?? loaded.config.log.level, ...(values['log-file'] === undefined ? {} : { file: values['log-file'] }) })
    const proxy = await startProxy(loaded, { logger })
    for (const l of proxy.listeners) logger.info(`listening: ${l.name} ${l.protocol}://${l.address}:${l.port}`)
    handleSignals({ file, logger, proxy, close: () => proxy.close() })
    return -1
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}
