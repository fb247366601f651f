// Reloading the configuration file: the one path that SIGHUP and POST /api/reload share. Reloads
// run one at a time; a file that does not load, validate or compile leaves the running table in
// place, and the answer says why.
import { formatErrors, loadConfigFile, overridesFromEnv } from '../config/load.js'
import type { RunningProxy } from '../control/proxy.js'
import type { Logger } from '../observe/logger.js'

export interface ReloadResult {
  ok: boolean
  file: string
  // The routing table generation running after the attempt.
  generation: number
  errors: string[]
}

export interface ReloaderOptions {
  file: string | undefined
  proxy: RunningProxy
  logger: Logger
  env: NodeJS.ProcessEnv
  onResult?: (result: ReloadResult) => void
}

export function createReloader (o: ReloaderOptions): () => Promise<ReloadResult> {
  let queue: Promise<unknown> = Promise.resolve()
  const once = async (): Promise<ReloadResult> => {
    const file = o.file ?? ''
    let result: ReloadResult
    if (o.file === undefined) {
      result = { ok: false, file, generation: o.proxy.table().generation, errors: ['this proxy was started from a configuration built in code, not from a file: there is nothing to re-read'] }
    } else {
      try {
        const next = await loadConfigFile(o.file, { overrides: overridesFromEnv(o.env) })
        await o.proxy.reload(next)
        result = { ok: true, file, generation: o.proxy.table().generation, errors: [] }
      } catch (err) {
        result = { ok: false, file, generation: o.proxy.table().generation, errors: formatErrors(err).split('\n') }
        o.logger.error({ err: result.errors.join('\n') }, `reload of ${file} failed; the running configuration stays in place`)
      }
    }
    o.onResult?.(result)
    return result
  }
  return () => {
    const run = queue.then(once, once)
    queue = run
    return run
  }
}
