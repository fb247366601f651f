// A counter and a histogram for the request path: each label set is bound once to a series that
// counts into plain numbers, and nothing is built per observation.
//
// Why not prom-client's own: its bound child still builds a label object, validates it, and hashes
// it into a string key on every inc() and observe(), work done twice per exchange that showed in the
// CPU per proxied GET (bench/results/2026-11-22-design-measurements.md). prom-client keeps the exposition: these
// metrics register with its Registry (text format, cluster aggregation) by the same get() and
// reset() its own metrics offer, and give the same JSON shape, so /metrics reads as before.
import type { Metric, Registry } from 'prom-client'

type Labels = Readonly<Record<string, string>>

interface MetricJson {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  values: Array<{ value: number, labels: Record<string, string | number>, metricName?: string }>
}

export class CounterSeries {
  value = 0
  constructor (readonly labels: Labels) {}
  inc (by = 1): void { this.value += by }
}

export class SeriesCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  private readonly series: CounterSeries[] = []

  constructor (readonly name: string, readonly help: string, registry: Registry) {
    register(registry, this)
  }

  // Call once per label set and keep the result: every call adds a series.
  bind (labels: Labels): CounterSeries {
    const s = new CounterSeries(labels)
    this.series.push(s)
    return s
  }

  async get (): Promise<MetricJson> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.series.map((s) => ({ value: s.value, labels: { ...s.labels } })) }
  }

  reset (): void {
    for (const s of this.series) s.value = 0
  }
}

export class HistogramSeries {
  sum = 0
  count = 0
  // counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound.
  readonly counts: Float64Array

  constructor (readonly labels: Labels, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (value: number): void {
    if (!Number.isFinite(value)) return
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

export class SeriesHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series: HistogramSeries[] = []
  private readonly bounds: readonly number[]

  constructor (readonly name: string, readonly help: string, buckets: readonly number[], registry: Registry) {
    this.bounds = [...buckets].sort((a, b) => a - b)
    register(registry, this)
  }

  // Call once per label set and keep the result: every call adds a series.
  bind (labels: Labels): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds)
    this.series.push(s)
    return s
  }

  async get (): Promise<MetricJson> {
    const values: MetricJson['values'] = []
    for (const s of this.series) {
      // Prometheus buckets are cumulative: each one counts every observation at or below its bound.
      let below = 0
      for (let i = 0; i < this.bounds.length; i++) {
        below += s.counts[i]!
        values.push({ value: below, labels: { le: this.bounds[i]!, ...s.labels }, metricName: `${this.name}_bucket` })
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` })
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` })
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    for (const s of this.series) { s.counts.fill(0); s.sum = 0; s.count = 0 }
  }
}

function register (registry: Registry, metric: SeriesCounter | SeriesHistogram): void {
  // The Registry reads a metric through name, type, aggregator, get() and reset(), which both
  // classes have; its type names prom-client's classes, hence the cast.
  registry.registerMetric(metric as unknown as Metric)
}
