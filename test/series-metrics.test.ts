// The request-path counter and histogram expose exactly what prom-client's own would for the same
// observations, in the text format and in the JSON a cluster worker sends to its primary.
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client'
import t from 'tap'
import { SeriesCounter, SeriesHistogram } from '../src/observe/series-metrics.js'

const BUCKETS = [0.005, 0.01, 0.1, 1, 10, 960]
// Values on, between, below and above the bounds.
const VALUES = [0, 0.005, 0.0051, 0.01, 0.05, 0.1, 0.2, 1, 9.99, 10, 500, 960, 961, 5000]

function both (): { ours: Registry, theirs: Registry } {
  const ours = new Registry()
  const theirs = new Registry()
  const h = new SeriesHistogram('x_duration_seconds', 'Duration.', BUCKETS, ours)
  const ph = new Histogram({ name: 'x_duration_seconds', help: 'Duration.', labelNames: ['listener', 'rule'], buckets: BUCKETS, registers: [theirs] })
  const c = new SeriesCounter('x_requests_total', 'Requests.', ours)
  const pc = new Counter({ name: 'x_requests_total', help: 'Requests.', labelNames: ['listener', 'code_class'], registers: [theirs] })
  // Bound in the order of their first observation, as metrics.ts binds them; prom-client lists a
  // series from its first observation on.
  const b = h.bind({ listener: 'external-http', rule: 'ucwa "long" poll' })
  const a = h.bind({ listener: 'external-https', rule: 'webext' })
  VALUES.forEach((v, i) => {
    const labels = i % 3 === 0 ? { listener: 'external-http', rule: 'ucwa "long" poll' } : { listener: 'external-https', rule: 'webext' }
    ;(i % 3 === 0 ? b : a).observe(v)
    ph.observe(labels, v)
  })
  const c2 = c.bind({ listener: 'external-https', code_class: '2xx' })
  const c5 = c.bind({ listener: 'external-https', code_class: '5xx' })
  for (let i = 0; i < 7; i++) { c2.inc(); pc.inc({ listener: 'external-https', code_class: '2xx' }) }
  c5.inc(3)
  pc.inc({ listener: 'external-https', code_class: '5xx' }, 3)
  return { ours, theirs }
}

t.test('the text exposition matches prom-client\'s Histogram and Counter', async (t) => {
  const { ours, theirs } = both()
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, 'x_duration_seconds_bucket{le="0.005",listener="external-https",rule="webext"} 1', 'a bound counts what equals it')
  t.match(text, 'x_duration_seconds_bucket{le="+Inf",listener="external-http",rule="ucwa \\"long\\" poll"} 5', 'label values are escaped')
})

t.test('the JSON a worker sends sums across workers as prom-client\'s does', async (t) => {
  const one = both()
  const two = both()
  const ours = AggregatorRegistry.aggregate([await one.ours.getMetricsAsJSON(), await two.ours.getMetricsAsJSON()])
  const theirs = AggregatorRegistry.aggregate([await one.theirs.getMetricsAsJSON(), await two.theirs.getMetricsAsJSON()])
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, 'x_requests_total{listener="external-https",code_class="2xx"} 14')
})

t.test('reset() zeroes the series and keeps them bound', async (t) => {
  const registry = new Registry()
  const h = new SeriesHistogram('y_seconds', 'Y.', [1], registry)
  const s = h.bind({ rule: 'r' })
  s.observe(0.5)
  s.observe(Number.NaN)
  registry.resetMetrics()
  s.observe(2)
  const text = await registry.metrics()
  t.match(text, 'y_seconds_bucket{le="1",rule="r"} 0')
  t.match(text, 'y_seconds_count{rule="r"} 1', 'the NaN was not counted, the later value was')
})
