// What the primary does with its workers beyond keeping them alive: hand each its config, reload
// them all from one read of the file, fan admin requests out to them and combine the answers.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { AdminCluster, ClusterDrainReply, ClusterReadiness, WorkerState } from '../admin/cluster.js'
import type { PoolReadiness, Readiness } from '../admin/readiness.js'
import type { ReloadResult } from '../control/reload.js'
import { formatErrors, overridesFromEnv, parseConfig, readConfigText, type LoadedConfig } from '../config/load.js'
import { labCertificateRequest, needsLabCertificates } from '../control/lab-cert-request.js'
import type { Logger } from '../observe/logger.js'
import type { TrafficEntry } from '../observe/traffic.js'
import { ensureLabCertificates } from '../tls/lab-certs.js'
import type { DrainSetting, OpName, OpResults, WorkerOp } from './protocol.js'
import { WorkerSupervisor, type Slot } from './supervisor.js'
import type { ClusterView } from './view.js'

// Admin questions are answered from memory in a worker; one that takes longer is busy or stuck,
// and the answer goes on without it. A reload may issue lab certificates and read PFX files.
const QUERY_TIMEOUT_MS = 2000
const RELOAD_TIMEOUT_MS = 60_000

export interface ControlOptions {
  file: string
  // The text of the file the cluster started from: what workers are given until a reload succeeds.
  text: string
  loaded: LoadedConfig
  view: ClusterView
  logger: Logger
  env: NodeJS.ProcessEnv
}

export class ClusterControl implements AdminCluster {
  readonly supervisor: WorkerSupervisor
  readonly workers: number
  private text: string
  private readonly drains = new Map<string, DrainSetting>()
  // Reloads and the start of a worker run one at a time: a worker that starts during a reload gets
  // the config the reload ends with.
  private queue: Promise<unknown> = Promise.resolve()

  constructor (private readonly o: ControlOptions) {
    this.text = o.text
    this.workers = o.loaded.config.workers
    this.supervisor = new WorkerSupervisor(this.workers, o.logger, {
      startPayload: (slot) => this.serial(async () => ({ slot: slot.index, text: this.text, drains: [...this.drains.values()] })),
    })
  }

  async start (): Promise<void> {
    await this.supervisor.start()
    const first = this.supervisor.slots[0]?.ready
    if (first !== undefined) this.o.view.setBound(first.listeners, first.tcpFrontends)
  }

  stop (graceMs: number): Promise<void> {
    return this.supervisor.stop(graceMs)
  }

  reload (): Promise<ReloadResult> {
    return this.serial(() => this.reloadOnce())
  }

  async readiness (): Promise<ClusterReadiness> {
    const slots = this.supervisor.slots
    const answers = await Promise.all(slots.map((s) => s.state === 'ready' ? this.ask(s, { name: 'status' }) : Promise.resolve(undefined)))
    const workers: WorkerState[] = slots.map((s, i) => ({ worker: s.index, pid: s.pid ?? null, ready: answers[i]?.ready ?? false, generation: answers[i]?.table.generation ?? null }))
    const got = answers.filter((a): a is Readiness => a !== undefined)
    const generations = got.map((a) => a.table.generation)
    return {
      // Node-level readiness is what a load balancer acts on: a node with one worker serving takes
      // traffic (node:cluster hands connections only to live workers), and answering 503 while a
      // replacement starts would take the whole node out of rotation for the worker's start time.
      // The per-worker list shows which one is missing.
      ready: !this.supervisor.closing && workers.some((w) => w.ready),
      table: { loaded: got.length > 0 && got.every((a) => a.table.loaded), generation: generations.length === 0 ? 0 : Math.min(...generations) },
      listeners: combineListeners(got, this.o.view),
      pools: combinePools(got),
      workers,
    }
  }

  async workerMetrics (): Promise<Array<OpResults['metrics']>> {
    const answers = await Promise.all(this.supervisor.readySlots().map((s) => this.ask(s, { name: 'metrics' })))
    return answers.filter((a): a is OpResults['metrics'] => a !== undefined)
  }

  registerMetrics (registry: Registry): void {
    const supervisor = this.supervisor
    new Gauge({
      name: 'lyncproxy_workers',
      help: 'Worker processes by state: configured (the workers setting), ready (serving).',
      labelNames: ['state'] as const,
      registers: [registry],
      collect () {
        this.set({ state: 'configured' }, supervisor.slots.length)
        this.set({ state: 'ready' }, supervisor.readySlots().length)
      },
    })
    new Counter({
      name: 'lyncproxy_worker_restarts_total',
      help: 'Workers the primary restarted after they died.',
      registers: [registry],
      collect () { this.reset(); this.inc(supervisor.restarts) },
    })
  }

  // Counts add up; the "last" fields come from the worker that saw the latest exchange.
  async traffic (): Promise<TrafficEntry[]> {
    const answers = await Promise.all(this.supervisor.readySlots().map((s) => this.ask(s, { name: 'traffic' })))
    const merged = new Map<string, TrafficEntry>()
    for (const entries of answers) {
      for (const e of entries ?? []) {
        const key = `${e.listener}\u0000${e.rule}\u0000${e.pool}\u0000${e.stop}\u0000${e.refusal}`
        const have = merged.get(key)
        if (have === undefined) { merged.set(key, { ...e }); continue }
        const requests = have.requests + e.requests
        merged.set(key, e.lastTime > have.lastTime ? { ...e, requests } : { ...have, requests })
      }
    }
    return [...merged.values()]
  }

  async setDraining (pool: string, member: string, draining: boolean): Promise<ClusterDrainReply | undefined> {
    const key = `${pool}\u0000${member}`
    const before = this.drains.get(key)
    // Recorded before the fan-out, in the same step as choosing its targets: a worker that starts
    // now either is among the targets or gets the drain with its config.
    if (draining) this.drains.set(key, { pool, member })
    else this.drains.delete(key)
    const answers = await Promise.all(this.supervisor.configured().map((s) => this.ask(s, { name: 'drain', pool, member, draining })))
    const found = answers.filter((a): a is NonNullable<OpResults['drain']> => a !== undefined && a !== null)
    if (found.length === 0) {
      if (before === undefined) this.drains.delete(key)
      else this.drains.set(key, before)
      return undefined
    }
    return { pool, member: found[0]!.member, draining, active: found.reduce((n, a) => n + a.active, 0) }
  }

  private serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async ask<N extends OpName> (slot: Slot, op: Extract<WorkerOp, { name: N }>, timeoutMs = QUERY_TIMEOUT_MS): Promise<OpResults[N] | undefined> {
    const channel = slot.channel
    if (channel === undefined) return undefined
    try {
      return await channel.call(op, timeoutMs)
    } catch (err) {
      this.o.logger.warn(`worker ${slot.index}: ${op.name} failed: ${(err as Error).message}`)
      return undefined
    }
  }

  private async reloadOnce (): Promise<ReloadResult> {
    const { file, logger, view } = this.o
    const failed = (errors: string[]): ReloadResult => {
      logger.error({ err: errors.join('\n') }, `reload of ${file} failed; the running configuration stays in place`)
      return { ok: false, file, generation: view.table().generation, errors }
    }
    // The primary reads and checks the file once; the workers get these bytes, never a later edit.
    let text: string
    let loaded: LoadedConfig
    try {
      text = await readConfigText(file)
      loaded = parseConfig(text, file, { overrides: overridesFromEnv(this.o.env) })
      // Issued here, once, so that workers find the certificates instead of racing to write them.
      if (needsLabCertificates(loaded.config)) await ensureLabCertificates(labCertificateRequest(loaded.config))
    } catch (err) {
      return failed(formatErrors(err).split('\n'))
    }

    const targets = this.supervisor.configured()
    const outcomes = await Promise.all(targets.map(async (slot) => {
      const channel = slot.channel
      if (channel === undefined) return { slot, gone: true as const }
      try {
        return { slot, generation: (await channel.call({ name: 'reload', text }, RELOAD_TIMEOUT_MS)).generation }
      } catch (err) {
        // A worker that died meanwhile restarts with whatever config this reload leaves in place.
        if (slot.channel !== channel) return { slot, gone: true as const }
        return { slot, error: (err as Error).message }
      }
    }))
    const errors = [...new Set(outcomes.flatMap((o) => 'error' in o && o.error !== undefined ? o.error.split('\n') : []))]
    const took = outcomes.filter((o): o is { slot: Slot, generation: number } => 'generation' in o)
    if (errors.length > 0) {
      // Workers load the same bytes and the same files, so they fail together; when one did not,
      // it is put back on the running config, so that all workers keep serving the same rules.
      await Promise.all(took.map(async ({ slot }) => {
        try {
          await slot.channel?.call({ name: 'reload', text: this.text }, RELOAD_TIMEOUT_MS)
        } catch (err) {
          logger.error(`worker ${slot.index} took the new config and could not be put back on the running one (${(err as Error).message}); restarting it`)
          slot.worker?.process.kill('SIGKILL')
        }
      }))
      return failed(errors)
    }
    this.text = text
    const generation = Math.max(view.table().generation + 1, ...took.map((o) => o.generation))
    // Each worker logs the config's warnings itself, as a single process does.
    view.apply(loaded, generation)
    logger.info({ generation, workers: took.length }, `configuration reloaded in ${took.length} of ${this.workers} workers`)
    return { ok: true, file, generation, errors: [] }
  }
}

// A listener is listening when it is in every worker; its connections are the workers' sum.
function combineListeners (answers: Readiness[], view: ClusterView): Readiness['listeners'] {
  if (answers.length === 0) return view.listeners.map((l) => ({ ...l, listening: false, connections: 0 }))
  return answers[0]!.listeners.map((l) => {
    const same = answers.map((a) => a.listeners.find((x) => x.name === l.name))
    return { ...l, listening: same.every((x) => x?.listening === true), connections: same.reduce((n, x) => n + (x?.connections ?? 0), 0) }
  })
}

// Each worker checks and ejects members on its own; a member counts as up when every worker sends
// to it, the same rule as the lyncproxy_upstream_up gauge's aggregation.
function combinePools (answers: Readiness[]): PoolReadiness[] {
  if (answers.length === 0) return []
  return answers[0]!.pools.map((p) => {
    const members = p.members.map((m) => ({
      ...m,
      up: answers.every((a) => a.pools.find((x) => x.name === p.name)?.members.find((x) => x.name === m.name)?.up === true),
    }))
    const health = p.health === 'unchecked' ? 'unchecked' : members.some((m) => m.up) ? 'up' : 'down'
    return { ...p, health, members }
  })
}
