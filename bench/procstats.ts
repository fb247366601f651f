// What a target process costs, read from /proc: CPU time (utime + stime), resident memory and open
// file descriptors, summed over the process and its descendants (nginx's and HAProxy's workers).
import { readdirSync, readFileSync } from 'node:fs'

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux architecture Node runs on.
const CLOCK_TICKS = 100

export interface ProcSnapshot {
  cpuSeconds: number
  rssBytes: number
  fds: number
}

interface StatLine { ppid: number, ticks: number, childTicks: number }

function readStat (pid: number): StatLine | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), childTicks: Number(rest[13]) + Number(rest[14]) }
  } catch {
    return undefined
  }
}

// TcpExt ListenOverflows: connections the kernel dropped because an accept queue was full. Counted
// for the whole machine, which during a run means the target (the backend's queue is larger).
export function listenOverflows (): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (!lines[i]!.startsWith('TcpExt:')) continue
    const names = lines[i]!.split(/\s+/)
    const values = lines[i + 1]!.split(/\s+/)
    const at = names.indexOf('ListenOverflows')
    return at < 0 ? 0 : Number(values[at])
  }
  return 0
}

// CPU time the whole machine spent busy (all CPUs), from the first line of /proc/stat.
function machineBusyTicks (): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal …: everything but idle and iowait.
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)
}

// CPU time of this harness and everything it started (targets, backend, wrk), reaped children included.
function ourTicks (): number {
  let ticks = readStat(process.pid)?.childTicks ?? 0
  for (const pid of processTree(process.pid)) ticks += readStat(pid)?.ticks ?? 0
  return ticks
}

// Measures how much CPU the rest of the machine (other people's work) takes during a window.
export class OthersMeter {
  private readonly busy = machineBusyTicks()
  private readonly ours = ourTicks()

  cpuSeconds (): number {
    return Math.max(0, (machineBusyTicks() - this.busy) - (ourTicks() - this.ours)) / CLOCK_TICKS
  }
}

// Waits (up to maxS) until the rest of the machine uses less than `cores` CPUs; returns the last
// reading, in CPUs.
export async function waitQuiet (maxS: number, cores: number, onWait: (busy: number) => void): Promise<number> {
  const deadline = Date.now() + maxS * 1000
  let told = false
  for (;;) {
    const meter = new OthersMeter()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const busy = meter.cpuSeconds()
    if (busy < cores || Date.now() >= deadline) return busy
    if (!told) { onWait(busy); told = true }
  }
}

function readRssBytes (pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

function countFds (pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

// The process and every descendant, found by walking ppid links over /proc.
export function processTree (root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const stat = readStat(pid)
    if (stat === undefined) continue
    const list = children.get(stat.ppid)
    if (list === undefined) children.set(stat.ppid, [pid]); else list.push(pid)
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift()!
    out.push(pid)
    for (const c of children.get(pid) ?? []) queue.push(c)
  }
  return out
}

export function snapshot (pids: readonly number[]): ProcSnapshot {
  let ticks = 0
  let rss = 0
  let fds = 0
  for (const pid of pids) {
    ticks += readStat(pid)?.ticks ?? 0
    rss += readRssBytes(pid)
    fds += countFds(pid)
  }
  return { cpuSeconds: ticks / CLOCK_TICKS, rssBytes: rss, fds }
}

export interface ProcWindow {
  cpuSeconds: number
  peakRssBytes: number
  endRssBytes: number
  peakFds: number
  // CPU seconds that processes outside this harness took during the window.
  othersCpuSeconds: number
  seconds: number
  listenOverflows: number
}

// Samples a process tree while a load runs: CPU as the difference between the two ends, RSS and file
// descriptors as the highest value seen.
export class ProcSampler {
  private readonly pids: number[]
  private readonly start: ProcSnapshot
  private peakRss: number
  private peakFds: number
  private readonly timer: NodeJS.Timeout
  private readonly others = new OthersMeter()
  private readonly startedAt = performance.now()
  private readonly overflows = listenOverflows()

  constructor (root: number, intervalMs = 200) {
    this.pids = processTree(root)
    this.start = snapshot(this.pids)
    this.peakRss = this.start.rssBytes
    this.peakFds = this.start.fds
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
  }

  private sample (): ProcSnapshot {
    const s = snapshot(this.pids)
    if (s.rssBytes > this.peakRss) this.peakRss = s.rssBytes
    if (s.fds > this.peakFds) this.peakFds = s.fds
    return s
  }

  stop (): ProcWindow {
    clearInterval(this.timer)
    const end = this.sample()
    return {
      cpuSeconds: end.cpuSeconds - this.start.cpuSeconds,
      peakRssBytes: this.peakRss,
      endRssBytes: end.rssBytes,
      peakFds: this.peakFds,
      othersCpuSeconds: this.others.cpuSeconds(),
      seconds: (performance.now() - this.startedAt) / 1000,
      listenOverflows: listenOverflows() - this.overflows,
    }
  }
}
