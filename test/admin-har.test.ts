// GET /api/flows.har on a running lab: a HAR 1.2 log (the fields the format requires, with their
// types) of real exchanges through the proxy, the response side included (the 401 challenge a
// teacher shows), the rule and member in custom fields, and no credential in the file. Then a HAR
// consumer we did not write, Grafana's har-to-k6, reads the file and turns it into a load script.
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import t from 'tap'
import { startLab } from '../src/index.js'

// har-to-k6 is CommonJS whose exports Node cannot list for an ES import.
const { liHARToK6Script, validate } = createRequire(import.meta.url)('har-to-k6') as typeof import('har-to-k6')

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-har-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))

interface Header { name: string, value: string }
type Entry = Record<string, unknown> & {
  request: Record<string, unknown> & { headers: Header[], url: string, method: string }
  response: Record<string, unknown> & { headers: Header[], status: number, content: { size: number, mimeType: string } }
  timings: Record<string, number>
  _rule: string
  _member: string
  _upstream: string
}

t.test('the HAR export of a lab session', async (t) => {
  const lab = await startLab({ certsDir: path.join(work, 'certs'), admin: true })
  t.teardown(() => lab.close())
  const secret = 'cwt=AAEBHAEFAAAAAAAFFQAAAC0o1dWz4GYWaC'
  const root = await lab.fetch(`${lab.urls['lyncdiscover.contoso.com']!}/?sipuri=user1@contoso.com`, { headers: { accept: 'application/json' } })
  const { _links } = await root.json() as { _links: { user: { href: string } } }
  const challenge = await lab.fetch(_links.user.href, { headers: { accept: 'application/json', cookie: `MS-WSMAN=${secret}` } })
  await challenge.arrayBuffer()
  // A name the lab does not publish (the lab's dispatcher would not even connect it), with a
  // credential: answered by the proxy itself.
  await new Promise<void>((resolve, reject) => {
    http.get({ host: lab.http!.address, port: lab.http!.port, path: '/not-published-here/', headers: { host: 'intranet.contoso.com', authorization: `Bearer ${secret}` } }, (res) => {
      res.resume().on('end', resolve)
    }).on('error', reject)
  })

  const res = await fetch(new URL('/api/flows.har', lab.adminUrl))
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type') ?? '', /^application\/json/)
  t.equal(res.headers.get('content-disposition'), 'attachment; filename="lyncproxy-flows.har"', 'a download')
  const text = await res.text()
  t.notOk(text.includes(secret), 'no credential value anywhere in the file')
  const har = JSON.parse(text) as { log: { version: string, creator: { name: string, version: string }, entries: Entry[] } }
  t.equal(har.log.version, '1.2')
  t.equal(har.log.creator.name, 'lyncproxy')
  t.match(har.log.creator.version, /^\d+\.\d+\.\d+/)

  // The fields HAR 1.2 requires of every entry, with their types.
  for (const e of har.log.entries) {
    t.ok(!Number.isNaN(Date.parse(e.startedDateTime as string)), 'startedDateTime is an ISO date')
    t.type(e.time, 'number')
    for (const k of ['method', 'url', 'httpVersion']) t.type(e.request[k], 'string', `request.${k}`)
    for (const k of ['cookies', 'headers', 'queryString']) t.ok(Array.isArray(e.request[k]), `request.${k} is a list`)
    for (const k of ['headersSize', 'bodySize']) t.type(e.request[k], 'number', `request.${k}`)
    t.type(e.response.status, 'number')
    for (const k of ['statusText', 'httpVersion', 'redirectURL']) t.type(e.response[k], 'string', `response.${k}`)
    for (const k of ['cookies', 'headers']) t.ok(Array.isArray(e.response[k]), `response.${k} is a list`)
    t.type(e.response.content.size, 'number')
    t.type(e.response.content.mimeType, 'string')
    t.type(e.cache, 'object')
    for (const k of ['send', 'wait', 'receive']) t.type(e.timings[k], 'number', `timings.${k}`)
    t.ok(e.timings.send! >= 0 && e.timings.wait! >= 0 && e.timings.receive! >= 0, 'required timings are not negative')
    for (const h of [...e.request.headers, ...e.response.headers]) t.ok(typeof h.name === 'string' && typeof h.value === 'string', 'headers are name/value pairs')
  }

  const byPath = (p: string): Entry | undefined => har.log.entries.find((e) => new URL(e.request.url).pathname + new URL(e.request.url).search === p)
  const discover = byPath('/?sipuri=user1@contoso.com')
  t.ok(discover, 'the autodiscover request is in the log')
  t.equal(discover?.response.status, 200)
  t.equal(new URL(discover!.request.url).protocol, 'https:')
  t.same(discover?.request.queryString, [{ name: 'sipuri', value: 'user1@contoso.com' }])
  t.match(discover?.response.content.mimeType, /json/)

  const user = har.log.entries.find((e) => e.response.status === 401)
  t.ok(user, 'the 401 of the user resource')
  // lyncdiscover is the Director, whose user link is its own; the first 401 logged is the HLB's hop
  // (lyncproxy is the Director VIP too), which names the Director server that answered.
  t.match(user?._member, /^dir0[12]$/, 'the member that answered, in a custom field')
  t.equal(user?._rule, 'dir-hlb-external', `the rule of that hop (${String(user?._rule)})`)
  const challenges = user?.response.headers.filter((h) => h.name.toLowerCase() === 'www-authenticate').map((h) => h.value) ?? []
  t.ok(challenges.some((v) => v.startsWith('MsRtcOAuth')), `the challenge, from the response side: ${JSON.stringify(challenges)}`)
  t.ok(user?.response.headers.some((h) => h.name.toLowerCase() === 'x-ms-webticketurl'), 'and where to get a web ticket')
  t.match(user?.request.headers.find((h) => h.name.toLowerCase() === 'cookie')?.value, /^MS-WSMAN=\[\d+ characters hidden\]$/, 'the session cookie is masked, its name kept')

  const notFound = byPath('/not-published-here/')
  t.equal(notFound?.response.status, 404, 'a request the proxy answered itself is there too')
  t.equal(notFound?._upstream, '', 'and names no upstream')
  t.equal(new URL(notFound!.request.url).host, 'intranet.contoso.com')
  t.match(notFound?.request.headers.find((h) => h.name.toLowerCase() === 'authorization')?.value, /^Bearer \[\d+ characters hidden\]$/, 'the scheme stays, the token is masked')

  // har-to-k6 checks the archive against its reading of HAR 1.2 (dates, statuses, header and query
  // lists, timings) before it converts; a file it refuses is one a client developer cannot replay.
  t.doesNotThrow(() => validate(har as unknown as Parameters<typeof validate>[0]), 'har-to-k6 accepts the file')
  const { main } = await liHARToK6Script(har as unknown as Parameters<typeof liHARToK6Script>[0])
  for (const url of [discover!.request.url, notFound!.request.url]) t.ok(main.includes(`'${url}'`), `the k6 script requests ${url}`)
  t.match(main, /import http from 'k6\/http'[\s\S]*response = http\.get\(/, 'as k6 requests')
})
