// `--cpu-prof`: lyncproxy under `node --cpu-prof` for scenario a, then the functions with the most
// self time, read from the .cpuprofile (a V8 CPU profile: nodes with callFrame and hitCount).
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { runAutocannon } from './load.js'
import { PUBLIC_NAME } from './peers.js'
import { ProcSampler } from './procstats.js'
import type { ProfileEntry, ProfileResult } from './results.js'
import { fmt, GET_PATH, summarize, type Log } from './scenarios.js'
import { startTarget, type BenchContext } from './targets.js'

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }
  hitCount?: number
  children?: number[]
}

// Native stream_base methods: the syscalls that put bytes on a socket.
const SOCKET_WRITES = new Set(['writev', 'writeLatin1String', 'writeUtf8String', 'writeBuffer', 'writeAsciiString', 'writeUcs2String'])

interface CpuProfile {
  nodes: CpuProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

// Self samples per node, counted only inside [fromUs, toUs] (V8's clock is CLOCK_MONOTONIC in
// microseconds, the same clock as process.hrtime). Falls back to the whole profile when the window
// does not overlap it.
function hitsInWindow (profile: CpuProfile, fromUs: number, toUs: number): Map<number, number> | undefined {
  const samples = profile.samples
  const deltas = profile.timeDeltas
  if (samples === undefined || deltas === undefined || toUs < profile.startTime || fromUs > profile.endTime) return undefined
  const hits = new Map<number, number>()
  let t = profile.startTime
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0
    if (t < fromUs || t > toUs) continue
    hits.set(samples[i]!, (hits.get(samples[i]!) ?? 0) + 1)
  }
  return hits.size === 0 ? undefined : hits
}

function shortLocation (url: string, line: number, repo: string): string {
  if (url === '') return ''
  let u = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url
  if (u.startsWith(repo + '/')) u = u.slice(repo.length + 1)
  u = u.replace(/^.*node_modules\//, 'node_modules/')
  return `${u}:${line + 1}`
}

function areaOf (name: string, url: string): string {
  if (name === '(garbage collector)') return 'garbage collector'
  if (name === '(idle)') return 'idle'
  if (name === '(program)') return 'V8/native (program)'
  if (url === '' && SOCKET_WRITES.has(name)) return 'socket writes (native writev/write*String)'
  if (url.includes('/dist/')) return 'lyncproxy (dist/)'
  if (url.includes('node_modules/pino') || url.includes('node_modules/sonic-boom') || url.includes('fast-json-stringify') || url.includes('quick-format')) return 'logging (pino, sonic-boom)'
  if (url.includes('node_modules/')) return 'other packages'
  if (/node:(_tls|tls|internal\/tls|https|crypto|internal\/crypto)/.test(url)) return 'node TLS'
  if (/node:(_http|http|internal\/http)/.test(url)) return 'node http (server, client, agent)'
  if (/node:(net|internal\/net|internal\/stream_base|stream|internal\/streams)/.test(url)) return 'node net and streams'
  if (url === '') return 'native / builtins without a script'
  return 'other node internals'
}

// Total (inclusive) time of lyncproxy's own functions: self time plus everything they call. A
// function that recurses is counted once per stack.
function lyncproxyTotals (profile: CpuProfile, hitsOf: (n: CpuProfileNode) => number, totalHits: number, repo: string, n: number): ProfileEntry[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const inclusive = new Map<number, number>()
  const total = (node: CpuProfileNode): number => {
    const known = inclusive.get(node.id)
    if (known !== undefined) return known
    let sum = hitsOf(node)
    for (const c of node.children ?? []) { const child = byId.get(c); if (child !== undefined) sum += total(child) }
    inclusive.set(node.id, sum)
    return sum
  }
  const keyOf = (node: CpuProfileNode): string => `${node.callFrame.functionName}\u0000${node.callFrame.url}\u0000${node.callFrame.lineNumber}`
  const totals = new Map<string, { hits: number, node: CpuProfileNode }>()
  const walk = (node: CpuProfileNode, onStack: Set<string>): void => {
    const key = keyOf(node)
    const ours = node.callFrame.url.includes('/dist/')
    const counted = ours && !onStack.has(key)
    if (counted) {
      const entry = totals.get(key) ?? { hits: 0, node }
      entry.hits += total(node)
      totals.set(key, entry)
      onStack.add(key)
    }
    for (const c of node.children ?? []) { const child = byId.get(c); if (child !== undefined) walk(child, onStack) }
    if (counted) onStack.delete(key)
  }
  const root = profile.nodes[0]
  if (root !== undefined) walk(root, new Set())
  return [...totals.values()].sort((a, b) => b.hits - a.hits).slice(0, n).map(({ hits, node }) => ({
    selfMs: 0,
    selfPct: totalHits === 0 ? 0 : hits / totalHits * 100,
    functionName: node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName,
    location: shortLocation(node.callFrame.url, node.callFrame.lineNumber, repo),
  }))
}

export function topFunctions (profile: CpuProfile, repo: string, window?: { fromUs: number, toUs: number }, n = 15): { top: ProfileEntry[], lyncproxy: ProfileEntry[], areas: ProfileResult['areas'], samples: number, durationMs: number, windowed: boolean } {
  const windowHits = window === undefined ? undefined : hitsInWindow(profile, window.fromUs, window.toUs)
  const hitsOf = (node: CpuProfileNode): number => windowHits === undefined ? (node.hitCount ?? 0) : (windowHits.get(node.id) ?? 0)
  const durationMs = windowHits === undefined || window === undefined ? (profile.endTime - profile.startTime) / 1000 : (window.toUs - window.fromUs) / 1000
  const totalHits = profile.nodes.reduce((a, node) => a + hitsOf(node), 0)
  const msPerHit = totalHits === 0 ? 0 : durationMs / totalHits
  const byFunction = new Map<string, ProfileEntry & { hits: number }>()
  const byArea = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = hitsOf(node)
    if (hits === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const name = functionName === '' ? '(anonymous)' : functionName
    const key = `${name}\u0000${url}\u0000${lineNumber}`
    const entry = byFunction.get(key) ?? { hits: 0, selfMs: 0, selfPct: 0, functionName: name, location: shortLocation(url, lineNumber, repo) }
    entry.hits += hits
    byFunction.set(key, entry)
    const area = areaOf(name, url)
    byArea.set(area, (byArea.get(area) ?? 0) + hits)
  }
  const top = [...byFunction.values()].sort((a, b) => b.hits - a.hits).slice(0, n).map((e) => ({
    selfMs: e.hits * msPerHit,
    selfPct: totalHits === 0 ? 0 : e.hits / totalHits * 100,
    functionName: e.functionName,
    location: e.location,
  }))
  const areas = [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([area, hits]) => ({ area, selfPct: hits / totalHits * 100 }))
  const lyncproxy = lyncproxyTotals(profile, hitsOf, totalHits, repo, 12)
  return { top, lyncproxy, areas, samples: totalHits, durationMs, windowed: windowHits !== undefined }
}

export async function runProfile (ctx: BenchContext, profileDir: string, durationS: number, warmupS: number, log: Log): Promise<ProfileResult | undefined> {
  log(`\n[profile] lyncproxy under node --cpu-prof, scenario a (${durationS} s after ${warmupS} s of warm-up)`)
  mkdirSync(profileDir, { recursive: true })
  const startedAt = Date.now()
  const t = await startTarget('lyncproxy', ctx, { cpuProfDir: profileDir })
  const spec = { url: `http://127.0.0.1:${t.httpPort}${GET_PATH}`, connections: 50, headers: { host: PUBLIC_NAME, accept: 'application/json' } }
  if (warmupS > 0) await runAutocannon({ ...spec, durationS: warmupS })
  const sampler = new ProcSampler(t.pid)
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const load = summarize(await runAutocannon({ ...spec, durationS }), sampler.stop())
  const toUs = Number(process.hrtime.bigint() / 1000n)
  log(`  ${fmt(load.rps)} req/s under the profiler (it costs some), p99 ${fmt(load.p99, 2)} ms`)
  // The profile is written when the process exits; SIGTERM makes lyncproxy exit cleanly.
  await t.stop()
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(profileDir, f)).filter((f) => statSync(f).mtimeMs >= startedAt - 1000)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  const file = files[0]
  if (file === undefined) { log('  no .cpuprofile was written'); return undefined }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const { top, lyncproxy, areas, samples, durationMs, windowed } = topFunctions(profile, ctx.repo, { fromUs, toUs })
  log(`  ${path.relative(ctx.repo, file)}: ${fmt(samples)} samples over ${fmt(durationMs / 1000, 1)} s (${windowed ? 'the measured load only' : 'the whole process life'})`)
  log('  top self time:')
  for (const e of top) log(`  ${fmt(e.selfPct, 1).padStart(5)} %  ${fmt(e.selfMs).padStart(6)} ms  ${e.functionName}  ${e.location}`)
  log('  self time by area:')
  for (const a of areas) log(`  ${fmt(a.selfPct, 1).padStart(5)} %  ${a.area}`)
  log('  lyncproxy functions by total time (self + callees):')
  for (const e of lyncproxy) log(`  ${fmt(e.selfPct, 1).padStart(5)} %  ${e.functionName}  ${e.location}`)
  return { file: path.relative(ctx.repo, file), load, samples, durationMs, windowed, top, lyncproxy, areas }
}
