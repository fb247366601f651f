// The child servers (backend, bare http-proxy, the long-poll clients, the engine forwarders) run as
// plain JavaScript, so that their memory is theirs and not a TypeScript loader's: transpiled once,
// at the start of a run, into bench/.build.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import { spawnLogged, stopChild } from './targets.js'

export function transpileChildren (repo: string, names: readonly string[]): string {
  const dir = path.join(repo, 'bench/.build')
  mkdirSync(dir, { recursive: true })
  for (const name of names) {
    const source = readFileSync(path.join(repo, 'bench/servers', `${name}.ts`), 'utf8')
    const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true }, fileName: `${name}.ts` })
    writeFileSync(path.join(dir, `${name}.mjs`), out.outputText)
  }
  return dir
}

export interface ReadyChild<T> {
  pid: number
  // The child's first `{"ready":true,…}` line.
  ready: T
  stop: () => Promise<void>
}

// Starts a child server and waits for the JSON line it prints once it listens.
export async function startReadyChild<T> (file: string, args: string[], cwd: string): Promise<ReadyChild<T>> {
  const s = spawnLogged(process.execPath, [file, ...args], cwd)
  const deadline = Date.now() + 15_000
  for (;;) {
    const line = s.output().split('\n').find((l) => l.includes('"ready":true'))
    if (line !== undefined) return { pid: s.child.pid!, ready: JSON.parse(line) as T, stop: () => stopChild(s) }
    if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`${path.basename(file)} did not start:\n${s.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
