// One record per finished exchange. The access log, the metrics and the live flow feed all read this
// record; nothing else on the request path logs or counts by itself.

let sequence = 0
const idPrefix = process.pid.toString(36) + '-'

export class Exchange {
  readonly id: string
  readonly time: number
  readonly startedAt: number
  readonly listener: string
  readonly client: string
  readonly method: string
  // The Host as the client sent it (or the authority of an absolute-form target).
  host = ''
  // The published name it matched, normalized; the only name a redirect may use.
  publicName = ''
  target = ''
  rule = ''
  pool = ''
  member = ''
  upstream = ''
  status = 0
  upstreamStatus = 0
  bytesIn = 0
  bytesOut = 0
  durationMs = 0
  // A stable code such as upstream_refused; '' when the exchange went well.
  error = ''
  // Set when the client connection was aborted mid-response (truncation made visible).
  aborted = false
  // The first member failed before anything was sent and another one answered.
  retried = false
  // What the proxy's own code threw while serving this exchange (error internal_error).
  fault: unknown = undefined
  // References, not copies: the raw header arrays as received from the client and as forwarded,
  // for the teaching page's "show headers". Nothing is built for them on the request path.
  requestHeaders: readonly string[] | undefined = undefined
  forwardedHeaders: readonly string[] | undefined = undefined
  // The response's fields as the client got them: the relayed one after the response header policy,
  // or the proxy's own answer (respond/local-response.ts).
  responseHeaders: readonly string[] | undefined = undefined
  // The relayed response's fields as the server sent them.
  upstreamResponseHeaders: readonly string[] | undefined = undefined
  // Why the proxy answered itself (a failure's or a redirect's reason); '' when a server answered.
  reason = ''

  constructor (listener: string, client: string, method: string) {
    this.id = idPrefix + (++sequence).toString(36)
    this.time = Date.now()
    this.startedAt = performance.now()
    this.listener = listener
    this.client = client
    this.method = method
  }
}

// Where an exchange stopped: a request no rule took, at the listener; one a rule answered itself
// (deny, redirect, a body too large), at the rule; one that reached for a member, at the pool.
export type ExchangeStop = 'listener' | 'rule' | 'pool'

export function stopOf (ex: Exchange): ExchangeStop {
  return ex.member !== '' || ex.upstream !== '' ? 'pool' : ex.rule !== '' ? 'rule' : 'listener'
}

// The proxy's own refusal of the request (its failure code), '' when it forwarded it, redirected it
// or the client left before an answer.
export function refusalOf (ex: Exchange): string {
  return ex.error === '' || ex.error === 'client_aborted' || stopOf(ex) === 'pool' ? '' : ex.error
}

// The exchange a response belongs to, for the code that writes the proxy's own answers: it records
// what it wrote without every caller passing the exchange along.
const kExchange = Symbol('lyncproxy.exchange')
interface ExchangeHolder { [kExchange]?: Exchange }

export function attachExchange (res: object, ex: Exchange): void {
  (res as ExchangeHolder)[kExchange] = ex
}

export function exchangeOf (res: object): Exchange | undefined {
  return (res as ExchangeHolder)[kExchange]
}

export type ExchangeSink = (exchange: Exchange) => void

export class ExchangeBus {
  private sinks: ExchangeSink[] = []

  subscribe (sink: ExchangeSink): () => void {
    this.sinks = [...this.sinks, sink]
    return () => { this.sinks = this.sinks.filter((s) => s !== sink) }
  }

  publish (exchange: Exchange): void {
    const sinks = this.sinks
    for (let i = 0; i < sinks.length; i++) {
      // A failing consumer must never take the request path down with it.
      try { sinks[i]!(exchange) } catch { /* consumers report their own failures */ }
    }
  }
}
