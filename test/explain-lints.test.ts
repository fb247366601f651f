// `lyncproxy check`'s Lync lints: each one fires on the setting it is about, with its reason and the
// place in the file, and the shipped configs are clean.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { runCheck, type CheckIO } from '../src/cli/check.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

async function check (file: string): Promise<{ code: number, out: string, warnings: string[] }> {
  const captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env: {},
  }
  // The lints are about the config's settings; the PEM files it names are not there.
  const code = await runCheck(['-c', file, '--skip-certificates'], io)
  return { code, out: captured.out, warnings: captured.err.split('\n').filter((l) => l !== '') }
}

// A clean external setup in the shape of the example deployment, with PEM certificates (which the
// check above skips); each test changes one thing.
const BASE = {
  listeners: `listeners:
  - { name: web-http, protocol: http, port: 80 }
  - { name: web-https, protocol: https, port: 443, certificates: [{ cert: webext.pem, key: webext.key }] }`,
  pools: `pools:
  fe: { role: frontend, fqdn: pool01.contoso.net, externalWebFqdn: webext.contoso.com }
  dir: { role: director, fqdn: dirpool.contoso.net, externalWebFqdn: webdirext.contoso.com }
  owas: { role: owas, fqdn: owas01.contoso.net, httpPort: 80, httpsPort: 443 }`,
  rules: [
    '  - { name: deny-admin, publicNames: [admin.contoso.com], action: deny }',
    '  - { name: lyncdiscover-http, publicNames: [lyncdiscover.contoso.com], listeners: [web-http], action: forward, pool: dir }',
    '  - { name: lyncdiscover, publicNames: [lyncdiscover.contoso.com], listeners: [web-https], action: forward, pool: dir }',
    '  - { name: webext-longpoll, publicNames: [webext.contoso.com], paths: [/ucwa, /mcx], listeners: [web-https], action: forward, pool: fe, timeouts: { response: 960 }, longPoll: true }',
    '  - { name: webext, publicNames: [webext.contoso.com], listeners: [web-https], action: forward, pool: fe }',
    '  - { name: director, publicNames: [webdirext.contoso.com, meet.contoso.com, dialin.contoso.com], listeners: [web-https], action: forward, pool: dir }',
    '  - { name: office-web-apps, publicNames: [officewebapps01.contoso.com], listeners: [web-https], action: forward, pool: owas }',
  ],
}

function config (o: { listeners?: string, pools?: string, rules?: string[], extra?: string } = {}): string {
  return [o.listeners ?? BASE.listeners, o.pools ?? BASE.pools, 'rules:', ...(o.rules ?? BASE.rules), o.extra ?? ''].join('\n') + '\n'
}

async function lint (t: Test, text: string): Promise<{ code: number, warnings: string[], file: string }> {
  const dir = t.testdir({ 'proxy.yaml': text })
  const file = path.join(dir, 'proxy.yaml')
  const r = await check(file)
  t.equal(r.code, 0, 'lints warn; the file stays valid')
  t.match(r.out, /^OK: /)
  return { code: r.code, warnings: r.warnings, file }
}

t.test('the shipped configs and the clean base raise no lint', async (t) => {
  for (const name of ['config/lab.yaml', 'config/example-deployment.yaml']) {
    const r = await check(path.join(root, name))
    t.equal(r.code, 0)
    t.same(r.warnings, [], name)
  }
  t.same((await lint(t, config())).warnings, [])
})

t.test('HTTPS bridged to 443 of a Lync pool (the seed\'s 4443 warning)', async (t) => {
  const r = await lint(t, config({ pools: BASE.pools.replace('externalWebFqdn: webext.contoso.com }', 'externalWebFqdn: webext.contoso.com, httpsPort: 443 }') }))
  t.equal(r.warnings.length, 2, 'one per rule to that pool')
  t.match(r.warnings[0], `warning: ${r.file} at /rules/3: rule webext-longpoll bridges HTTPS from listener web-https to port 443 of pool fe (role frontend). Why: Lync's external web services listen on 4443; port 443 is the pool's internal web site.`)
  t.match(r.warnings[0], /Set pools\.fe\.httpsPort \(or the rule's bridge\) to 4443; only Office Web Apps \(role: owas\) takes 443 \[bridge-443-to-443\]$/)
  t.match(r.warnings[1], /at \/rules\/4: rule webext bridges HTTPS/)

  const bridged = await lint(t, config({ rules: BASE.rules.map((l) => l.replace('name: director,', 'name: director, bridge: { https: 443 },')) }))
  t.same(bridged.warnings.map((w) => /\[(.*)\]$/.exec(w)?.[1]), ['bridge-443-to-443'], 'a bridge override too')
  t.match(bridged.warnings[0], /rule director bridges HTTPS .* pool dir \(role director\)/)
})

t.test('an HLB VIP listener may send 80/443 to the servers\' internal site', async (t) => {
  const r = await lint(t, config({
    listeners: BASE.listeners + '\n  - { name: vip-https, protocol: https, interface: internal, address: 127.0.1.2, port: 443, certificates: [{ cert: dir.pem, key: dir.key }] }',
    rules: [...BASE.rules.map((l) => l.replace('action: deny }', 'listeners: [web-http, web-https], action: deny }')), "  - { name: hlb, publicNames: ['*'], listeners: [vip-https], action: forward, pool: dir, bridge: { https: 443 } }"],
  }))
  t.same(r.warnings, [])
})

t.test('lyncdiscover redirected on port 80 (the mobility HTTP first hop)', async (t) => {
  const r = await lint(t, config({ rules: BASE.rules.filter((l) => !l.includes('lyncdiscover-http')) }))
  t.equal(r.warnings.length, 1)
  t.match(r.warnings[0], `at /listeners/0/redirectToHttps: lyncdiscover.contoso.com is redirected to HTTPS on listener web-http (port 80). Why: Lync mobile clients start autodiscover with http://lyncdiscover.contoso.com (the "HTTP first hop").`)
  t.match(r.warnings[0], /forward it on port 80 to the pool's 8080 with a forward rule on web-http, listed first \[lyncdiscover-redirected\]$/)

  // With the lab certificate every published name is a SAN, so the redirect is safe.
  const lab = await lint(t, config({
    listeners: BASE.listeners.replace('certificates: [{ cert: webext.pem, key: webext.key }]', 'certificates: [{ lab: true }]'),
    rules: BASE.rules.filter((l) => !l.includes('lyncdiscover-http')),
  }))
  t.same(lab.warnings, [])
})

t.test('meet or dialin missing', async (t) => {
  const r = await lint(t, config({ rules: BASE.rules.map((l) => l.replace(', dialin.contoso.com', '')) }))
  t.equal(r.warnings.length, 1)
  t.match(r.warnings[0], /at \/rules: dialin\.contoso\.com is not published on an https listener, so no certificate of this proxy serves it\. Why: The dial-in conferencing page \(https:\/\/dialin\.contoso\.com\) must be published on 443/)
  t.match(r.warnings[0], /Add dialin\.contoso\.com to a forward rule's publicNames and to the certificate's SANs \[simple-url-missing\]$/)

  // A second SIP domain is known by its lyncdiscover name.
  const fabrikam = await lint(t, config({ rules: BASE.rules.map((l) => l.replace('publicNames: [lyncdiscover.contoso.com]', 'publicNames: [lyncdiscover.contoso.com, lyncdiscover.fabrikam.com]')) }))
  t.same(fabrikam.warnings.map((w) => /: ([a-z.]+) is not published/.exec(w)?.[1]), ['meet.fabrikam.com', 'dialin.fabrikam.com'])
})

t.test('admin.<domain> published', async (t) => {
  const wildcard = await lint(t, config({ rules: [...BASE.rules.slice(1), "  - { name: everything, publicNames: ['*.contoso.com'], listeners: [web-https], action: forward, pool: fe }"] }))
  t.equal(wildcard.warnings.length, 1)
  t.match(wildcard.warnings[0], /at \/rules\/6: admin\.contoso\.com is forwarded by rule everything on listener web-https\. Why: admin\.contoso\.com is the Lync Server Control Panel simple URL, for internal use only/)
  t.match(wildcard.warnings[0], /\[admin-published\]$/)
  // The deny rule listed first keeps it in.
  t.same((await lint(t, config({ rules: [...BASE.rules, "  - { name: everything, publicNames: ['*.contoso.com'], listeners: [web-https], action: forward, pool: fe }"] }))).warnings, [])
})

t.test('a long poll with a response timeout under 900 s', async (t) => {
  const r = await lint(t, config({ rules: BASE.rules.map((l) => l.replace('timeouts: { response: 960 }', 'timeouts: { response: 600 }')) }))
  t.equal(r.warnings.length, 1)
  t.match(r.warnings[0], /at \/rules\/3\/timeouts\/response: rule webext-longpoll carries \/ucwa, \/mcx with a response timeout of 600 s\. Why: UCWA event channels and Mcx hold a GET open for up to 900 s/)
  t.match(r.warnings[0], /\[long-poll-timeout\]$/)

  // No dedicated rule: the catch-all on the Front End's external name carries them with 120 s.
  const catchAll = await lint(t, config({ rules: BASE.rules.filter((l) => !l.includes('webext-longpoll')) }))
  t.equal(catchAll.warnings.length, 2)
  t.match(catchAll.warnings[0], /at \/rules\/3\/timeouts\/response: rule webext carries webext\.contoso\.com\/ucwa with a response timeout of 120 s/)
  t.match(catchAll.warnings[1], /at \/rules\/3: rule webext carries webext\.contoso\.com\/ucwa but is not marked longPoll: true\. .*\[long-poll-unmarked\]$/)
})

t.test('a long-poll rule not marked longPoll', async (t) => {
  const r = await lint(t, config({ rules: BASE.rules.map((l) => l.replace(', longPoll: true', '')) }))
  t.equal(r.warnings.length, 1)
  t.match(r.warnings[0], /at \/rules\/3: rule webext-longpoll carries \/ucwa, \/mcx but is not marked longPoll: true\. Why: .* share the 128 connections per server of pools\.fe\.maxSockets with all other requests/)
  t.match(r.warnings[0], /\[long-poll-unmarked\]$/)
  // The cap the warning names is the pool's own.
  const sized = await lint(t, config({
    pools: BASE.pools.replace('externalWebFqdn: webext.contoso.com }', 'externalWebFqdn: webext.contoso.com, maxSockets: 512 }'),
    rules: BASE.rules.map((l) => l.replace(', longPoll: true', '')),
  }))
  t.match(sized.warnings[0], /share the 512 connections per server of pools\.fe\.maxSockets/)
})

t.test('an admin plane open to the network without a token', async (t) => {
  const open = await lint(t, config({ extra: 'admin:\n  address: 0.0.0.0' }))
  t.equal(open.warnings.length, 1)
  t.match(open.warnings[0], /at \/admin\/address: the admin plane listens on 0\.0\.0\.0:9090 without a token\. Why: .* \[admin-exposed\]$/)
  t.same((await lint(t, config({ extra: 'admin:\n  address: 0.0.0.0\n  tokenEnv: LYNCPROXY_ADMIN_TOKEN' }))).warnings, [])
  t.same((await lint(t, config({ extra: 'admin:\n  enabled: false\n  address: 0.0.0.0' }))).warnings, [])
})
