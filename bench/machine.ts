// The machine a run was taken on, and the per-process file limit the long-poll scenario needs.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface MachineInfo {
  nproc: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  node: string
  nginx: string | null
  haproxy: string | null
  wrk: string | null
  autocannon: string
  fdLimit: { soft: number, hard: number }
  // 1-minute load average when the run started and when it ended: others' work on the machine
  // skews every figure.
  loadAverage: { start: number, end: number | null }
  shortName: string
}

function versionOf (file: string | undefined, args: string[], pattern: RegExp): string | null {
  if (file === undefined) return null
  // nginx -v prints to stderr; wrk -v exits 1: read both streams, whatever the status.
  const r = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 })
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`
  return pattern.exec(text)?.[1] ?? (text.trim().split('\n')[0] || null)
}

export function fdLimit (): { soft: number, hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  const n = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s))
  return { soft: n(m?.[1]), hard: n(m?.[2]) }
}

export function machineInfo (tools: { nginx?: string, haproxy?: string, wrk?: string }, autocannonVersion: string): MachineInfo {
  const cpus = os.cpus()
  const cpuModel = (cpus[0]?.model ?? 'unknown').trim()
  const nproc = os.availableParallelism()
  const slug = cpuModel.toLowerCase().replace(/\(r\)|\(tm\)|processor|cpu|@.*$/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').split('-').slice(0, 3).join('-')
  return {
    nproc,
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: versionOf(tools.nginx, ['-v'], /nginx\/(\S+)/),
    haproxy: versionOf(tools.haproxy, ['-v'], /HAProxy version (\S+)/),
    wrk: versionOf(tools.wrk, ['-v'], /^wrk (\S+)/),
    autocannon: autocannonVersion,
    fdLimit: fdLimit(),
    loadAverage: { start: Math.round(os.loadavg()[0]! * 100) / 100, end: null },
    shortName: `${slug || 'machine'}-${nproc}c`,
  }
}
