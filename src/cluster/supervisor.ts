// The cluster primary's process lifecycle: fork the workers, know which are ready, restart one that
// dies, and stop them all. It knows nothing of configs; what a worker starts with comes from a hook
// (src/cluster/control.ts).
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from '../observe/logger.js'
import { WorkerChannel } from './channel.js'
import { isWorkerMessage, type PrimaryMessage, type ReadyInfo, type StartPayload } from './protocol.js'

// A worker that lived this long before dying was serving; it is restarted at once. One that dies
// sooner most likely dies at start (a certificate gone, a port taken), and the delay before the next
// attempt doubles up to the maximum, so a crash loop costs a fork every 10 s, not a CPU.
export const RESTART_MIN_MS = 100
export const RESTART_MAX_MS = 10_000
export const STABLE_AFTER_MS = 10_000

export type SlotState = 'forked' | 'starting' | 'ready' | 'exited'

// One worker position (1..N); its worker is replaced when it dies, the slot stays.
export interface Slot {
  readonly index: number
  worker: Worker | undefined
  channel: WorkerChannel | undefined
  pid: number | undefined
  state: SlotState
  forkedAt: number
  // Consecutive deaths before STABLE_AFTER_MS: the exponent of the restart delay.
  quickDeaths: number
  restartTimer: NodeJS.Timeout | undefined
  ready: ReadyInfo | undefined
  // The start-up error the worker reported before it exited, if it did.
  failure: { error: string, exitCode: number } | undefined
}

// The first start of the cluster failed: the primary exits with the worker's exit status, as a
// single process would have.
export class StartFailure extends Error {
  constructor (message: string, readonly exitCode: number) {
    super(message)
    this.name = 'StartFailure'
  }
}

export interface SupervisorHooks {
  // The payload of a worker that asked for it. Resolved in the caller's order with reloads, so a
  // worker never starts with a config that a reload in flight is about to replace.
  startPayload (slot: Slot): Promise<StartPayload>
}

export class WorkerSupervisor {
  readonly slots: Slot[]
  restarts = 0
  private stopping = false
  private started = false
  private startWaiter: { resolve: () => void, reject: (err: StartFailure) => void } | undefined
  private stopWaiter: (() => void) | undefined

  constructor (count: number, private readonly logger: Logger, private readonly hooks: SupervisorHooks) {
    this.slots = Array.from({ length: count }, (_, i): Slot => ({
      index: i + 1, worker: undefined, channel: undefined, pid: undefined, state: 'exited', forkedAt: 0, quickDeaths: 0, restartTimer: undefined, ready: undefined, failure: undefined,
    }))
  }

  // Resolves when every worker is ready, rejects with the first worker's start-up failure.
  start (): Promise<void> {
    // The structured clone of 'advanced' keeps what JSON would lose in replies: +Inf histogram
    // bounds, undefined fields.
    cluster.setupPrimary({ serialization: 'advanced' })
    return new Promise((resolve, reject) => {
      this.startWaiter = { resolve, reject }
      for (const slot of this.slots) this.fork(slot, false)
    })
  }

  // Workers that were sent their config (starting or ready): the ones a reload or a drain must reach.
  configured (): Slot[] {
    return this.slots.filter((s) => (s.state === 'starting' || s.state === 'ready') && s.channel !== undefined)
  }

  // SIGTERM has reached the workers: the node stops serving, whatever each worker says meanwhile.
  get closing (): boolean {
    return this.stopping
  }

  readySlots (): Slot[] {
    return this.slots.filter((s) => s.state === 'ready' && s.channel !== undefined)
  }

  // SIGTERM to each worker: its graceful close (stop accepting, finish requests in flight). A signal
  // rather than a message reaches a worker that is still loading and has no message handler yet.
  // Whatever is still alive after the grace is killed.
  stop (graceMs: number): Promise<void> {
    this.stopping = true
    for (const slot of this.slots) {
      if (slot.restartTimer !== undefined) { clearTimeout(slot.restartTimer); slot.restartTimer = undefined }
    }
    const alive = this.slots.filter((s) => s.worker !== undefined && s.state !== 'exited')
    if (alive.length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const hard = setTimeout(() => {
        for (const s of this.slots) if (s.state !== 'exited') s.worker?.process.kill('SIGKILL')
      }, graceMs + 1000)
      hard.unref()
      this.stopWaiter = () => { clearTimeout(hard); resolve() }
      for (const s of alive) s.worker?.process.kill('SIGTERM')
    })
  }

  private fork (slot: Slot, restart: boolean): void {
    const worker = cluster.fork()
    slot.worker = worker
    slot.pid = worker.process.pid
    slot.state = 'forked'
    slot.forkedAt = Date.now()
    slot.ready = undefined
    slot.failure = undefined
    const channel = new WorkerChannel(worker, `worker ${slot.index} (pid ${slot.pid ?? '?'})`)
    slot.channel = channel
    this.logger.info({ worker: slot.index, workerPid: slot.pid }, `worker ${slot.index} ${restart ? 'restarted' : 'started'} (pid ${slot.pid ?? '?'})`)

    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return
      switch (message.lyncproxy) {
        case 'hello':
          this.hooks.startPayload(slot).then((payload) => {
            // The payload is sent and the state changes in one step: a drain or reload that comes
            // after it finds this worker among the configured ones.
            if (slot.worker !== worker || this.stopping) return
            const start: PrimaryMessage = { lyncproxy: 'start', ...payload }
            worker.send(start, undefined, () => {})
            slot.state = 'starting'
          }, (err: unknown) => {
            this.logger.error({ err }, `worker ${slot.index}: cannot build its start message`)
            worker.process.kill('SIGKILL')
          })
          break
        case 'ready':
          slot.state = 'ready'
          slot.ready = { listeners: message.listeners, tcpFrontends: message.tcpFrontends, generation: message.generation }
          this.logger.info({ worker: slot.index, workerPid: slot.pid }, `worker ${slot.index} ready (pid ${slot.pid ?? '?'})`)
          if (!this.started && this.slots.every((s) => s.state === 'ready')) {
            this.started = true
            this.startWaiter?.resolve()
          }
          break
        case 'failed':
          slot.failure = { error: message.error, exitCode: message.exitCode }
          break
        case 'reply':
          channel.handle(message)
          break
      }
    })
    worker.on('exit', (code: number | null, signal: string | null) => this.exited(slot, worker, channel, code, signal))
    // A send to a worker that is dying fails on its channel; without a listener that error would
    // end the primary, and with it every other worker.
    worker.on('error', (err: Error) => this.logger.warn(`worker ${slot.index} (pid ${slot.pid ?? '?'}): ${err.message}`))
  }

  private exited (slot: Slot, worker: Worker, channel: WorkerChannel, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`
    channel.close(`it ${how}`)
    slot.state = 'exited'
    slot.channel = undefined
    const lived = Date.now() - slot.forkedAt
    if (this.stopping) {
      if (this.slots.every((s) => s.state === 'exited')) this.stopWaiter?.()
      return
    }
    if (!this.started) {
      // The first start: a worker that cannot start means the config or the machine is wrong, and
      // every worker would fail the same way. Stop the others and report it once.
      const failure = slot.failure
      this.stopping = true
      for (const s of this.slots) if (s !== slot && s.state !== 'exited') s.worker?.process.kill('SIGKILL')
      this.startWaiter?.reject(new StartFailure(failure?.error ?? `worker ${slot.index} (pid ${slot.pid ?? '?'}) ${how} during start-up`, failure?.exitCode ?? 1))
      return
    }
    slot.quickDeaths = lived >= STABLE_AFTER_MS ? 0 : slot.quickDeaths + 1
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, slot.quickDeaths - 1))
    const why = slot.failure === undefined ? '' : `: ${slot.failure.error}`
    this.logger.error({ worker: slot.index, workerPid: slot.pid, code, signal, livedMs: lived, restartInMs: delay },
      `worker ${slot.index} (pid ${slot.pid ?? '?'}) ${how} after ${(lived / 1000).toFixed(1)} s${why}; restarting it in ${delay} ms`)
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined
      if (this.stopping) return
      this.restarts++
      this.fork(slot, true)
    }, delay)
  }
}
