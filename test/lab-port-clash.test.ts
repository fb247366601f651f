// A pool's siblings take the first member's ephemeral port on their own addresses; when that port is
// taken there, the lab picks another instead of failing.
import net from 'node:net'
import t from 'tap'
import { withFreshPortsOnClash } from '../src/lab/port-clash.js'

function listen (address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(port, address, () => resolve(s))
  })
}
const close = (s: net.Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()))
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port

t.test("a sibling's port taken on its address: the pool starts again on another port", async (t) => {
  const squatters: net.Server[] = []
  let attempts = 0
  const [first, sibling] = await withFreshPortsOnClash(true, async () => {
    attempts++
    const a = await listen('127.0.0.2', 0)
    // Someone else holds the first member's port on the sibling's address, twice in a row.
    if (attempts <= 2) squatters.push(await listen('127.0.0.3', portOf(a)))
    try {
      return [a, await listen('127.0.0.3', portOf(a))] as const
    } catch (err) {
      await close(a)
      throw err
    }
  })
  t.equal(attempts, 3, 'two clashes, then a port free on both addresses')
  t.equal(portOf(sibling), portOf(first), 'the siblings share the port')
  t.notOk(squatters.some((s) => portOf(s) === portOf(first)), 'not one of the taken ones')
  await Promise.all([first, sibling, ...squatters].map(close))
})

t.test('other errors, fixed ports and a clash that persists are reported, not retried forever', async (t) => {
  let calls = 0
  const refused = Object.assign(new Error('listen EACCES'), { code: 'EACCES' })
  await t.rejects(withFreshPortsOnClash(true, async () => { calls++; throw refused }), refused)
  t.equal(calls, 1, 'EACCES is not a clash')
  calls = 0
  const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
  await t.rejects(withFreshPortsOnClash(false, async () => { calls++; throw inUse }), inUse)
  t.equal(calls, 1, 'a configured port stays what it is')
  calls = 0
  await t.rejects(withFreshPortsOnClash(true, async () => { calls++; throw inUse }), inUse)
  t.equal(calls, 5, 'five tries, then the error')
})
