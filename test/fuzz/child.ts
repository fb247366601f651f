// The proxy under fuzz as a child process (proxy-child.mjs, built code from dist/): started, watched
// for its exit (a crash), sampled for fds and RSS through /proc, and asked for a full GC over IPC
// before each sample. Output is kept (the tail) so that a crash comes with its stack.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CHILD = path.join(REPO, 'test/fuzz/proxy-child.mjs')
const KEEP = 64 * 1024

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

export interface Sample {
  fds: number
  rssKB: number
}

export class ProxyChild {
  readonly child: ChildProcess
  readonly pid: number
  httpPort = 0
  output = ''
  exit: ChildExit | undefined
  private exited: Promise<ChildExit>

  private constructor (child: ChildProcess) {
    this.child = child
    this.pid = child.pid!
    const keep = (d: Buffer): void => {
      this.output += d.toString('utf8')
      if (this.output.length > 2 * KEEP) this.output = this.output.slice(-KEEP)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        // Let the last of stderr (the stack of a crash) arrive.
        setTimeout(() => {
          this.exit = { code, signal, output: this.output.slice(-KEEP) }
          resolve(this.exit)
        }, 100)
      })
    })
  }

  // `env -u NODE_OPTIONS`: under tap, NODE_OPTIONS carries tap's process tracker, which would load
  // into the child (see test/helpers/cli.ts). `dist` picks another build (FUZZ_DIST, proxy-child.mjs).
  static async start (config: Record<string, unknown>, o: { dist?: string } = {}): Promise<ProxyChild> {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.NODE_OPTIONS
    if (o.dist !== undefined) env.FUZZ_DIST = o.dist
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--expose-gc', CHILD, JSON.stringify(config)], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    const p = new ProxyChild(child)
    const deadline = Date.now() + 30_000
    for (;;) {
      const line = p.output.split('\n').find((l) => l.startsWith('{"ready":true'))
      if (line !== undefined) {
        const ready = JSON.parse(line) as { ports: Record<string, number> }
        p.httpPort = ready.ports['external-http'] ?? 0
        return p
      }
      if (p.exit !== undefined || Date.now() > deadline) {
        p.kill()
        throw new Error(`the proxy child did not start:\n${p.output}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  get alive (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  // Resolves when the child has exited, or with undefined after `ms`.
  async waitExit (ms: number): Promise<ChildExit | undefined> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
    const r = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    return r
  }

  async gc (): Promise<void> {
    if (!this.alive || this.child.connected !== true) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 3000)
      function done (): void { clearTimeout(timer); resolve() }
      this.child.once('message', done)
      this.child.send('gc')
    })
  }

  sample (): Sample | undefined {
    try {
      const fds = fs.readdirSync(`/proc/${this.pid}/fd`).length
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      return { fds, rssKB }
    } catch {
      return undefined
    }
  }

  // What each open fd is (socket:[inode], pipe:[...], anon_inode:[eventpoll], a path): for a report
  // on fds that did not go back down.
  fdTargets (): string[] {
    try {
      return fs.readdirSync(`/proc/${this.pid}/fd`).map((fd) => {
        try { return `${fd} ${fs.readlinkSync(`/proc/${this.pid}/fd/${fd}`)}` } catch { return `${fd} ?` }
      })
    } catch {
      return []
    }
  }

  kill (): void {
    if (this.alive) this.child.kill('SIGKILL')
  }
}
