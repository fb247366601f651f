// What every check of one probe run shares: the resolved options, the HTTP client bound to the
// target, and the results so far. Later checks read earlier results so that one mistake is reported
// once, where it is, and the checks that merely could not run because of it say SKIP.
import { describeError, errorCause } from './diagnose.js'
import { send, type ProbeRequest, type ProbeResponse } from './http.js'
import type { ProbeResult, ResolvedProbeOptions, Verdict } from './types.js'

export class ProbeContext {
  private readonly results: ProbeResult[] = []

  constructor (readonly options: ResolvedProbeOptions) {}

  get names (): ResolvedProbeOptions['names'] { return this.options.names }

  send (req: ProbeRequest): Promise<ProbeResponse> {
    return send(this.options, req)
  }

  // One request judged into one row; a request that gets no HTTP answer at all is a FAIL here, with
  // the transport's likely cause, so the judges only deal with answers.
  async judge (check: string, label: string, req: ProbeRequest, judge: (res: ProbeResponse) => ProbeResult): Promise<ProbeResult> {
    let res: ProbeResponse
    try {
      res = await this.send(req)
    } catch (err) {
      const port = req.scheme === 'https' ? this.options.httpsPort : this.options.httpPort
      return fail(check, label, `${req.method ?? 'GET'} ${req.scheme}://${req.name}${req.path}: ${describeError(err)}`, errorCause(err, `${this.options.target}:${port}`))
    }
    return judge(res)
  }

  record (result: ProbeResult): ProbeResult {
    this.results.push(result)
    return result
  }

  verdict (check: string, name: string): Verdict | undefined {
    return this.row(check, name)?.result
  }

  row (check: string, name: string): ProbeResult | undefined {
    return this.results.find((r) => r.check === check && r.name === name)
  }

  // A TLS failure for a name makes every HTTPS check on it moot; this is the row those checks give.
  tlsBlocked (check: string, name: string, label = name): ProbeResult | undefined {
    const tls = this.verdict('tls', name)
    if (tls === undefined || tls === 'PASS' || tls === 'WARN') return undefined
    return skip(check, label, `not tried: TLS to ${name} failed (see the tls row)`)
  }
}

export function pass (check: string, name: string, detail: string): ProbeResult {
  return { check, name, result: 'PASS', detail }
}

export function fail (check: string, name: string, detail: string, cause: string): ProbeResult {
  return { check, name, result: 'FAIL', detail, cause }
}

export function warn (check: string, name: string, detail: string, cause: string): ProbeResult {
  return { check, name, result: 'WARN', detail, cause }
}

export function skip (check: string, name: string, detail: string): ProbeResult {
  return { check, name, result: 'SKIP', detail }
}
