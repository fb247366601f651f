// The child servers (backend, bare http-proxy, the long-poll clients, the engine forwarders) run as
// plain JavaScript, so that their memory is theirs and not a TypeScript loader's: transpiled once,
// at the start of a run, into bench/.build.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

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
