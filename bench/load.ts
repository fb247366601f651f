// The load generators: autocannon as a library (in this process, latencies recorded at microsecond
// resolution from its response events) and wrk (when installed) as a child process. Every run is
// bounded by a duration; everything goes to 127.0.0.1.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createHistogram } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { Pool } from 'undici'

export interface LoadSpec {
  // http(s)://127.0.0.1:port/path
  url: string
  connections: number
  durationS: number
  method?: 'GET' | 'POST'
  body?: Buffer
  headers: Record<string, string>
  // Requests per second over all connections (autocannon's overallRate); unset means as fast as it can.
  rate?: number
  // SNI for https: the public name, as a Lync client sends it.
  servername?: string
  timeoutS?: number
}

export type LoadTool = 'autocannon' | 'wrk' | 'paced'

export interface LoadResult {
  tool: LoadTool
  requests: number
  durationS: number
  rps: number
  // Latencies in milliseconds.
  p50: number
  p99: number
  p999: number
  max: number
  errors: number
  timeouts: number
  non2xx: number
}

export function runAutocannon (spec: LoadSpec): Promise<LoadResult> {
  // autocannon's own histogram has 1 ms resolution; loopback latencies need microseconds.
  const hist = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 })
  return new Promise((resolve, reject) => {
    const options: autocannon.Options = {
      url: spec.url,
      connections: spec.connections,
      duration: spec.durationS,
      method: spec.method ?? 'GET',
      headers: spec.headers,
      timeout: spec.timeoutS ?? 10,
      pipelining: 1,
    }
    if (spec.body !== undefined) options.body = spec.body
    if (spec.rate !== undefined) options.overallRate = spec.rate
    if (spec.servername !== undefined) options.servername = spec.servername
    const instance = autocannon(options, (err: unknown, result: autocannon.Result) => {
      if (err !== null && err !== undefined) { reject(err instanceof Error ? err : new Error(String(err))); return }
      const count = hist.count
      resolve({
        tool: 'autocannon',
        requests: result.requests.total,
        durationS: result.duration,
        rps: result.requests.total / result.duration,
        p50: count === 0 ? NaN : hist.percentile(50) / 1000,
        p99: count === 0 ? NaN : hist.percentile(99) / 1000,
        p999: count === 0 ? NaN : hist.percentile(99.9) / 1000,
        max: count === 0 ? NaN : hist.max / 1000,
        // autocannon counts timeouts among its errors.
        errors: result.errors - result.timeouts,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
      })
    })
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      hist.record(Math.max(1, Math.round(responseTimeMs * 1000)))
    })
  })
}

// An open-model load at an even pace: request i is due at start + i / rate, whatever happened to the
// ones before, and its latency counts from that moment (so a stall is not hidden by the generator
// waiting for it). autocannon's overallRate is a per-connection quota refilled every second, which
// sends each second's requests in one burst; that measures bursts, not latency at a rate.
export async function runPaced (spec: LoadSpec & { rate: number }): Promise<LoadResult> {
  const u = new URL(spec.url)
  const timeoutMs = (spec.timeoutS ?? 10) * 1000
  const pool = new Pool(u.origin, {
    connections: spec.connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ...(u.protocol === 'https:' ? { connect: { rejectUnauthorized: false, servername: spec.servername } } : {}),
  })
  const hist = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 })
  const path = u.pathname + u.search
  const method = spec.method ?? 'GET'
  const intervalMs = 1000 / spec.rate
  const total = Math.round(spec.durationS * spec.rate)
  const counts = { sent: 0, finished: 0, errors: 0, timeouts: 0, non2xx: 0 }
  const fire = (due: number): void => {
    pool.request({ path, method, headers: spec.headers, body: spec.body ?? null }).then(async (res) => {
      await res.body.dump()
      hist.record(Math.max(1, Math.round((performance.now() - due) * 1000)))
      if (res.statusCode < 200 || res.statusCode > 299) counts.non2xx++
      counts.finished++
    }, (err: { code?: string }) => {
      if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') counts.timeouts++; else counts.errors++
      counts.finished++
    })
  }
  const start = performance.now()
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      while (counts.sent < total && start + counts.sent * intervalMs <= now) {
        fire(start + counts.sent * intervalMs)
        counts.sent++
      }
      if (counts.sent >= total) resolve(); else setTimeout(tick, 1)
    }
    tick()
  })
  const deadline = performance.now() + timeoutMs + 1000
  while (counts.finished < counts.sent && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const durationS = (performance.now() - start) / 1000
  await pool.destroy()
  const ok = hist.count
  return {
    tool: 'paced',
    requests: counts.finished,
    durationS,
    rps: counts.finished / durationS,
    p50: ok === 0 ? NaN : hist.percentile(50) / 1000,
    p99: ok === 0 ? NaN : hist.percentile(99) / 1000,
    p999: ok === 0 ? NaN : hist.percentile(99.9) / 1000,
    max: ok === 0 ? NaN : hist.max / 1000,
    errors: counts.errors + (counts.sent - counts.finished),
    timeouts: counts.timeouts,
    non2xx: counts.non2xx,
  }
}

// wrk prints its summary through this Lua hook as one JSON line (latencies in microseconds).
function wrkScript (spec: LoadSpec): string {
  const lines = [
    `wrk.method = "${spec.method ?? 'GET'}"`,
    ...Object.entries(spec.headers).filter(([k]) => k.toLowerCase() !== 'host').map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
  ]
  if (spec.body !== undefined) lines.push(`wrk.body = string.rep("x", ${spec.body.length})`)
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))',
    'end',
  )
  return lines.join('\n') + '\n'
}

export function runWrk (wrk: string, spec: LoadSpec, scriptFile: string): Promise<LoadResult> {
  writeFileSync(scriptFile, wrkScript(spec))
  const host = spec.headers.host ?? spec.headers.Host
  const args = ['-t1', `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.durationS))}s`, `--timeout`, `${spec.timeoutS ?? 10}s`, '-s', scriptFile]
  if (host !== undefined) args.push('-H', `Host: ${host}`)
  args.push(spec.url)
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '))
      if (code !== 0 || line === undefined) { reject(new Error(`wrk exited ${code}: ${out.trim().slice(-500)}`)); return }
      const j = JSON.parse(line.slice(8)) as Record<string, number>
      const durationS = j.duration_us! / 1e6
      resolve({
        tool: 'wrk',
        requests: j.requests!,
        durationS,
        rps: j.requests! / durationS,
        p50: j.p50! / 1000,
        p99: j.p99! / 1000,
        p999: j.p999! / 1000,
        max: j.max! / 1000,
        errors: j.connect! + j.read! + j.write!,
        timeouts: j.timeout!,
        non2xx: j.status!,
      })
    })
  })
}
