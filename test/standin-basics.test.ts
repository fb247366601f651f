// Life cycle of a stand-in (start, bound ports, close, refusal of bad specs) and the pure pieces the
// servers are built from: Accept negotiation, the IIS host rewrites, web ticket checks.
import t from 'tap'
import { throwawayCert } from './helpers/throwaway-cert.js'
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { request } from 'undici'
import { chooseRepresentation } from '../src/lab/standin/autodiscover/negotiate.js'
import { hostName } from '../src/lab/standin/host.js'
import { startStandIn, type StandInSpec } from '../src/lab/standin/index.js'
import { rewriteLyncUrl } from '../src/lab/standin/rewrite.js'
import { issueWebTicket, ticketKeyOf, verifyWebTicket } from '../src/lab/standin/webticket/token.js'

const base: StandInSpec = {
  member: 'fe01',
  role: 'frontend',
  serverFqdn: 'fe01.contoso.net',
  address: '127.0.0.1',
  sites: [{ kind: 'internal', protocol: 'http', port: 0 }, { kind: 'external', protocol: 'http', port: 0 }],
  topology: {
    sipDomain: 'contoso.com',
    frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
    users: [],
  },
}

async function refused (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(true))
  })
}

t.test('start reports the bound ports per site; close frees them and may be called twice', async (t) => {
  const fe = await startStandIn(base)
  t.equal(fe.member, 'fe01')
  t.equal(fe.sites.length, 2)
  t.match(fe.sites, [{ kind: 'internal', protocol: 'http', address: '127.0.0.1' }, { kind: 'external', protocol: 'http', address: '127.0.0.1' }])
  t.ok(fe.sites.every((s) => s.port > 0), 'real ports, not 0')
  for (const s of fe.sites) {
    const r = await request(`http://127.0.0.1:${s.port}/Autodiscover/AutodiscoverService.svc/root`, { headers: { host: 'webext.contoso.com' } })
    await r.body.dump()
    t.equal(r.headers['x-lab-port'], String(s.port))
  }
  await fe.close()
  await fe.close()
  for (const s of fe.sites) t.ok(await refused(s.port), `port ${s.port} closed`)
})

t.test('bad specs are refused before anything listens', async (t) => {
  await t.rejects(startStandIn({ ...base, sites: [{ kind: 'external', protocol: 'https', port: 0 }] }), /https site needs tls/)
  await t.rejects(startStandIn({ ...base, role: 'owas' }), /topology\.owas/)

  // The second site's port is taken: the first must not be left listening.
  const blocker = net.createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const taken = (blocker.address() as AddressInfo).port
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const free = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  await t.rejects(startStandIn({
    ...base,
    sites: [{ kind: 'internal', protocol: 'http', port: free }, { kind: 'external', protocol: 'http', port: taken }],
  }), { code: 'EADDRINUSE' })
  t.ok(await refused(free), 'the site that did start was closed again')
})

t.test('Accept negotiation', async (t) => {
  t.equal(chooseRepresentation(undefined), 'ocdisc')
  t.equal(chooseRepresentation(''), 'ocdisc')
  t.equal(chooseRepresentation('*/*'), 'ocdisc')
  t.equal(chooseRepresentation('application/vnd.microsoft.rtc.autodiscover+xml;v=1'), 'xml')
  t.equal(chooseRepresentation('Application/Vnd.Microsoft.Rtc.Autodiscover+XML; v=1'), 'xml')
  t.equal(chooseRepresentation('application/vnd.microsoft.rtc.autodiscover+json;v=1'), 'ocdisc')
  t.equal(chooseRepresentation('application/json'), 'ucwa')
  t.equal(chooseRepresentation('application/json;q=0.5, application/vnd.microsoft.rtc.autodiscover+xml;v=1'), 'xml', 'q wins')
  t.equal(chooseRepresentation('application/json, application/vnd.microsoft.rtc.autodiscover+xml'), 'ucwa', 'then order')
  t.equal(chooseRepresentation('application/json;q=0, text/html'), 'ocdisc', 'q=0 excludes')
})

t.test('IIS host rewrites', async (t) => {
  const rw = (host: string, url: string): string => rewriteLyncUrl({ url, headers: { host } } as IncomingMessage)
  t.equal(rw('lyncdiscover.contoso.com', '/?sipuri=a@b'), '/Autodiscover/AutodiscoverService.svc/root?sipuri=a@b')
  t.equal(rw('LyncDiscover.contoso.com:443', '/dialin/'), '/Autodiscover/AutodiscoverService.svc/root')
  t.equal(rw('lyncdiscover.contoso.com', '/autodiscover/autodiscoverservice.svc/root/oauth/user'), '/autodiscover/autodiscoverservice.svc/root/oauth/user', 'resources of the service keep their path')
  t.equal(rw('meet.contoso.com', '/user1/ABC?x=1'), '/meet/user1/ABC?x=1')
  t.equal(rw('meet.contoso.com', '/'), '/meet')
  t.equal(rw('meet.contoso.com', '/Meet/user1/ABC'), '/Meet/user1/ABC')
  t.equal(rw('dialin.contoso.com', '/'), '/dialin')
  t.equal(rw('webext.contoso.com', '/meet'), '/meet')
  t.equal(rw('meetings.contoso.com', '/x'), '/x', 'prefix must be a whole label')
  t.equal(hostName('[::1]:443'), '[::1]')
  t.equal(hostName('WebExt.Contoso.COM.:4443'), 'webext.contoso.com')
  t.equal(hostName(undefined), '')
})

t.test('web ticket checks', async (t) => {
  const pem = (await throwawayCert('fe01.contoso.net')).key
  const KEY = ticketKeyOf(pem)
  const now = Date.now()
  const ticket = issueWebTicket(KEY, 'Pool01.contoso.net', 'user1@contoso.com', now)
  t.match(ticket, /^cwt=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  t.match(verifyWebTicket(KEY, ticket, 'pool01.contoso.net', now), { ok: true, ticket: { user: 'user1@contoso.com', pool: 'pool01.contoso.net' } })
  t.same(verifyWebTicket(KEY, ticket, 'dirpool.contoso.net', now), { ok: false, reason: 'other-pool' })
  t.same(verifyWebTicket(KEY, ticket, 'pool01.contoso.net', now + 28_800_000), { ok: false, reason: 'expired' })
  const flipped = ticket.slice(0, -1) + (ticket.endsWith('A') ? 'B' : 'A')
  t.same(verifyWebTicket(KEY, flipped, 'pool01.contoso.net', now), { ok: false, reason: 'signature' })
  t.same(verifyWebTicket(KEY, 'cwt=AAEB', 'pool01.contoso.net', now), { ok: false, reason: 'malformed' })
  t.not(issueWebTicket(KEY, 'pool01.contoso.net', 'user1@contoso.com', now), ticket, 'two tickets never look alike')

  // The key is the pool certificate's: another process with the same certificate accepts the ticket
  // (as fe02 does fe01's), one with another certificate does not.
  t.same(ticketKeyOf(pem), KEY, 'the same certificate, the same key')
  const other = ticketKeyOf((await throwawayCert('dir01.contoso.net')).key)
  t.same(verifyWebTicket(other, ticket, 'pool01.contoso.net', now), { ok: false, reason: 'signature' })
  t.notOk(ticketKeyOf(undefined).equals(KEY), 'a stand-in without a certificate keeps a key of its own')
})
