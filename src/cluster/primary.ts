// `lyncproxy start` with workers > 1: this process becomes the node:cluster primary. It serves no
// request itself; it forks the workers (each runs startProxy as a single process would, on listeners
// node:cluster shares), restarts those that die, runs the one admin plane, and turns SIGHUP and
// SIGTERM into a reload and a graceful stop of every worker.
import type { RunningAdmin } from '../admin/server.js'
import { formatErrors, type LoadedConfig } from '../config/load.js'
import { labCertificateRequest, needsLabCertificates } from '../control/lab-cert-request.js'
import type { Logger } from '../observe/logger.js'
import { ensureLabCertificates } from '../tls/lab-certs.js'
import { exitCodeOf } from '../errors.js'
import { DEFAULT_GRACE_MS, handleSignals } from '../control/signals.js'
import { ClusterControl } from './control.js'
import { StartFailure } from './supervisor.js'
import { createClusterView, type ClusterView } from './view.js'

export interface PrimaryOptions {
  file: string
  // The bytes `loaded` was parsed from; workers start from them.
  text: string
  loaded: LoadedConfig
  logger: Logger
  env: NodeJS.ProcessEnv
  console?: NodeJS.ReadableStream
}

export async function runPrimary (o: PrimaryOptions): Promise<number> {
  const { file, loaded, logger } = o
  let cluster: ClusterControl
  let view: ClusterView
  try {
    // Issued before the fork: workers that all found them missing would race to write them.
    const labCerts = needsLabCertificates(loaded.config) ? await ensureLabCertificates(labCertificateRequest(loaded.config)) : undefined
    view = createClusterView(loaded, labCerts, async () => (await cluster.readiness()).listeners)
    cluster = new ClusterControl({ file: o.file, text: o.text, loaded, view, logger, env: o.env })
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }

  let admin: RunningAdmin | undefined
  // From before the fork: a SIGTERM while workers start stops them too, instead of leaving them
  // without their primary.
  handleSignals({
    file,
    logger,
    graceMs: DEFAULT_GRACE_MS,
    ...(o.console === undefined ? {} : { console: o.console }),
    reload: () => (admin?.reload ?? (() => cluster.reload()))(),
    close: async (graceMs) => {
      await admin?.close()
      await cluster.stop(graceMs)
      await view.close()
    },
  })
  try {
    logger.info(`starting ${cluster.workers} workers`)
    await cluster.start()
  } catch (err) {
    // One message for the cluster, in the words a single process would have used.
    process.stderr.write((err instanceof StartFailure ? err.message : formatErrors(err)) + '\n')
    return exitCodeOf(err)
  }
  for (const l of view.listeners) logger.info(`listening: ${l.name} ${l.protocol}://${l.address}:${l.port}`)
  logger.info(`${cluster.workers} workers ready`)

  try {
    admin = await (await import('../admin/server.js')).startAdminIfEnabled(loaded, view, logger, cluster)
  } catch (err) {
    await cluster.stop(0)
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
  if (admin !== undefined) logger.info(`admin plane and teaching page: ${admin.url}`)
  return -1
}
