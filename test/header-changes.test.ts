// The one diff behind explain's header changes and the flow feed's: every field of either side is
// accounted for exactly once, with a reason, whatever the two field lists hold.
import fc from 'fast-check'
import t from 'tap'
import { requestChanges, responseChanges } from '../src/forward/header-changes.js'

const fieldName = fc.constantFrom('Host', 'Via', 'Connection', 'X-Forwarded-For', 'Forwarded', 'Set-Cookie', 'Keep-Alive', 'X-Custom', 'x-custom', 'WWW-Authenticate', 'Strict-Transport-Security')
const fields = fc.array(fc.tuple(fieldName, fc.string({ maxLength: 12 })), { maxLength: 12 }).map((pairs) => pairs.flat())

t.test('every field name of either side appears once, with a reason', async (t) => {
  for (const diff of [requestChanges, responseChanges]) {
    fc.assert(fc.property(fields, fields, (before, after) => {
      const changes = diff(before, after)
      const names = changes.map((c) => c.name.toLowerCase())
      const expected = new Set([...before, ...after].filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()))
      return names.length === expected.size && names.every((n) => expected.has(n)) && changes.every((c) => c.why !== '' && (c.change !== 'replaced' || c.from !== undefined))
    }), { numRuns: 500 })
  }
  t.pass('held for 500 pairs each way')
})

t.test('repeated fields are compared as the list a recipient reads', async (t) => {
  const changes = requestChanges(['Via', '1.0 a', 'Via', '1.1 b'], ['Via', '1.0 a, 1.1 b'])
  t.same(changes.map((c) => c.change), ['kept'])
  const extended = requestChanges(['X-Forwarded-For', '10.0.0.1'], ['X-Forwarded-For', '10.0.0.1, 192.0.2.7'])
  t.match(extended[0]?.why, /trusted proxy/)
  const masked = responseChanges(['Set-Cookie', 'a=1'], ['Set-Cookie', 'a=1', 'Set-Cookie', 'MS-WSMAN=abc'], (_n, v) => `[${v.length}]`)
  t.same(masked, [{ name: 'Set-Cookie', change: 'replaced', value: '[3], [12]', from: '[3]', why: masked[0]!.why }], 'each value masked on its own, then joined')
})
