// Layer-4 tunnels torn down from both sides (issue 16 §1): a client that resets mid-stream is a
// reset to the member too (a FIN would tell a half-open member that the client has only finished
// sending, and it would keep the session), and both sides closing at once leave the proxy serving,
// the member's connection closed and its active count exactly where it was (never below).
import net from 'node:net'
import t from 'tap'
import { startL4Server } from './helpers/l4.js'
import { eventually, sleep } from './helpers/pool.js'
import { startTestProxy } from './helpers/proxy.js'

t.test('l4 tunnels end cleanly whichever side goes first', async (t) => {
  // Each member connection and how it ended; a member keeps its side open after a FIN, as SIP
  // servers on a half-open path may.
  const memberSockets = new Set<net.Socket>()
  const endings: string[] = []
  const member = await startL4Server({
    address: '127.0.0.41',
    onSocket: (s) => {
      memberSockets.add(s)
      s.on('close', () => memberSockets.delete(s))
      s.on('end', () => endings.push('end'))
      s.on('error', (err: NodeJS.ErrnoException) => endings.push(err.code ?? err.message))
      s.write('hello\n')
      s.on('data', (c: Buffer) => s.write(c))
    },
  })
  const p = await startTestProxy({
    pools: { l4: { kind: 'members', fqdn: 'dirpool.contoso.net', members: [{ name: 'd1', address: member.address }], health: { check: 'none' } } },
    rules: [{ name: 'deny', publicNames: ['webext.contoso.com'], action: 'deny' }],
    tcp: [{ name: 'sip', port: 0, pool: 'l4', targetPort: member.port }],
  })
  t.teardown(async () => { await p.close(); await member.close() })
  const port = p.proxy.tcpFrontends[0]!.port
  const active = (): number => p.proxy.table().tcpPools.get('sip')!.members[0]!.active
  const open = async (): Promise<net.Socket> => {
    const c = net.connect({ port, host: '127.0.0.1' })
    c.on('error', () => { /* the test resets it */ })
    await new Promise<void>((resolve) => c.once('data', () => resolve()))
    return c
  }

  for (let i = 0; i < 5; i++) {
    const c = await open()
    t.equal(active(), 1, 'an open tunnel counts against its member')
    endings.length = 0
    c.write('ping\n')
    await new Promise<void>((resolve) => c.once('data', () => resolve()))
    // Nothing of its own left to send: Node turns a reset with a write pending into a FIN.
    c.resetAndDestroy()
    t.ok(await eventually(() => memberSockets.size === 0, 2000), 'client reset mid-stream: the member connection is closed')
    t.same(endings, ['ECONNRESET'], 'by a reset, not a FIN')
    t.equal(active(), 0, 'and the member given back')
  }

  for (let i = 0; i < 5; i++) {
    const c = await open()
    await eventually(() => memberSockets.size === 1, 2000)
    const [m] = memberSockets
    m!.resetAndDestroy()
    c.resetAndDestroy()
    t.ok(await eventually(() => memberSockets.size === 0 && active() === 0, 2000), 'both reset at once: closed, given back once')
  }
  await sleep(100)
  t.equal(active(), 0, 'never below zero')
  const c = await open()
  t.pass('the frontend still serves')
  c.destroy()
})
