// A Front End pool whose servers keep no shared memory, as when each runs in a process (or a container)
// of its own: fe01 holds the pool's UCWA state, fe02 has a state of its own that it never uses, and
// passes its /ucwa requests on to fe01. A client may send each request to either server, as behind
// an HLB with no affinity, and must not see the difference; web tickets of one are good on the other.
import t from 'tap'
import { once } from 'node:events'
import net from 'node:net'
import { createServer as tlsServer } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { loadConfigFile } from '../src/config/load.js'
import { labCertificateRequest } from '../src/control/lab-cert-request.js'
import { standInSpecs, ucwaHostOf } from '../src/lab/topology.js'
import { ensureLabCertificates } from '../src/tls/lab-certs.js'
import { createPoolState, startStandIn, type LabTopology, type RunningStandIn, type StandInSpec } from '../src/lab/standin/index.js'
import type { UcwaHost } from '../src/lab/standin/types.js'
import { throwawayCert } from './helpers/throwaway-cert.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }],
  ucwa: { minEventTimeout: 1 },
}
const APPS = '/ucwa/oauth/v1/applications'

let tls: { cert: string; key: string }
const agent = new Agent({ connect: { rejectUnauthorized: false } })
t.teardown(() => agent.close())

function spec (member: string, cert: { cert: string; key: string }, ucwaHost?: UcwaHost): StandInSpec {
  return {
    member,
    role: 'frontend',
    serverFqdn: `${member}.contoso.net`,
    address: '127.0.0.1',
    sites: [{ kind: 'external', protocol: 'https', port: 0 }],
    tls: cert,
    topology,
    ...(ucwaHost === undefined ? {} : { ucwaHost }),
  }
}

// Each server with a pool state of its own: nothing is shared in memory.
const alone = async (s: StandInSpec): Promise<RunningStandIn> => await startStandIn(s, createPoolState(topology))
const hostOf = (server: RunningStandIn): UcwaHost => ({ member: server.member, address: '127.0.0.1', sites: server.sites })

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; json: () => Record<string, unknown> }
async function call (server: RunningStandIn, path: string, o: { method?: 'GET' | 'POST' | 'DELETE', headers?: Record<string, string>, body?: string, signal?: AbortSignal } = {}): Promise<Reply> {
  const res = await request(`https://127.0.0.1:${server.sites[0]!.port}${path}`, {
    method: o.method ?? 'GET',
    headers: { host: 'webext.contoso.com', ...o.headers },
    body: o.body,
    signal: o.signal,
    dispatcher: agent,
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) }
}

async function token (server: RunningStandIn): Promise<string> {
  const r = await call(server, '/WebTicket/oauthtoken', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=user1%40contoso.com&password=Pass%40word1',
  })
  return r.json().access_token as string
}

let fe01: RunningStandIn
let fe02: RunningStandIn
t.before(async () => {
  tls = await throwawayCert('pool01.contoso.net')
  fe01 = await alone(spec('fe01', tls))
  fe02 = await alone(spec('fe02', tls, hostOf(fe01)))
})
t.teardown(async () => { await fe02.close(); await fe01.close() })

t.test('tickets of one server are good on the other; the application lives on fe01 for both', async (t) => {
  const fromFe02 = await token(fe02)
  const user = await call(fe01, '/Autodiscover/AutodiscoverService.svc/root/oauth/user', { headers: { accept: 'application/json', authorization: `Bearer ${fromFe02}` } })
  t.equal(user.status, 200, "fe01 accepts fe02's ticket: the key is the pool certificate's")
  const auth = { authorization: `Bearer ${await token(fe01)}` }

  const created = await call(fe02, APPS, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"userAgent":"t","endpointId":"e1","culture":"en-US"}' })
  t.equal(created.status, 201)
  t.equal(created.headers['x-lab-member'], 'fe02', 'the client talked to fe02')
  t.equal(created.headers['x-ms-server-fqdn'], 'fe02.contoso.net')
  t.equal(created.headers['x-lab-ucwa-host'], 'fe01', 'fe01 held the state')
  t.match(created.headers['set-cookie'], /^cwt_ucwa=/, "the host's Set-Cookie comes through")
  const id = created.json().id as string
  t.equal((await call(fe01, `${APPS}/${id}`, { headers: auth })).status, 200, 'fe01 has the application fe02 created')

  // The event channel held through fe02, woken on fe01.
  const held = call(fe02, `${APPS}/${id}/events?ack=1&timeout=30`, { headers: auth })
  await sleep(300)
  t.equal(fe01.triggerEvent('user1@contoso.com', { rel: 'me' }), 1, 'the P-GET is held on fe01')
  t.same((await held).json().sender, [{ rel: 'me' }])

  // A client that gives up on fe02 frees the P-GET on fe01.
  const ac = new AbortController()
  const abandoned = call(fe02, `${APPS}/${id}/events?ack=2&timeout=30`, { headers: auth, signal: ac.signal })
  await sleep(300)
  t.same(fe01.heldEventTimeouts(), [30])
  ac.abort()
  await t.rejects(abandoned)
  for (let i = 0; i < 50 && fe01.heldEventTimeouts().length > 0; i++) await sleep(100)
  t.same(fe01.heldEventTimeouts(), [], 'nothing left held on fe01')

  // POST /lab/events on fe02 reaches the channels on fe01.
  const next = call(fe01, `${APPS}/${id}/events?ack=2&timeout=30`, { headers: auth })
  await sleep(300)
  const fired = await call(fe02, '/lab/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sipUri":"user1@contoso.com","event":{"rel":"via-fe02"}}' })
  t.same(fired.json(), { woken: 1 })
  t.same((await next).json().sender, [{ rel: 'via-fe02' }])

  const deleted = await call(fe02, `${APPS}/${id}`, { method: 'DELETE', headers: auth })
  t.equal(deleted.status, 204)
  t.equal((await call(fe01, `${APPS}/${id}`, { headers: auth })).status, 404, 'deleted on fe01')
})

t.test('a host that does not answer, or answers with another certificate: 503 in UCWA\'s body', async (t) => {
  const closed = net.createServer().listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as net.AddressInfo).port
  closed.close()
  const orphan = await alone(spec('fe03', tls, { member: 'fe09', address: '127.0.0.1', sites: [{ kind: 'external', protocol: 'https', port }] }))
  t.teardown(() => orphan.close())
  const r = await call(orphan, APPS, { method: 'POST', headers: { authorization: `Bearer ${await token(orphan)}` }, body: '{}' })
  t.equal(r.status, 503)
  t.same(r.json(), { code: 'ServiceFailure', message: "This pool's UCWA host (fe09) did not answer." })

  // A server with another certificate is not trusted as the host: it gets no request, and so no ticket.
  const impostorCert = await throwawayCert('pool01.contoso.net')
  const received: Buffer[] = []
  const impostor = tlsServer({ cert: impostorCert.cert, key: impostorCert.key }, (socket) => { socket.on('data', (d: Buffer) => received.push(d)); socket.on('error', () => {}) })
  impostor.listen(0, '127.0.0.1')
  await once(impostor, 'listening')
  t.teardown(() => impostor.close())
  const impostorPort = (impostor.address() as net.AddressInfo).port
  const stranger = await alone(spec('fe04', tls, { member: 'fe01', address: '127.0.0.1', sites: [{ kind: 'external', protocol: 'https', port: impostorPort }] }))
  t.teardown(() => stranger.close())
  const refused = await call(stranger, APPS, { method: 'POST', headers: { authorization: `Bearer ${await token(fe01)}`, 'content-type': 'application/json' }, body: '{"userAgent":"t","endpointId":"x","culture":"en-US"}' })
  t.equal(refused.status, 503, 'the pinned certificate does not match')
  await sleep(200)
  t.equal(Buffer.concat(received).length, 0, 'not one byte of the request reached the impostor')
})

t.test('run alone from config/compose.yaml, fe02 passes UCWA to fe01; fe01 and the Directors hold their own', async (t) => {
  const loaded = await loadConfigFile(new URL('../config/compose.yaml', import.meta.url).pathname)
  const config = { ...loaded.config, certs: { ...loaded.config.certs, dir: t.testdir() } }
  const specs = standInSpecs(config, await ensureLabCertificates(labCertificateRequest(config)))
  const host = ucwaHostOf(config, specs, 'fe02')
  t.match(host, { member: 'fe01', address: 'fe01' }, "fe01's address as the config gives it: its container name")
  t.same(host?.sites.map((s) => `${s.kind} ${s.protocol} ${s.port}`), ['internal http 80', 'internal https 443', 'external http 8080', 'external https 4443'])
  for (const member of ['fe01', 'dir01', 'dir02', 'owas01']) t.equal(ucwaHostOf(config, specs, member), undefined, member)
})
