// Reloading, the one path every reload takes. reloadInPlace builds the next generation (certificates,
// table, pool supervision) beside the running one and swaps it in; anything that fails throws before
// the swap and leaves the running one in place. createReloader is how SIGHUP, POST /api/reload and
// the CLI re-read the file: one reload at a time, with an answer that says what happened.
import { Type, type Static } from '@sinclair/typebox'
import { formatErrors, loadConfigFile, overridesFromEnv, type LoadedConfig } from '../config/load.js'
import type { ResolvedConfig } from '../config/defaults.js'
import { LyncProxyError } from '../errors.js'
import type { Logger } from '../observe/logger.js'
import { compileTable } from '../routing/compile.js'
import type { RoutingTable } from '../routing/table.js'
import { labCertificatesFor, loadListenerCertificates, serveCertificates } from './certificates.js'
import type { LiveProxy } from './live.js'
import { supervisePools } from './pool-supervisor.js'
import { destroyPools } from './shutdown.js'

export async function reloadInPlace (live: LiveProxy, next: LoadedConfig): Promise<void> {
  const { logger } = live
  const nextConfig = next.config
  refuseListenerChanges(live.config, next)
  const nextLab = await labCertificatesFor(nextConfig, live.labCerts)
  const nextSni = await loadListenerCertificates(nextConfig, next.baseDir, nextLab, live.env)
  const generation = live.tables.current.generation + 1
  const table = compileTable(nextConfig, { baseDir: next.baseDir, labCaPem: nextLab?.caPem, generation, boundPorts: live.boundPorts, counters: live.counters })
  let nextSupervisor
  try {
    nextSupervisor = await supervisePools(table, nextConfig, logger)
  } catch (err) {
    destroyPools(table)
    throw err
  }
  // An operator's drain outlives a reload: the same member of the same pool stays out of rotation.
  for (const [name, pool] of live.tables.current.pools) {
    const nextPool = table.pools.get(name)
    for (const m of pool.members) if (m.draining) nextPool?.setDraining(m.name, true)
  }
  // Everything new is built; from here on nothing can fail, so the swap is all or nothing.
  const previous = live.tables.current
  live.tables.current = table
  live.supervisor.stop()
  live.supervisor = nextSupervisor
  live.config = nextConfig
  live.labCerts = nextLab
  live.sniByListener = nextSni
  serveCertificates(live.listening, nextSni, nextConfig)
  // Requests in flight keep their pool; its idle sockets go now, busy ones when they finish.
  for (const pool of previous.pools.values()) pool.drain()
  for (const pool of previous.tcpPools.values()) pool.destroy()
  for (const w of next.warnings) logger.warn(w)
  logger.info({ generation }, 'configuration reloaded')
}

// Listeners are bound once, at start; a process cannot turn into a cluster (or change its worker
// count) in place either, since the listeners would have to move between processes.
function refuseListenerChanges (running: ResolvedConfig, next: LoadedConfig): void {
  const nextConfig = next.config
  const sameListeners = JSON.stringify(nextConfig.listeners.map(listenerIdentity)) === JSON.stringify(running.listeners.map(listenerIdentity)) &&
    JSON.stringify(nextConfig.tcp.map(tcpIdentity)) === JSON.stringify(running.tcp.map(tcpIdentity))
  if (!sameListeners) {
    throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', 'the reloaded config changes listeners (names, protocols, addresses or ports)', {
      location: { file: next.file, path: '/listeners' },
      fix: 'restart the proxy to change listeners; a reload changes pools, rules and certificates',
    })
  }
  if (nextConfig.workers !== running.workers) {
    throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `the reloaded config changes workers from ${running.workers} to ${nextConfig.workers}`, {
      location: { file: next.file, path: '/workers' },
      fix: 'restart the proxy to change workers; a reload changes pools, rules and certificates',
    })
  }
  // Node fixes a server's header limit when the server is created.
  if (nextConfig.defaults.maxHeaderBytes !== running.defaults.maxHeaderBytes) {
    throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `the reloaded config changes defaults.maxHeaderBytes from ${running.defaults.maxHeaderBytes} to ${nextConfig.defaults.maxHeaderBytes}`, {
      location: { file: next.file, path: '/defaults/maxHeaderBytes' },
      fix: 'restart the proxy to change maxHeaderBytes; a reload changes pools, rules and certificates',
    })
  }
}

function listenerIdentity (l: ResolvedConfig['listeners'][number]): string {
  return `${l.name}|${l.protocol}|${l.address}|${l.port}`
}

function tcpIdentity (f: ResolvedConfig['tcp'][number]): string {
  return `${f.name}|${f.address}|${f.port}`
}

// A schema, because POST /api/reload answers with it (src/admin/schemas.ts); the type is derived.
export const ReloadResultSchema = Type.Object({
  ok: Type.Boolean(),
  file: Type.String(),
  // The routing table generation running after the attempt.
  generation: Type.Integer(),
  errors: Type.Array(Type.String()),
})
export type ReloadResult = Static<typeof ReloadResultSchema>

// What a reload from the file needs of the running proxy; RunningProxy fits it.
export interface Reloadable {
  reload (loaded: LoadedConfig): Promise<void>
  table (): RoutingTable
}

export interface ReloaderOptions {
  file: string | undefined
  proxy: Reloadable
  logger: Logger
  env: NodeJS.ProcessEnv
  onResult?: (result: ReloadResult) => void
  // What the process did to the file's config when it started (the lab moves its ports without
  // privilege, and applies --broken and --fault): a reload of the file does it again.
  prepare?: (config: ResolvedConfig) => ResolvedConfig
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
        const loaded = await loadConfigFile(o.file, { overrides: overridesFromEnv(o.env) })
        const next = o.prepare === undefined ? loaded : { ...loaded, config: o.prepare(loaded.config) }
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
