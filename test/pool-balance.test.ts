// A `members` pool balanced by lyncproxy itself: round robin per request (even inside one client
// keep-alive connection), weights, least connections, drain, and source / MS-WSMAN cookie affinity.
// Every assertion about balancing counts what the member upstreams actually received.
import http from 'node:http'
import t from 'tap'
import { counts, Gate, KeepAliveClient, membersPool, startMembers } from './helpers/pool.js'
import { startTestProxy } from './helpers/proxy.js'
import { Member } from '../src/upstream/member.js'
import { headerValues, parseResponseHead, wireExchange } from './helpers/wire.js'

const HOST = 'webext.contoso.com'

function forwardAll (pool = 'x'): Record<string, unknown>[] {
  return [{ name: 'all', publicNames: [HOST], action: 'forward', pool, listeners: ['external-http'] }]
}

t.test('round robin spreads requests evenly, per request, inside one keep-alive connection', async (t) => {
  const ups = await startMembers(3)
  const p = await startTestProxy({ pools: { x: membersPool(ups) }, rules: forwardAll() })
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(async () => { client.close(); await p.close(); for (const u of ups) await u.close() })

  const ports = new Set<number>()
  const order: string[] = []
  for (let i = 0; i < 100; i++) {
    const r = await client.request(HOST, `/r/${i}`)
    t.equal(r.status, 200)
    ports.add(r.localPort)
    order.push(String(r.headers['x-member']))
  }
  t.equal(ports.size, 1, 'all 100 requests went over one client TCP connection')
  const c = counts(ups)
  t.equal(c.reduce((a, b) => a + b, 0), 100, 'every request reached exactly one member')
  for (const n of c) t.ok(n >= 33 && n <= 34, `each member got 33 or 34 requests (got ${c.join('/')})`)
  // Per request, not per connection: consecutive requests on the one connection change member.
  t.not(order[0], order[1], 'the second request on the same connection went to another member')
  // And each member saw every path it got exactly once (no duplicates, none lost).
  const paths = ups.flatMap((u) => u.requests.map((q) => q.url)).sort()
  t.same(paths, Array.from({ length: 100 }, (_, i) => `/r/${i}`).sort(), 'each request forwarded once')
})

t.test('weights 1:3 give a 25/75 split', async (t) => {
  const ups = await startMembers(2)
  const p = await startTestProxy({ pools: { x: membersPool(ups, {}, (i) => ({ weight: i === 0 ? 1 : 3 })) }, rules: forwardAll() })
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(async () => { client.close(); await p.close(); for (const u of ups) await u.close() })
  for (let i = 0; i < 100; i++) t.equal((await client.request(HOST, '/w')).status, 200)
  const [light, heavy] = counts(ups)
  t.ok(light! >= 24 && light! <= 26, `weight 1 member got ~25 (got ${light})`)
  t.ok(heavy! >= 74 && heavy! <= 76, `weight 3 member got ~75 (got ${heavy})`)
})

t.test('least connections prefers the member with fewer requests in flight', async (t) => {
  const gates = [new Gate(), new Gate()]
  const ups = await startMembers(2, (i) => (req, res) => {
    const answer = (): void => { res.writeHead(200, { 'X-Member': String(i) }); res.end(`member ${i}`) }
    if (req.url === '/hold') gates[i]!.hold(answer)
    else answer()
  })
  const p = await startTestProxy({ pools: { x: membersPool(ups, { balance: 'least-connections' }) }, rules: forwardAll() })
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(async () => { client.close(); gates.forEach((g) => g.releaseAll()); await p.close(); for (const u of ups) await u.close() })

  // A long request on one member (its own connection: the keep-alive client is kept for the rest).
  const held = new KeepAliveClient(p.httpPort)
  t.teardown(() => held.close())
  const heldReply = held.request(HOST, '/hold')
  await Promise.race([gates[0]!.until(1), gates[1]!.until(1)])
  const busy = gates[0]!.arrived === 1 ? 0 : 1
  const idle = 1 - busy
  t.equal(gates[busy]!.arrived, 1, `the held request is in flight on member ${busy}`)

  for (let i = 0; i < 8; i++) t.equal((await client.request(HOST, '/quick')).headers['x-member'], String(idle), `request ${i} avoided the busy member`)
  t.equal(ups[busy]!.requests.filter((q) => q.url === '/quick').length, 0, 'the busy member received none of them')
  t.equal(ups[idle]!.requests.filter((q) => q.url === '/quick').length, 8, 'the idle member received all 8')

  // Two in flight on the idle member, one on the busy one: the next goes to the busy one.
  const h2 = new KeepAliveClient(p.httpPort)
  const h3 = new KeepAliveClient(p.httpPort)
  t.teardown(() => { h2.close(); h3.close() })
  const r2 = h2.request(HOST, '/hold')
  await gates[idle]!.until(1)
  const r3 = h3.request(HOST, '/hold')
  // Ties go either way; with one each, the third lands somewhere; wait until it has.
  await new Promise<void>((resolve) => {
    const poll = (): void => { if (gates[0]!.arrived + gates[1]!.arrived === 3) resolve(); else setTimeout(poll, 20) }
    poll()
  })
  const heavier = gates[0]!.arrived === 2 ? 0 : 1
  t.equal((await client.request(HOST, '/quick')).headers['x-member'], String(1 - heavier), 'with 2 in flight against 1, the lighter member is chosen')

  gates.forEach((g) => g.releaseAll())
  t.equal((await heldReply).status, 200, 'the held request completed')
  t.equal((await r2).status, 200)
  t.equal((await r3).status, 200)
})

t.test('drain stops new requests to a member while its request in flight finishes; undrain brings it back', async (t) => {
  const gates = [new Gate(), new Gate()]
  const ups = await startMembers(2, (i) => (req, res) => {
    const answer = (): void => { res.writeHead(200, { 'X-Member': String(i) }); res.end(`member ${i} ${req.url ?? ''}`) }
    if (req.url === '/hold') gates[i]!.hold(answer)
    else answer()
  })
  const p = await startTestProxy({ pools: { x: membersPool(ups) }, rules: forwardAll() })
  const client = new KeepAliveClient(p.httpPort)
  const holder = new KeepAliveClient(p.httpPort)
  t.teardown(async () => { client.close(); holder.close(); gates.forEach((g) => g.releaseAll()); await p.close(); for (const u of ups) await u.close() })

  const heldReply = holder.request(HOST, '/hold')
  await Promise.race([gates[0]!.until(1), gates[1]!.until(1)])
  const drained = gates[0]!.arrived === 1 ? 0 : 1
  const other = 1 - drained
  const pool = p.proxy.table().pools.get('x')
  t.ok(pool, 'the pool is in the routing table')
  const member = pool!.setDraining(`m${drained + 1}`, true)
  t.equal(member?.draining, true, `m${drained + 1} is draining`)

  const before = ups[drained]!.requests.length
  for (let i = 0; i < 10; i++) t.equal((await client.request(HOST, '/during')).headers['x-member'], String(other))
  t.equal(ups[drained]!.requests.length, before, 'the draining member received no new request')
  t.equal(ups[other]!.requests.filter((q) => q.url === '/during').length, 10)

  gates[drained]!.releaseAll()
  const r = await heldReply
  t.equal(r.status, 200, 'the request in flight on the draining member finished')
  t.equal(r.body, `member ${drained} /hold`, 'with its own member\'s complete answer')

  pool!.setDraining(`m${drained + 1}`, false)
  for (let i = 0; i < 10; i++) t.equal((await client.request(HOST, '/after')).status, 200)
  t.equal(ups[drained]!.requests.filter((q) => q.url === '/after').length, 5, 'after undrain the member is back in rotation (5 of 10)')
  t.equal(ups[other]!.requests.filter((q) => q.url === '/after').length, 5)
})

t.test('source affinity: one client address, one member; affinity off spreads the same client', async (t) => {
  const ups = await startMembers(3)
  const p = await startTestProxy({
    pools: { sticky: membersPool(ups, { affinity: 'source' }), spread: membersPool(ups, { affinity: 'none' }) },
    rules: [
      { name: 'sticky', publicNames: [HOST], paths: ['/sticky'], action: 'forward', pool: 'sticky', listeners: ['external-http'] },
      { name: 'spread', publicNames: [HOST], paths: ['/spread'], action: 'forward', pool: 'spread', listeners: ['external-http'] },
    ],
  })
  t.teardown(async () => { await p.close(); for (const u of ups) await u.close() })

  const used = new Set<number>()
  for (let a = 10; a < 22; a++) {
    const source = `127.0.0.${a}`
    const seen = new Set<number>()
    // Fresh connections each time (no keep-alive), so the stickiness is by address, not by socket.
    for (let i = 0; i < 5; i++) {
      const before = counts(ups)
      const r = await get(p.httpPort, '/sticky', source)
      t.equal(r, 200)
      const after = counts(ups)
      const hit = after.findIndex((n, k) => n !== before[k])
      seen.add(hit)
      const forwardedFor = ups[hit]!.requests.at(-1)!.headers['x-forwarded-for']
      t.match(String(forwardedFor), source, 'the upstream saw the client address it was pinned by')
    }
    t.equal(seen.size, 1, `${source}: all 5 requests reached one member`)
    used.add([...seen][0]!)
  }
  t.ok(used.size >= 2, `different addresses spread over members (${used.size} used)`)

  const before = counts(ups)
  for (let i = 0; i < 6; i++) t.equal(await get(p.httpPort, '/spread', '127.0.0.10'), 200)
  const delta = counts(ups).map((n, k) => n - before[k]!)
  t.same(delta, [2, 2, 2], 'affinity off: one address is spread over all members')
})

function get (port: number, path: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress, headers: { Host: HOST }, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('cookie affinity: MS-WSMAN as Microsoft specifies it, on the wire', async (t) => {
  const ups = await startMembers(3)
  const p = await startTestProxy({ pools: { x: membersPool(ups, { affinity: 'cookie' }) }, rules: forwardAll() })
  t.teardown(async () => { await p.close(); for (const u of ups) await u.close() })

  // The raw response head: attributes exactly as sent.
  const raw = await wireExchange(p.httpPort, `GET /first HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`)
  const head = parseResponseHead(raw.bytes)
  t.equal(head.status, 200)
  const setCookies = headerValues(head.lines, 'set-cookie')
  t.equal(setCookies.length, 1, 'one Set-Cookie on the first response')
  const m = /^MS-WSMAN=([^;\s]+); Path=\/$/.exec(setCookies[0] ?? '')
  t.ok(m, `Set-Cookie is exactly "MS-WSMAN=<token>; Path=/" (got ${setCookies[0]})`)
  t.notMatch(setCookies[0] ?? '', /httponly|expires|max-age|secure|domain/i, 'no HttpOnly, no expiry, no Max-Age')
  const token = m?.[1] ?? ''
  const first = ups.findIndex((u) => u.requests.length === 1)
  const upstream = ups[first]!
  for (const leak of ['127.0.0.1', Buffer.from(`127.0.0.1:${upstream.port}`).toString('base64'), Buffer.from('127.0.0.1').toString('hex')]) {
    t.notOk(token.includes(leak), `the token does not reveal ${leak}`)
  }
  // A short string such as the port can turn up in a hex digest by chance, so the proof that the
  // address and port are not in the token is that it stays the same when they change.
  const memberName = p.proxy.table().pools.values().next().value?.members.find((mm) => mm.cookie === token)?.name
  t.ok(memberName !== undefined, 'the token names one member')
  const elsewhere = new Member({ pool: p.proxy.table().pools.keys().next().value ?? '', name: memberName ?? '', address: '127.9.9.9', httpPort: 1, httpsPort: 2, weight: 1 })
  t.equal(elsewhere.cookie, token, 'the same member at another address and port has the same token')

  // With the cookie: the same member every time, and no new Set-Cookie.
  const client = new KeepAliveClient(p.httpPort)
  t.teardown(() => client.close())
  for (let i = 0; i < 9; i++) {
    const r = await client.request(HOST, '/sticky', { headers: { Cookie: `a=b; MS-WSMAN=${token}; c=d` } })
    t.equal(r.headers['x-member'], String(first), `request ${i} with the cookie stuck to member ${first}`)
    t.equal(r.headers['set-cookie'], undefined, 'a request that carries the cookie gets no new one')
  }
  t.equal(upstream.requests.filter((q) => q.url === '/sticky').length, 9, 'the upstream of that member received all 9')

  // Without it: a Set-Cookie on every response, on one connection (not once per TCP connection).
  const bare = new KeepAliveClient(p.httpPort)
  t.teardown(() => bare.close())
  const tokens = new Map<string, string>()
  const ports = new Set<number>()
  for (let i = 0; i < 6; i++) {
    const r = await bare.request(HOST, '/bare')
    ports.add(r.localPort)
    const sc = r.headers['set-cookie'] ?? []
    t.equal(sc.length, 1, `response ${i} without a cookie carries one Set-Cookie`)
    const tok = /^MS-WSMAN=([^;]+); Path=\/$/.exec(sc[0] ?? '')?.[1] ?? ''
    tokens.set(String(r.headers['x-member']), tok)
  }
  t.equal(ports.size, 1, 'all on one client connection')
  t.equal(tokens.size, 3, 'unpinned requests are still balanced over the 3 members')
  t.equal(new Set(tokens.values()).size, 3, 'each member has its own token')
  t.equal(tokens.get(String(first)), token, 'the token names the member stably')

  // An unknown value: a fresh, valid cookie.
  const r = await client.request(HOST, '/unknown', { headers: { Cookie: 'MS-WSMAN=deadbeef' } })
  const fresh = /^MS-WSMAN=([^;]+); Path=\/$/.exec(r.headers['set-cookie']?.[0] ?? '')?.[1]
  t.ok(fresh !== undefined && fresh !== 'deadbeef', 'an unknown cookie value gets a fresh cookie')
  t.equal(tokens.get(String(r.headers['x-member'])), fresh, 'naming the member that answered')

  // The member the cookie names is drained: the request goes elsewhere and the cookie is replaced.
  p.proxy.table().pools.get('x')!.setDraining(`m${first + 1}`, true)
  const moved = await client.request(HOST, '/moved', { headers: { Cookie: `MS-WSMAN=${token}` } })
  t.not(moved.headers['x-member'], String(first), 'a drained member loses its cookie clients')
  const replaced = /^MS-WSMAN=([^;]+); Path=\/$/.exec(moved.headers['set-cookie']?.[0] ?? '')?.[1]
  t.equal(replaced, tokens.get(String(moved.headers['x-member'])), 'and they get the new member\'s cookie')
  t.equal(upstream.requests.filter((q) => q.url === '/moved').length, 0, 'the drained member received nothing')
})
