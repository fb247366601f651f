// `lyncproxy ports`: for config/lab.yaml the firewall tables hold every row of Microsoft's two port
// summaries (the seed documents, in Chinese), row by row, in their columns and in English; topologies
// without an HLB list the layer-4 rows as not served; the three output formats.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { CheckIO } from '../src/cli/check.js'
import { runPorts } from '../src/cli/ports.js'
import type { PortTable } from '../src/ports/ports.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LAB = path.join(root, 'config/lab.yaml')
const EXAMPLE = path.join(root, 'config/example-deployment.yaml')
const SEEDS = process.env.LYNCPROXY_SEEDS_DIR ?? path.resolve(root, '../shared/seeds')

// The rows of the seed tables as the documents have them: "Port summary - Reverse proxy" (external,
// then internal interface) and the Director table of "Port summary - DNS and HLB load balanced".
const SEED_ROWS: Array<[string, string, string, string]> = [
  ['HTTP/TCP/80', '任意', '反向代理侦听器', '（可选）如果用户输入 http:// <publishedSiteFQDN> ，则重定向到 HTTPS。 在组织不需要修改外部 Web 服务发布规则证书的情况下对运行 Lync 的移动设备使用用于会议的 Office Web Apps 和自动发现服务时也是必需的。'],
  ['HTTPS/TCP/443', '任意', '反向代理侦听器', '通讯簿下载、通讯簿 Web 查询服务、自动发现、客户端更新、会议内容、设备更新、组扩展、会议用 Office Web Apps 和电话拨入式会议。'],
  ['HTTP/TCP/8080', '内部反向代理接口', '前端服务器、 前端池、 控制器、 控制器池', '在组织不需要修改外部 Web 服务发布规则证书时对运行 Lync 的移动设备使用自动发现服务时是必需的。 发送到反向代理外部接口上的端口 80 的流量将从反向代理内部接口重定向到端口 8080 上的池，以便池 Web 服务可将其与内部 Web 流量区分开来。'],
  ['HTTPS/TCP/4443', '内部反向代理接口', '前端服务器、 前端池、 控制器、 控制器池', '发送到反向代理外部接口上的端口 443 的流量将从反向代理内部接口重定向到端口 4443 上的池，以便池 Web 服务可将其与内部 Web 流量区分开来。'],
  ['HTTPS/TCP/443', '内部反向代理接口', '用于会议的 Office Web Apps', ''],
  ['HTTP/TCP 8080', '反向代理内部接口', '控制器硬件负载平衡器 VIP', '通信最初是由反向代理的外部端进行接收，系统会将其发送到 控制器 HLB VIP 和 前端服务器 Web 服务上。'],
  ['HTTPS/TCP 4443', '反向代理内部接口', '控制器硬件负载平衡器 VIP', '通信最初是由反向代理的外部端进行接收，系统会将其发送到 控制器 HLB VIP 和 前端服务器 Web 服务上。'],
  ['HTTPS/TCP 444', '控制器', '前端池 或 前端服务器', '控制器 HLB VIP 与一个 前端服务器或多个 前端服务器之间的服务器间通信。'],
  ['HTTP/TCP 80', '内部客户端', '控制器硬件负载平衡器 VIP', '控制器会将 Web 服务提供给内部以及外部客户端。'],
  ['HTTPS/TCP 443', '内部客户端', '控制器硬件负载平衡器 VIP', '控制器会将 Web 服务提供给内部以及外部客户端。'],
  ['SIP/MTLS/TCP 5061', '边缘服务器内部接口', '控制器', '从边缘服务器到 控制器以及 前端服务器的 SIP 通信。'],
  ['MTLS/TCP/50001', '任意', '控制器', '集中日志记录服务控制器 (ClsController.exe) 或代理 (ClsAgent.exe) 命令和日志集合'],
  ['MTLS/TCP/50002', '任意', '控制器', '集中日志记录服务控制器 (ClsController.exe) 或代理 (ClsAgent.exe) 命令和日志集合'],
  ['MTLS/TCP/50003', '任意', '控制器', '集中日志记录服务控制器 (ClsController.exe) 或代理 (ClsAgent.exe) 命令和日志集合'],
]

// Each Chinese cell and its English, as lyncproxy prints it.
const ENGLISH: Record<string, string> = {
  任意: 'Any',
  反向代理侦听器: 'Reverse proxy listener',
  内部反向代理接口: 'Internal reverse proxy interface',
  反向代理内部接口: 'Reverse proxy internal interface',
  '前端服务器、 前端池、 控制器、 控制器池': 'Front End Server, Front End pool, Director, Director pool',
  '用于会议的 Office Web Apps': 'Office Web Apps for conferencing',
  '控制器硬件负载平衡器 VIP': 'Director hardware load balancer VIP',
  控制器: 'Director',
  '前端池 或 前端服务器': 'Front End pool or Front End Server',
  内部客户端: 'Internal clients',
  边缘服务器内部接口: 'Edge Server internal interface',
  '': '',
  '（可选）如果用户输入 http:// <publishedSiteFQDN> ，则重定向到 HTTPS。 在组织不需要修改外部 Web 服务发布规则证书的情况下对运行 Lync 的移动设备使用用于会议的 Office Web Apps 和自动发现服务时也是必需的。':
    '(Optional) Redirection to HTTPS if the user enters http://<publishedSiteFQDN>. Also required when using Office Web Apps for conferencing and the Autodiscover service for mobile devices running Lync in situations where the organization does not want to modify the external web services publishing rule certificate.',
  '通讯簿下载、通讯簿 Web 查询服务、自动发现、客户端更新、会议内容、设备更新、组扩展、会议用 Office Web Apps 和电话拨入式会议。':
    'Address book downloads, Address Book Web Query service, Autodiscover, client updates, meeting content, device updates, group expansion, Office Web Apps for conferencing, and dial-in conferencing.',
  '在组织不需要修改外部 Web 服务发布规则证书时对运行 Lync 的移动设备使用自动发现服务时是必需的。 发送到反向代理外部接口上的端口 80 的流量将从反向代理内部接口重定向到端口 8080 上的池，以便池 Web 服务可将其与内部 Web 流量区分开来。':
    'Required when using the Autodiscover service for mobile devices running Lync when the organization does not want to modify the external web services publishing rule certificate. Traffic sent to port 80 on the reverse proxy external interface is redirected to a pool on port 8080 from the reverse proxy internal interface so that the pool web services can distinguish it from internal web traffic.',
  '发送到反向代理外部接口上的端口 443 的流量将从反向代理内部接口重定向到端口 4443 上的池，以便池 Web 服务可将其与内部 Web 流量区分开来。':
    'Traffic sent to port 443 on the reverse proxy external interface is redirected to a pool on port 4443 from the reverse proxy internal interface so that the pool web services can distinguish it from internal web traffic.',
  '通信最初是由反向代理的外部端进行接收，系统会将其发送到 控制器 HLB VIP 和 前端服务器 Web 服务上。':
    'Communication is initially received by the external side of the reverse proxy and is sent on to the Director HLB VIP and the Front End Server web services.',
  '控制器 HLB VIP 与一个 前端服务器或多个 前端服务器之间的服务器间通信。':
    'Inter-server communication between the Director HLB VIP and the Front End Server or Front End Servers.',
  '控制器会将 Web 服务提供给内部以及外部客户端。': 'The Director provides web services to internal as well as external clients.',
  '从边缘服务器到 控制器以及 前端服务器的 SIP 通信。': 'SIP communication from the Edge Server to the Director and the Front End Servers.',
  '集中日志记录服务控制器 (ClsController.exe) 或代理 (ClsAgent.exe) 命令和日志集合':
    'Centralized Logging Service controller (ClsController.exe) or agent (ClsAgent.exe) commands and log collection',
}

// The Director table writes "HTTP/TCP 8080"; lyncproxy writes every row as "HTTP/TCP/8080".
const protocolOf = (cell: string): string => cell.replace(' ', '/')

function english (cell: string): string {
  const e = ENGLISH[cell]
  if (e === undefined) throw new Error(`no translation for '${cell}'`)
  return e
}

async function ports (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  const captured = { out: '', err: '' }
  const io: CheckIO = {
    stdout: { write: (s: string) => { captured.out += s } },
    stderr: { write: (s: string) => { captured.err += s } },
    env: {},
  }
  const code = await runPorts(argv, io)
  return { code, ...captured }
}

async function tables (argv: string[]): Promise<PortTable[]> {
  const r = await ports([...argv, '--format', 'json'])
  if (r.code !== 0) throw new Error(r.err)
  return (JSON.parse(r.out) as { tables: PortTable[] }).tables
}

t.test('the rows above are the seed documents\' rows', { skip: fs.existsSync(SEEDS) ? false : `no seed documents at ${SEEDS}` }, async (t) => {
  const parsed: string[][] = []
  for (const file of fs.readdirSync(SEEDS).filter((f) => f.endsWith('.txt')).sort()) {
    const text = fs.readFileSync(path.join(SEEDS, file), 'utf8')
    for (const table of text.match(/<table>[\s\S]*?<\/table>/g) ?? []) {
      for (const tr of table.slice(table.indexOf('<tbody>')).match(/<tr[\s\S]*?<\/tr>/g) ?? []) {
        parsed.push((tr.match(/<td>[\s\S]*?<\/td>/g) ?? []).map((td) => td.replace(/<[^>]+>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/\s+/g, ' ').trim()))
      }
    }
  }
  t.same(parsed, SEED_ROWS)
})

t.test('ports -c config/lab.yaml holds every seed row, in order, in English', async (t) => {
  const out = await tables(['-c', LAB])
  t.same(out.map((x) => x.title), [
    'Firewall details for the reverse proxy server: external interface',
    'Firewall details for the reverse proxy server: internal interface',
    'Single Director ports and protocols for firewall definitions',
  ])
  t.same(out[0]!.columns, ['Protocol/TCP or UDP/Port', 'Source IP address', 'Destination IP address', 'Description', 'lyncproxy'])
  t.same(out[2]!.columns[0], 'Role/Protocol/TCP or UDP/Port')
  const rows = out.flatMap((x) => x.rows)
  t.equal(rows.length, SEED_ROWS.length, 'one row per seed row, nothing else')
  SEED_ROWS.forEach(([protocol, source, destination, description], i) => {
    const row = rows[i]!
    t.same([row.protocol, row.source, row.destination, row.description], [protocolOf(protocol), english(source), english(destination), english(description)], `row ${i + 1}: ${protocol}`)
  })
  // The lab runs the Director's HLB too, so every row is carried by lyncproxy.
  t.ok(rows.every((r) => r.served), 'every row is served in the lab')
  t.match(rows[0]!.lyncproxy, /^listener external-http on 127\.0\.0\.1:80: lyncdiscover-http → pool dir:8080; redirects the other published names to HTTPS$/)
  t.match(rows[2]!.lyncproxy, /pool dir \(dirpool\.contoso\.net at 127\.0\.1\.2:8080\), for rules lyncdiscover-http/)
  t.match(rows[4]!.lyncproxy, /pool owas \(owas01\.contoso\.net at 127\.0\.1\.3:443\), for rules office-web-apps/)
  t.match(rows[6]!.lyncproxy, /HLB VIP listener dir-vip-ext-https on 127\.0\.1\.2:4443 → pool dir-servers \(dirpool\.contoso\.net at dir01 127\.0\.1\.21:4443, dir02 127\.0\.1\.22:4443\)/)
  t.match(rows[10]!.lyncproxy, /^HLB VIP layer-4 frontend dir-sip on 127\.0\.1\.2:5061 → pool dir-servers \(dir01 127\.0\.1\.21:5061, dir02 127\.0\.1\.22:5061\), TLS passed through$/)
  // Where the lab's layer-4 frontends are not what the seed describes, the row says so.
  t.match(rows[7]!.lyncproxy, /^HLB VIP layer-4 frontend dir-444 .*TLS passed through; the seed's 444 is the Director connecting to the Front End servers/)
  for (const i of [11, 12, 13]) t.match(rows[i]!.lyncproxy, /TLS passed through; the seed sends CLS to each Director server, on its own address/, `${rows[i]!.protocol}: says how the seed differs`)
})

t.test('without an HLB in the config the layer-4 and internal-client rows are "not served by this proxy"', async (t) => {
  const out = await tables(['-c', EXAMPLE])
  const director = out.find((x) => x.id === 'director')!
  t.same(director.rows.map((r) => [r.protocol, r.served]), [
    ['HTTP/TCP/8080', true], ['HTTPS/TCP/4443', true], ['HTTPS/TCP/444', false], ['HTTP/TCP/80', false], ['HTTPS/TCP/443', false],
    ['SIP/MTLS/TCP/5061', false], ['MTLS/TCP/50001', false], ['MTLS/TCP/50002', false], ['MTLS/TCP/50003', false],
  ])
  for (const r of director.rows.filter((x) => !x.served)) t.match(r.lyncproxy, /^not served by this proxy: /)
  const external = out.find((x) => x.id === 'external')!
  t.match(external.rows[0]!.lyncproxy, /^listener external-http on 0\.0\.0\.0:80: deny-admin denies admin\.contoso\.com, admin\.fabrikam\.com; lyncdiscover-http → pool dir:8080; redirects the other published names to HTTPS$/)
})

t.test('a bridge Microsoft\'s summary does not have gets its own row', async (t) => {
  const dir = t.testdir({
    'odd.yaml': `listeners:
  - { name: web, protocol: https, port: 443, certificates: [{ lab: true }] }
pools:
  fe: { role: frontend, fqdn: pool01.contoso.net, httpsPort: 443 }
  other: { role: other, fqdn: app.contoso.net, httpsPort: 8443 }
rules:
  - { name: webext, publicNames: [webext.contoso.com], action: forward, pool: fe }
  - { name: app, publicNames: [app.contoso.com], action: forward, pool: other }
`,
  })
  const out = await tables(['-c', path.join(dir, 'odd.yaml')])
  t.same(out.map((x) => x.id), ['external', 'internal'], 'no Director pool, no Director table')
  const internal = out[1]!.rows
  t.same(internal.map((r) => [r.seed, r.protocol]), [[null, 'HTTPS/TCP/443'], [null, 'HTTPS/TCP/8443']])
  t.match(internal[0]!.description, /Not in Microsoft's port summary, which bridges HTTPS to Front End or Director pools on port 4443/)
})

t.test('a rule that offloads TLS is listed under the HTTP bridge it really uses', async (t) => {
  const dir = t.testdir({
    'offload.yaml': `listeners:
  - { name: web, protocol: https, port: 443, certificates: [{ lab: true }] }
pools:
  fe: { role: frontend, fqdn: pool01.contoso.net }
rules:
  - { name: webext-longpoll, publicNames: [webext.contoso.com], paths: [/ucwa], action: forward, pool: fe }
  - { name: webext, publicNames: [webext.contoso.com], action: forward, pool: fe, bridge: { offloadTls: true } }
`,
  })
  const internal = (await tables(['-c', path.join(dir, 'offload.yaml')])).find((x) => x.id === 'internal')!.rows
  const row = (protocol: string): string | undefined => internal.find((r) => r.protocol === protocol)?.lyncproxy
  t.match(row('HTTP/TCP/8080'), /for rules webext$/, 'offloaded: in the clear to 8080')
  t.match(row('HTTPS/TCP/4443'), /for rules webext-longpoll$/, 'the other rule still bridges HTTPS to 4443')
})

t.test('formats: Markdown (default), CSV, JSON; usage errors', async (t) => {
  const md = await ports(['-c', LAB])
  t.equal(md.code, 0)
  t.match(md.out, /^### Firewall details for the reverse proxy server: external interface\n\n\| Protocol\/TCP or UDP\/Port \| Source IP address \| Destination IP address \| Description \| lyncproxy \|\n\|---\|---\|---\|---\|---\|\n\| HTTP\/TCP\/80 \| Any \| Reverse proxy listener \|/)
  t.equal(md.out.split('\n').filter((l) => /^\| [A-Z]+\/.*TCP\//.test(l)).length, SEED_ROWS.length)

  const csv = await ports(['-c', LAB, '--format', 'csv'])
  const lines = csv.out.trimEnd().split('\r\n')
  t.equal(lines[0], 'table,protocol,source,destination,description,lyncproxy')
  t.equal(lines.length, 1 + SEED_ROWS.length)
  t.match(lines[3], /^Firewall details for the reverse proxy server: internal interface,HTTP\/TCP\/8080,Internal reverse proxy interface,"Front End Server, Front End pool, Director, Director pool",Required when using the Autodiscover/)

  const bad = await ports(['-c', LAB, '--format', 'xml'])
  t.equal(bad.code, 64)
  t.match(bad.err, /^LRP_ERR_USAGE: unknown format 'xml'\. Fix: use --format md, csv or json/)
  const unknown = await ports(['--nope'])
  t.equal(unknown.code, 64)
  const help = await ports(['--help'])
  t.match(help.out, /^Usage: lyncproxy ports/)
})
