// --before DIR: another checkout of lyncproxy, built, measured as the target lyncproxy-before in the
// same rounds as this tree's build. The house rule asks a change on the request path for its CPU per
// request against the build before it in ratios of one run (bench/results/2026-12-02-issue16-request-path.md
// needed two runs back to back, each read against nginx, because the two builds never shared a round).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

export interface BeforeBuild {
  // The checkout, absolute; its process runs there, so it loads its own node_modules if it has them.
  dir: string
  main: string
  // Short commit of the checkout, when it is a git checkout.
  commit: string | undefined
  label: string
}

export const BEFORE_MAIN = 'dist/cli/main.js'

// Why DIR cannot be measured, with the commands that make it measurable; undefined when it can.
export function beforeBuildProblem (dir: string): string | undefined {
  const main = path.join(path.resolve(dir), BEFORE_MAIN)
  if (existsSync(main)) return undefined
  return `--before ${dir}: ${main} is missing. --before wants another checkout of lyncproxy, built: ` +
    `git worktree add ${dir} <commit> && (cd ${dir} && npm ci && npm run build)`
}

function shortCommit (dir: string): string | undefined {
  const r = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' })
  const out = r.status === 0 ? r.stdout.trim() : ''
  return out === '' ? undefined : out
}

export function beforeLabel (commit: string | undefined): string {
  return commit === undefined ? 'lyncproxy, build before' : `lyncproxy, build before (${commit})`
}

export function resolveBefore (dir: string): BeforeBuild {
  const problem = beforeBuildProblem(dir)
  if (problem !== undefined) throw new Error(problem)
  const abs = path.resolve(dir)
  const commit = shortCommit(abs)
  return { dir: abs, main: path.join(abs, BEFORE_MAIN), commit, label: beforeLabel(commit) }
}
