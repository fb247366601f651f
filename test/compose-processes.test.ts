// docker-compose.yml's topology as what it is, since this machine has no container engine: one
// process per service, each with its command from the file, the addresses compose would give it
// (those the file fixes, the others from its network's subnet in order, as compose's address
// management does) and the other services' names in a hosts file (compose's DNS), all inside a
// private user, network, mount and PID namespace (helpers/netns.ts), so that 80, 443, 5061 and the
// 172.30/172.31 addresses exist nowhere else. The certs service runs first, into the shared
// volume's path. Then the probe runs against the proxy's external address as an Internet client
// would, and the Director HLB's layer-4 ports are tried.
//
// The one difference from the containers: here the services share one port space, where each
// container has its own, so a stand-in's `--address 0.0.0.0` becomes the service's own address.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import YAML from 'yaml'
import { CLI_MAIN, REPO, cleanEnv } from './helpers/cli.js'
import { echoGreetingsLine, namespaceProblem, readOrNone, runInNamespace, shellQuote as quote } from './helpers/netns.js'

interface Service { command: string[], networks?: string[] | Record<string, { ipv4_address?: string } | null> }
interface ComposeFile { services: Record<string, Service>, networks: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } }> }

const compose = YAML.parse(fs.readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8')) as ComposeFile
const unavailable = namespaceProblem('ip link set lo up && ip addr add 172.30.0.2/32 dev lo && mount -t tmpfs tmpfs /var/lib && mount --bind /dev/null /etc/hosts')
// Bounded: a busy 2-core machine starts seven node processes and runs the probe well within it.
const RUN_TIMEOUT_MS = 240_000

// Each service's address on each of its networks: fixed ones first, then the next free host of the
// subnet from .2 up (.1 is the network's gateway), in the file's order.
function addresses (file: ComposeFile): Map<string, Map<string, string>> {
  const taken = new Set<string>()
  const out = new Map<string, Map<string, string>>()
  const networksOf = (s: Service): Array<[string, string | undefined]> => Array.isArray(s.networks)
    ? s.networks.map((n) => [n, undefined])
    : Object.entries(s.networks ?? {}).map(([n, v]) => [n, v?.ipv4_address])
  for (const [name, service] of Object.entries(file.services)) {
    for (const [network, fixed] of networksOf(service)) {
      if (fixed === undefined) continue
      taken.add(fixed)
      out.set(name, (out.get(name) ?? new Map()).set(network, fixed))
    }
  }
  for (const [name, service] of Object.entries(file.services)) {
    for (const [network, fixed] of networksOf(service)) {
      if (fixed !== undefined) continue
      const subnet = file.networks[network]?.ipam?.config?.[0]?.subnet
      const prefix = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet ?? '')?.[1]
      if (prefix === undefined) throw new Error(`network ${network}: this test reads /24 subnets only, not ${subnet ?? 'none'}`)
      let host = 2
      while (taken.has(`${prefix}.${host}`)) host++
      taken.add(`${prefix}.${host}`)
      out.set(name, (out.get(name) ?? new Map()).set(network, `${prefix}.${host}`))
    }
  }
  return out
}

t.test('the compose topology as processes: the probe passes through it, and the HLB reaches both Directors', { skip: unavailable ?? false, timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const byService = addresses(compose)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-compose-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const hosts = ['127.0.0.1 localhost', ...[...byService].map(([name, nets]) => `${[...nets.values()][0]!} ${name}`)].join('\n') + '\n'
  fs.writeFileSync(path.join(dir, 'hosts'), hosts)

  const node = (args: string[]): string => `node ${quote(CLI_MAIN)} ${args.map(quote).join(' ')}`
  const script: string[] = [
    'ip link set lo up',
    ...[...new Set([...byService.values()].flatMap((n) => [...n.values()]))].map((a) => `ip addr add ${a}/32 dev lo`),
    `mount --bind ${quote(path.join(dir, 'hosts'))} /etc/hosts`,
    // The certs volume: config/compose.yaml keeps the certificates under /var/lib/lyncproxy.
    'mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/lyncproxy/certs',
    `cd ${quote(REPO)}`,
    // Any HTTP answer, or a bounded wait that fails the run.
    'answers () { i=0; until curl -s -o /dev/null --max-time 2 "$@"; do i=$((i+1)); [ $i -lt 150 ] || { echo "no answer: $*" >&2; return 1; }; sleep 0.2; done; }',
  ]
  const services = Object.entries(compose.services)
  const certs = services.find(([name]) => name === 'certs')
  t.ok(certs, 'a certs service')
  script.push(`${node(certs![1].command)} > ${quote(path.join(dir, 'certs.log'))} 2>&1`)
  const servers = services.filter(([name, s]) => name !== 'certs' && s.command[0] === 'standin')
  for (const [name, service] of servers) {
    const own = [...byService.get(name)!.values()][0]!
    const command = service.command.map((a, i) => service.command[i - 1] === '--address' && a === '0.0.0.0' ? own : a)
    script.push(`${node(command)} > ${quote(path.join(dir, `${name}.log`))} 2>&1 &`)
  }
  for (const [name] of servers) script.push(`answers http://${[...byService.get(name)!.values()][0]!}/`)
  const proxy = services.find(([, s]) => s.command[0] === 'start')!
  const external = byService.get(proxy[0])!.get('external')!
  const internal = byService.get(proxy[0])!.get('internal')!
  const ca = '/var/lib/lyncproxy/certs/lab-ca.pem'
  script.push(
    `${node(proxy[1].command)} > ${quote(path.join(dir, 'lyncproxy.log'))} 2>&1 &`,
    `answers --cacert ${ca} --resolve webext.contoso.com:443:${external} https://webext.contoso.com/`,
    `${node(['probe', '--target', external, '--ca', ca, '--user', 'user1@contoso.com', '--password', 'Pass@word1', '--json'])} > ${quote(path.join(dir, 'probe.json'))} || echo $? > ${quote(path.join(dir, 'probe.rc'))}`,
    // The HLB's layer-4 side: the SIP port, four connections, the first line each echo says.
    echoGreetingsLine({ host: internal, port: '5061', servername: 'dirpool.contoso.net', ca, count: 4, file: path.join(dir, 'sip.txt') }),
  )
  const { code, output } = await runInNamespace(dir, script, RUN_TIMEOUT_MS, cleanEnv())
  const log = (name: string): string => readOrNone(path.join(dir, name))
  const logs = (): string => ['certs', ...servers.map(([n]) => n), 'lyncproxy'].map((n) => `--- ${n}.log\n${log(`${n}.log`)}`).join('\n')
  t.equal(code, 0, 'the run finished', { output, logs: logs() })

  for (const [name] of servers) t.match(log(`${name}.log`), new RegExp(`^${name}: external site https://`, 'm'), `${name} started`)
  t.match(log('dir01.log'), /^dir01: echo tls:\/\/172\.30\.0\.21:5061$/m, 'a Director also runs its layer-4 echoes')
  t.match(log('fe02.log'), /^fe02: UCWA requests go to fe01/m, 'fe02 passes UCWA to fe01')

  const results = JSON.parse(log('probe.json')) as Array<{ check: string, name: string, result: string, detail: string }>
  t.equal(log('probe.rc'), '(none)', 'the probe exits 0')
  t.same(results.filter((r) => r.result !== 'PASS').map((r) => `${r.result} ${r.check} ${r.name}: ${r.detail}`), [], 'every check passes')
  for (const check of ['tls', 'lyncdiscover-http', 'user-resource', 'ucwa-signin', 'ntlm-handshake', 'meet', 'owas-discovery', 'http-redirect']) {
    t.ok(results.some((r) => r.check === check), `${check} was run`)
  }
  const sip = log('sip.txt').trim().split('\n')
  t.equal(sip.length, 4)
  t.same([...new Set(sip)].sort(), ['dir01 5061', 'dir02 5061'], 'the VIP\'s 5061 reaches both Director processes, TLS end to end')
})
