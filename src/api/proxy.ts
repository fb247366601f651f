// loadConfig() and startProxy() for code that runs the proxy itself (a test with its own upstreams,
// a supervisor): the same loading, validation and start as `lyncproxy check` and `lyncproxy start`,
// typed from the one config schema.
import path from 'node:path'
import pino from 'pino'
import type { Config } from '../config/schema.js'
import { loadConfigFile, validateConfigObject, type LoadedConfig } from '../config/load.js'
import { startProxy as startRunningProxy, type RunningProxy } from '../control/proxy.js'
import type { Logger } from '../observe/logger.js'

export type { Config, LoadedConfig, RunningProxy }

// Reads, validates and resolves a YAML config file. A file that fails throws LyncProxyErrors, whose
// `errors` each carry the code, the file:line and the fix, as `lyncproxy check` prints them.
export async function loadConfig (file: string): Promise<LoadedConfig> {
  return await loadConfigFile(file)
}

export interface StartProxyOptions {
  // Relative certificate and CA paths of a config given as an object resolve against this
  // directory (the process's working directory by default); a loaded file has its own.
  baseDir?: string
  // A pino logger, or a level for one on stdout; silent by default.
  logger?: Logger
  logLevel?: string
}

// Starts the proxy from a loaded config file or from a config object (validated the same way).
export async function startProxy (config: LoadedConfig | Config, options: StartProxyOptions = {}): Promise<RunningProxy> {
  const loaded = isLoaded(config)
    ? config
    : validateConfigObject(config, { file: '(config object)', baseDir: path.resolve(options.baseDir ?? '.') })
  const logger = options.logger ?? pino({ level: options.logLevel ?? 'silent' })
  return await startRunningProxy(loaded, { logger })
}

function isLoaded (config: LoadedConfig | Config): config is LoadedConfig {
  return 'config' in config && 'baseDir' in config && 'warnings' in config
}
