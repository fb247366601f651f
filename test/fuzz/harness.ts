// The fuzzed edge: the proxy in a child process (child.ts) in front of the chaos upstream
// (test/helpers/chaos-upstream.ts) behind the recording relay (recording-relay.ts), and a runner that
// plays one case at a time and checks every invariant after it (oracle.ts), then that the process
// is alive and answers a normal request, then samples its fds and RSS.
import { startChaosUpstream, type ChaosUpstream } from '../helpers/chaos-upstream.js'
import { sleep } from '../helpers/raw-client.js'
import { ProxyChild, type Sample } from './child.js'
import { runConnection, type ConnectionRun } from './client.js'
import { instanceTag, LYNCDISCOVER, PLACEHOLDER, TIMEOUTS, WEBEXT, WEBEXT_PATHS, tokensIn, type FuzzCase, type Segment } from './model.js'
import { checkConnection, checkUpstream, type TokenOwner, type Violation } from './oracle.js'
import { startRecordingRelay, type RecordingRelay } from './recording-relay.js'

export function fuzzConfig (upstreamPort: number): Record<string, unknown> {
  return {
    listeners: [{ name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0, redirectToHttps: false }],
    pools: { chaos: { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: upstreamPort, httpsPort: upstreamPort } },
    rules: [
      { name: 'webext', publicNames: [WEBEXT], paths: WEBEXT_PATHS, action: 'forward', pool: 'chaos' },
      { name: 'webext-deny', publicNames: [WEBEXT], paths: ['/deny/'], action: 'deny' },
      { name: 'lyncdiscover', publicNames: [LYNCDISCOVER], action: 'forward', pool: 'chaos' },
    ],
    defaults: {
      timeouts: { response: TIMEOUTS.responseS },
      headersTimeout: TIMEOUTS.headersS,
      requestTimeout: TIMEOUTS.requestS,
      clientIdleTimeout: TIMEOUTS.clientIdleS,
    },
    admin: { enabled: false },
  }
}

export interface CaseResult {
  violations: Violation[]
  // The proxy crashed during the case (its exit and the tail of its output).
  crash: string
  ms: number
  sample: Sample | undefined
  // The concrete bytes of each connection of the first round, for a report.
  concrete: string[]
  runs: ConnectionRun[]
}

export interface HarnessOptions {
  dist?: string
  log?: (line: string) => void
}

export class FuzzHarness {
  chaos!: ChaosUpstream
  relay!: RecordingRelay
  child!: ProxyChild
  // One series of samples per child process: a restart starts a new one.
  readonly series: Sample[][] = []
  restarts = 0
  cases = 0
  private instance = 0
  private readonly earlier = new Set<string>()
  private readonly health = new Set<string>()
  private readonly o: HarnessOptions

  constructor (o: HarnessOptions = {}) {
    this.o = o
  }

  async start (): Promise<void> {
    this.chaos = await startChaosUpstream()
    this.relay = await startRecordingRelay(this.chaos.port)
    await this.startChild()
  }

  private async startChild (): Promise<void> {
    this.child = await ProxyChild.start(fuzzConfig(this.relay.port), this.o.dist === undefined ? {} : { dist: this.o.dist })
    this.series.push([])
    // A first request warms the child (its first connection to the upstream, the lazy parts of the
    // forwarding path), so that the first sample is of a proxy that has served.
    for (let i = 0; i < 3; i++) await this.healthCheck()
    this.relay.dropConnections()
  }

  // The proxy's fds and RSS with nothing of a case left: the upstream has dropped its connections
  // (the proxy must let go of them) and a full GC has run.
  async settledSample (): Promise<Sample | undefined> {
    this.relay.dropConnections()
    if (!this.child.alive) return undefined
    await sleep(10)
    await this.child.gc()
    return this.child.sample()
  }

  async close (): Promise<void> {
    this.child?.kill()
    // The proxy's upstream connections end with it; only then can the relay and upstream close.
    await this.child?.waitExit(5000)
    await this.relay?.close()
    await this.chaos?.close()
  }

  private nextTag (): string {
    return instanceTag(this.instance++)
  }

  // A normal request on a fresh connection; '' when it got its own answer.
  async healthCheck (): Promise<string> {
    const token = 'Q99' + this.nextTag() + 'Q'
    this.health.add(token)
    const segment: Segment = {
      bytes: `GET /ok/${token} HTTP/1.1\r\nHost: ${WEBEXT}\r\n\r\n`, expect: 'up', method: 'GET', id: token, kind: 'ok', headEnd: -1, body: '', bodyEnds: true,
      upTargets: [`/ok/${token}`], upHost: WEBEXT, hopField: '', closes: false, smuggled: [],
    }
    segment.headEnd = segment.bytes.length
    const run = await runConnection(this.child.httpPort, [segment], { splits: [], gapMs: 0, stopAt: segment.bytes.length, then: 'wait', stallMs: 0, read: 'normal' })
    const m = /^HTTP\/1\.1 (\d{3}) [^]*\r\n\r\n([^]*)$/.exec(run.text)
    if (m === null) return `a normal request got ${run.how === 'refused' ? 'a refused connection' : JSON.stringify(run.text.slice(0, 120))}`
    if (m[1] !== '200' || m[2] !== token) return `a normal request got ${m[1]} ${JSON.stringify(m[2]!.slice(0, 80))}`
    return ''
  }

  async runCase (c: FuzzCase): Promise<CaseResult> {
    const started = performance.now()
    if (!this.child.alive) {
      this.restarts++
      await this.startChild()
    }
    this.cases++
    const violations: Violation[] = []
    const owners = new Map<string, TokenOwner>()
    let tokenless = 0
    const concrete: string[] = []
    const windowStart = this.relay.requests.length
    const runs: ConnectionRun[] = []
    // A round starts when the one before has finished, or 50 ms after it started, whichever comes
    // first: fast rounds repeat one after another (as a client retrying would), slow ones (a stall,
    // a slow upstream) overlap, so that a case repeated twenty times costs about one slow round.
    const jobs: Array<Promise<{ run: ConnectionRun, label: string }>> = []
    let previous: Promise<unknown> = Promise.resolve()
    for (let round = 0; round < c.repeat; round++) {
      await Promise.race([previous, sleep(50)])
      const roundJobs = c.connections.map((conn, ci) => {
        const tag = this.nextTag()
        const segments = conn.segments.map((s) => concreteSegment(s, tag))
        if (round === 0) concrete[ci] = segments.map((s) => s.bytes).join('')
        for (const s of segments) if (s.id === '' && (s.expect === 'up' || s.expect === 'may')) tokenless++
        const label = `round ${round + 1} connection ${ci + 1}`
        return runConnection(this.child.httpPort, segments, conn.plan).then((run) => ({ run, label }))
      })
      jobs.push(...roundJobs)
      previous = Promise.all(roundJobs)
      if (!this.child.alive) break
    }
    for (const { run, label } of await Promise.all(jobs)) {
      runs.push(run)
      run.segments.forEach((s, seg) => {
        if (s.id !== '') owners.set(s.id, { run, seg, role: 'head' })
        for (const t of s.smuggled) owners.set(t, { run, seg, role: 'smuggled' })
      })
      violations.push(...checkConnection(run, label))
    }
    // Late forwards (a request the proxy still held when its client left) arrive within a few ms.
    await sleep(20)
    let crash = ''
    let health = ''
    if (this.child.alive) {
      health = await this.healthCheck()
      // A proxy that dies in the middle of the health check: the exit is the finding.
      if (health !== '') await this.child.waitExit(1000)
    }
    if (!this.child.alive) {
      const exit = await this.child.waitExit(2000)
      crash = `the proxy exited (code ${exit?.code ?? '?'}, signal ${exit?.signal ?? '-'}):\n${(exit?.output ?? '').split('\n').filter((l) => !l.startsWith('{"level"')).slice(-40).join('\n')}`
      violations.push({ code: 'crash', detail: crash })
    } else if (health !== '') {
      violations.push({ code: 'not-serving', detail: `after the case, ${health}` })
    }
    // The health checks' own requests are the harness's, not the case's.
    const window = this.relay.requests.slice(windowStart).filter((q) => !this.health.has(tokensIn(q.target)[0] ?? ''))
    violations.push(...checkUpstream(window, owners, this.earlier, tokenless))
    for (const m of this.relay.malformed.splice(0)) violations.push({ code: 'upstream-framing', detail: m })
    for (const t of owners.keys()) this.earlier.add(t)

    // Between cases: the upstream drops its connections (the proxy must let go of them), a full GC,
    // then the sample.
    const sample = await this.settledSample()
    if (sample !== undefined) this.series.at(-1)!.push(sample)
    return { violations, crash, ms: performance.now() - started, sample, concrete, runs }
  }
}

// The case's placeholders become this connection instance's tokens (same length, so every
// Content-Length and chunk size stays true).
function concreteSegment (s: Segment, tag: string): Segment {
  const sub = (x: string): string => x.replaceAll(PLACEHOLDER + 'Q', tag + 'Q')
  return { ...s, bytes: sub(s.bytes), id: sub(s.id), body: sub(s.body), upTargets: s.upTargets.map(sub), smuggled: s.smuggled.map(sub) }
}

