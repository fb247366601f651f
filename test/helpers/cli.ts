// Runs the lyncproxy CLI from source in a child process, the way an operator runs it.
//
// The tap process runs TypeScript through loaders given in process.execArgv (--import of
// @tapjs/typescript, which is ts-node, and of @tapjs/mock); the child gets the same ones, and inherits
// TS_NODE_TRANSPILE_ONLY=1 from tap's environment, which keeps start-up to a few seconds. Left out is
// @tapjs/processinfo, tap's process tracker: it hooks the exit signals and writes .tap/processinfo
// when the process ends, which a child running as an unprivileged user cannot do (it then dies with
// EACCES after printing its result). Dropping its --import is not enough: it also patches
// child_process in this process to put itself back into the child's NODE_OPTIONS, so the child is
// started through `env -u NODE_OPTIONS`, which then execs node (the pid stays the node process's).
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI_ARGS = [...process.execArgv.filter((a) => !a.includes('@tapjs/processinfo')), path.join(REPO, 'src/cli/main.ts')]

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string>
  // A command and its arguments put in front of node, e.g. setpriv to drop privileges; it must exec
  // node, so that signals sent to the child reach it.
  prefix?: string[]
  timeoutMs?: number
}

// The environment of this process without the variables that would change what a test means.
export function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.LYNCPROXY_HTTP_PORT
  delete env.LYNCPROXY_HTTPS_PORT
  delete env.NODE_OPTIONS
  return { ...env, ...extra }
}

export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  // Both streams, in arrival order.
  output = ''
  readonly exited: Promise<CliResult>
  private waiters: Array<() => void> = []

  constructor (args: string[], o: CliOptions = {}) {
    const argv = ['-u', 'NODE_OPTIONS', ...(o.prefix ?? []), process.execPath, ...CLI_ARGS, ...args]
    this.child = spawn('/usr/bin/env', argv, { cwd: REPO, env: cleanEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; this.output += s; this.notify() })
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; this.output += s; this.notify() })
    const timeout = o.timeoutMs ?? 60_000
    this.exited = new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeout)
      this.child.on('close', (code, signal) => {
        clearTimeout(timer)
        this.notify()
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })
      })
    })
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  private notify (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  // Resolves with the first match of `pattern` in the output from offset `from` on, or undefined when
  // the process exits or `ms` passes first.
  async waitFor (pattern: RegExp, ms = 30_000, from = 0): Promise<RegExpExecArray | undefined> {
    const end = Date.now() + ms
    for (;;) {
      const m = pattern.exec(this.output.slice(from))
      if (m !== null) return m
      if (!this.running || Date.now() > end) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(200, end - Date.now())))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  kill (signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }
}

export function runCli (args: string[], o: CliOptions = {}): Promise<CliResult> {
  return new CliProcess(args, o).exited
}
