// Where a bench run is kept: one file pair per run, named by the day it started and the machine, so
// bench/results holds each run once and a reader finds the newest by name. A full run is
// DATE-MACHINE.json (and .md); a quick or profile-only run adds its mode, so it never takes a full
// run's place.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import type { BenchResults } from './results.js'

// 2026-11-22-amd-epyc-2c, 2026-11-22-amd-epyc-2c-quick. The day is UTC, from the run's start, so a
// run amended with --merge keeps the name of the run it amends.
export function runFileBase (r: Pick<BenchResults, 'startedAt' | 'mode'> & { machine: { shortName: string } }): string {
  return `${r.startedAt.slice(0, 10)}-${r.machine.shortName}${r.mode === 'full' ? '' : `-${r.mode}`}`
}

// The newest full run of this machine in dir (its .json), or undefined when there is none. ISO
// dates sort by name.
export function newestFullRun (dir: string, shortName: string): string | undefined {
  let names: string[]
  try { names = readdirSync(dir) } catch { return undefined }
  const ours = names.filter((n) => /^\d{4}-\d{2}-\d{2}-/.test(n) && n.slice(11) === `${shortName}.json`).sort()
  const newest = ours.at(-1)
  return newest === undefined ? undefined : path.join(dir, newest)
}
