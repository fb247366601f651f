// Runs the built lyncproxy CLI (dist/cli/main.js, plain JavaScript) in a child process, the way an
// operator runs it. Not from src through tap's TypeScript loader: ts-node compiled every module again
// in every child, a few seconds each on a quiet machine and past the 60 s kill once other work kept
// the cores busy. `npm test` builds dist before tap runs; a single file run by hand needs
// `npm run build` first, and runs whatever dist holds.
//
// Left out is @tapjs/processinfo, tap's process tracker: it hooks the exit signals and writes
// .tap/processinfo when the process ends, which a child running as an unprivileged user cannot do
// (it then dies with EACCES after printing its result). It patches child_process in this process to
// put itself into every child's NODE_OPTIONS, so the child is started through `env -u NODE_OPTIONS`,
// which then execs node (the pid stays the node process's).
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI_MAIN = path.join(REPO, 'dist/cli/main.js')
export const CLI_ARGS = [CLI_MAIN]

// The built CLI, or a clear error at import: a missing dist would otherwise show as every case
// failing on "Cannot find module".
function checkBuilt (): void {
  if (!fs.existsSync(CLI_MAIN)) {
    throw new Error(`${path.relative(REPO, CLI_MAIN)} is missing: the CLI tests run the built CLI. Run \`npm run build\` first (npm test does).`)
  }
  const built = fs.statSync(CLI_MAIN).mtimeMs
  const newer = newestSource(path.join(REPO, 'src'))
  // A warning, not a failure: the tree may be edited while a run is under way.
  if (newer !== undefined && newer.mtimeMs > built) {
    process.stderr.write(`warning: ${path.relative(REPO, newer.file)} is newer than ${path.relative(REPO, CLI_MAIN)}: the CLI tests run the code of the last build. Run \`npm run build\` to test the source.\n`)
  }
}

function newestSource (dir: string): { file: string, mtimeMs: number } | undefined {
  let newest: { file: string, mtimeMs: number } | undefined
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    const found = entry.isDirectory() ? newestSource(file) : entry.name.endsWith('.ts') ? { file, mtimeMs: fs.statSync(file).mtimeMs } : undefined
    if (found !== undefined && (newest === undefined || found.mtimeMs > newest.mtimeMs)) newest = found
  }
  return newest
}

checkBuilt()

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
  // A pipe on the child's standard input, for `type()` (console commands); otherwise none.
  stdin?: boolean
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
  // performance.now() when it was spawned: a baseline for how long this machine, now, takes to
  // start node and load the CLI.
  readonly spawnedAt: number
  stdout = ''
  stderr = ''
  // Both streams, in arrival order.
  output = ''
  readonly exited: Promise<CliResult>
  private waiters: Array<() => void> = []

  constructor (args: string[], o: CliOptions = {}) {
    this.spawnedAt = performance.now()
    const argv = ['-u', 'NODE_OPTIONS', ...(o.prefix ?? []), process.execPath, ...CLI_ARGS, ...args]
    this.child = spawn('/usr/bin/env', argv, { cwd: REPO, env: cleanEnv(o.env), stdio: [o.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    this.child.stdin?.on('error', () => { /* the child has gone; what it read is in its output */ })
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

  // A line typed at the child's console (needs `stdin: true`).
  type (line: string): void {
    if (this.child.stdin === null) throw new Error('the child was started without stdin: true')
    this.child.stdin.write(line + '\n')
  }
}

export function runCli (args: string[], o: CliOptions = {}): Promise<CliResult> {
  return new CliProcess(args, o).exited
}

// A way to run the CLI without the privilege to bind `port` (below 1024), or why there is none: as
// it is when this process has none, else dropped to nobody with setpriv or runuser. Skipped where any
// user may bind that port (a lowered net.ipv4.ip_unprivileged_port_start).
export function withoutPrivilege (port: number): { prefix: string[] } | { skip: string } {
  let start: number | undefined
  try {
    start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim())
  } catch { /* not Linux, or no such setting: ports below 1024 are privileged */ }
  if (start !== undefined && start <= port) return { skip: `net.ipv4.ip_unprivileged_port_start is ${start}: any user may bind port ${port} here` }
  if (process.getuid?.() !== 0) return { prefix: [] }
  if (fs.existsSync('/usr/bin/setpriv')) return { prefix: ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] }
  for (const runuser of ['/usr/sbin/runuser', '/sbin/runuser']) {
    if (fs.existsSync(runuser)) return { prefix: [runuser, '-u', 'nobody', '--'] }
  }
  return { skip: 'running as root and neither setpriv nor runuser is available to drop privileges' }
}
