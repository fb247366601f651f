// A cluster worker: the proxy exactly as a single process runs it (startProxy), on listeners that
// node:cluster shares through the primary, with the config the primary sends. It runs no admin
// plane; it answers the primary's questions (status, metrics, traffic) and orders (reload, drain).
import { formatErrors, overridesFromEnv, parseConfig } from '../config/load.js'
import { readinessOf } from '../admin/readiness.js'
import { startProxy, type RunningProxy } from '../control/proxy.js'
import { attachErrorLog, logEscapedErrors } from '../observe/error-log.js'
import { createLogger, type Logger } from '../observe/logger.js'
import { createMetrics, type Metrics } from '../observe/metrics.js'
import { tallyTraffic, type TrafficTally } from '../observe/traffic.js'
import { exitCodeOf } from '../errors.js'
import { isPrimaryMessage, type OpResults, type PrimaryMessage, type StartPayload, type WorkerMessage, type WorkerOp } from './protocol.js'

export interface WorkerArgs {
  file: string
  logLevel?: string
  logFile?: string
}

interface Running {
  proxy: RunningProxy
  metrics: Metrics
  traffic: TrafficTally
  logger: Logger
}

function send (message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) { resolve(); return }
    process.send(message, undefined, {}, () => resolve())
  })
}

export async function runWorker (args: WorkerArgs): Promise<number> {
  let running: Running | undefined
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // The primary's SIGTERM (or a terminal's SIGINT to the whole group): the graceful close a single
    // process does, then exit 0. Still starting: nothing is served yet.
    if (running === undefined) { process.exit(0) }
    const { proxy, logger } = running
    proxy.close().then(() => { logger.flush(); process.exit(0) }, () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // The primary reloads every worker with the same bytes; a hangup of the terminal reaches the
  // whole process group and must not end (or reload) a worker on its own.
  process.on('SIGHUP', () => {})

  let started: (r: Running) => void = () => {}
  const ready = new Promise<Running>((resolve) => { started = resolve })
  let gotStart: (p: StartPayload) => void = () => {}
  const startPayload = new Promise<StartPayload>((resolve) => { gotStart = resolve })

  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return
    if (message.lyncproxy === 'start') gotStart(message)
    else if (message.lyncproxy === 'request') void answer(message, ready, args.file)
  })
  await send({ lyncproxy: 'hello' })
  const start = await startPayload

  try {
    const loaded = parseConfig(start.text, args.file, { overrides: overridesFromEnv(process.env) })
    const logFile = args.logFile ?? loaded.config.log.file
    // Every line of a worker says which worker wrote it, beside its pid.
    const logger = createLogger({ level: args.logLevel ?? loaded.config.log.level, ...(logFile === undefined ? {} : { file: logFile }) }).child({ worker: start.slot })
    const proxy = await startProxy(loaded, { logger })
    attachErrorLog(proxy.bus, logger)
    logEscapedErrors(logger)
    for (const d of start.drains) proxy.table().pools.get(d.pool)?.setDraining(d.member, true)
    running = { proxy, logger, metrics: createMetrics(proxy, { adminMetrics: false }), traffic: tallyTraffic(proxy.bus) }
    started(running)
    await send({ lyncproxy: 'ready', listeners: [...proxy.listeners], tcpFrontends: [...proxy.tcpFrontends], generation: proxy.table().generation })
    return -1
  } catch (err) {
    // The primary prints it once, for all workers, and exits with this status at first start.
    await send({ lyncproxy: 'failed', error: formatErrors(err), exitCode: exitCodeOf(err) })
    process.exit(exitCodeOf(err))
  }
}

async function answer (message: Extract<PrimaryMessage, { lyncproxy: 'request' }>, ready: Promise<Running>, file: string): Promise<void> {
  try {
    const value = await perform(message.op, await ready, file)
    await send({ lyncproxy: 'reply', id: message.id, ok: true, value })
  } catch (err) {
    await send({ lyncproxy: 'reply', id: message.id, ok: false, error: formatErrors(err) })
  }
}

async function perform (op: WorkerOp, r: Running, file: string): Promise<OpResults[WorkerOp['name']]> {
  switch (op.name) {
    case 'reload':
      await r.proxy.reload(parseConfig(op.text, file, { overrides: overridesFromEnv(process.env) }))
      return { generation: r.proxy.table().generation }
    case 'status':
      return readinessOf(r.proxy)
    case 'metrics':
      return r.metrics.registry.getMetricsAsJSON()
    case 'traffic':
      return r.traffic.snapshot()
    case 'drain': {
      const m = r.proxy.table().pools.get(op.pool)?.setDraining(op.member, op.draining)
      return m === undefined ? null : { pool: op.pool, member: m.name, draining: m.draining, active: m.active }
    }
  }
}
