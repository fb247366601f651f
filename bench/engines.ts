// `npm run bench:engines`: why lyncproxy forwards with undici. The same backend behind the smallest
// forwarder on each engine (servers/forwarder-node.ts: node:http's client with a keep-alive agent;
// servers/forwarder-undici.ts: undici's dispatcher), measured one after the other in rounds, with the
// forwarder's own CPU time per request read from /proc. Nothing of lyncproxy runs here: this is the
// engine's cost alone. Writes bench/results/engines.md and engines.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startReadyChild, transpileChildren } from './children.js'
import { runAutocannon, runWrk, type LoadResult, type LoadSpec } from './load.js'
import { ProcSampler } from './procstats.js'
import { median } from './results.js'
import { findTool, killAllChildren } from './targets.js'

const repo = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const ENGINES = [
  { id: 'node', label: 'node:http client, keep-alive agent', file: 'forwarder-node' },
  { id: 'undici', label: 'undici dispatcher (lyncproxy\'s engine)', file: 'forwarder-undici' },
] as const

interface Sample { rps: number, p99: number, cpuUsPerRequest: number, errors: number }

async function startChild (file: string, args: string[]): Promise<{ pid: number, port: number, stop: () => Promise<void> }> {
  const c = await startReadyChild<{ port?: number, httpPort?: number }>(file, args, repo)
  return { pid: c.pid, port: c.ready.port ?? c.ready.httpPort!, stop: c.stop }
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '8' }, out: { type: 'string' } } })
  const rounds = Math.max(1, Number(values.rounds))
  const durationS = Math.max(1, Number(values.duration))
  const out = values.out ?? path.join(repo, 'bench/results')
  const wrk = findTool('wrk')
  const dir = transpileChildren(repo, ['backend', 'forwarder-node', 'forwarder-undici'])
  const backend = await startChild(path.join(dir, 'backend.mjs'), [])
  const forwarders = await Promise.all(ENGINES.map(async (e) => ({ ...e, ...await startChild(path.join(dir, `${e.file}.mjs`), ['--upstream', String(backend.port)]) })))
  const samples = new Map<string, Sample[]>(ENGINES.map((e) => [e.id, []]))
  const scriptFile = path.join(os.tmpdir(), `lyncproxy-engines-${process.pid}.lua`)
  const load = (port: number, seconds: number): Promise<LoadResult> => {
    const spec: LoadSpec = { url: `http://127.0.0.1:${port}/Autodiscover/AutodiscoverService.svc/root`, connections: 50, durationS: seconds, headers: { host: 'webext.contoso.com' } }
    return wrk === undefined ? runAutocannon(spec) : runWrk(wrk, spec, scriptFile)
  }
  try {
    for (const f of forwarders) await load(f.port, 2)
    for (let round = 1; round <= rounds; round++) {
      for (const f of forwarders) {
        const sampler = new ProcSampler(f.pid)
        const r = await load(f.port, durationS)
        const proc = sampler.stop()
        const s = { rps: r.rps, p99: r.p99, cpuUsPerRequest: proc.cpuSeconds * 1e6 / Math.max(1, r.requests), errors: r.errors + r.timeouts + r.non2xx }
        samples.get(f.id)!.push(s)
        process.stdout.write(`round ${round}/${rounds} ${f.label}: ${Math.round(s.rps)} req/s, ${s.cpuUsPerRequest.toFixed(1)} µs CPU per request, p99 ${s.p99.toFixed(2)} ms, ${s.errors} errors\n`)
      }
    }
  } finally {
    for (const f of forwarders) await f.stop()
    await backend.stop()
  }
  const rows = ENGINES.map((e) => {
    const s = samples.get(e.id)!
    return { engine: e.id, label: e.label, rps: median(s.map((x) => x.rps)), cpuUsPerRequest: median(s.map((x) => x.cpuUsPerRequest)), p99: median(s.map((x) => x.p99)), errors: s.reduce((a, x) => a + x.errors, 0), rounds: s }
  })
  const [node, undici] = rows as [typeof rows[0], typeof rows[0]]
  const md = [
    '# Forwarding engines: node:http vs undici',
    '',
    `Taken with \`npm run bench:engines\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}, Node ${process.version}, load by ${wrk === undefined ? 'autocannon' : 'wrk -t1'}, 50 connections, HTTP GET of the ~1.1 KB backend answer, ${rounds} rounds of ${durationS} s, medians. CPU is the forwarder process's own, per request.`,
    '',
    '| engine | req/s | CPU µs / request | p99 ms | errors |',
    '|:---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.cpuUsPerRequest.toFixed(1)} | ${r.p99.toFixed(2)} | ${r.errors} |`),
    '',
    `undici / node:http: ${(undici.rps / node.rps).toFixed(2)}× the requests per second at ${(undici.cpuUsPerRequest / node.cpuUsPerRequest).toFixed(2)}× the CPU per request.`,
    '',
  ].join('\n')
  mkdirSync(out, { recursive: true })
  writeFileSync(path.join(out, 'engines.md'), md)
  writeFileSync(path.join(out, 'engines.json'), JSON.stringify({ takenAt: new Date().toISOString(), node: process.version, tool: wrk === undefined ? 'autocannon' : 'wrk', rounds, durationS, rows }, null, 2) + '\n')
  process.stdout.write('\n' + md)
  return 0
}

main().then((code) => { process.exitCode = code }, (err: unknown) => { killAllChildren(); process.stderr.write(`${String(err)}\n`); process.exitCode = 1 })
