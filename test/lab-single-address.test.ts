// The lab on a loopback interface with 127.0.0.1 alone, as macOS has it: in a private network
// namespace whose lo carries 127.0.0.1/32 and nothing else (helpers/netns.ts), so that 127.0.1.x
// cannot be bound there. `lyncproxy lab` must see that, run every server and the Director VIP on
// 127.0.0.1 with ports of their own, say so and how to add the aliases, and still pass the probe;
// the HLB's layer-4 side must still reach both Directors.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import YAML from 'yaml'
import { CLI_MAIN, REPO, cleanEnv } from './helpers/cli.js'
import { echoGreetingsLine, namespaceProblem, readOrNone, runInNamespace, shellQuote as quote } from './helpers/netns.js'

const ONLY_127_0_0_1 = 'ip link set lo up && ip addr del 127.0.0.1/8 dev lo && ip addr add 127.0.0.1/32 dev lo'
const unavailable = namespaceProblem(ONLY_127_0_0_1)
const RUN_TIMEOUT_MS = 180_000

t.test('127.0.0.1 alone: the lab moves onto it, says so, and the probe passes', { skip: unavailable ?? false, timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-single-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const config = YAML.parse(fs.readFileSync(path.join(REPO, 'config/lab.yaml'), 'utf8')) as Record<string, unknown>
  const certs = path.join(dir, 'certs')
  config.certs = { dir: certs }
  fs.writeFileSync(path.join(dir, 'lab.yaml'), YAML.stringify(config))
  const node = (args: string[]): string => `node ${quote(CLI_MAIN)} ${args.map(quote).join(' ')}`
  const out = (name: string): string => quote(path.join(dir, name))
  const script = [
    ONLY_127_0_0_1,
    `cd ${quote(dir)}`,
    `${node(['lab', '-c', 'lab.yaml'])} > ${out('lab.log')} 2>&1 &`,
    `i=0; until grep -q 'Ctrl-C stops the lab' ${out('lab.log')}; do i=$((i+1)); [ $i -lt 600 ] || { echo 'the lab did not start' >&2; exit 1; }; sleep 0.2; done`,
    `${node(['probe', '--target', '127.0.0.1', '--ca', path.join(certs, 'lab-ca.pem'), '--user', 'user1@contoso.com', '--password', 'Pass@word1', '--json'])} > ${out('probe.json')} || echo $? > ${out('probe.rc')}`,
    // The VIP's SIP port, wherever the banner says it went: four connections, the first line of each,
    // after long enough for the pool's health checks (every 5 s, down after 2 failures) to have
    // taken a member out had they probed the wrong port.
    'sleep 12',
    `sip=$(sed -n 's|^  dir-sip *tcp://127.0.0.1:\\([0-9]*\\).*|\\1|p' ${out('lab.log')})`,
    echoGreetingsLine({ host: '127.0.0.1', port: '"$sip"', servername: 'dirpool.contoso.net', ca: path.join(certs, 'lab-ca.pem'), count: 4, file: path.join(dir, 'sip.txt') }),
  ]
  const { code, output } = await runInNamespace(dir, script, RUN_TIMEOUT_MS, cleanEnv())
  const read = (name: string): string => readOrNone(path.join(dir, name))
  const banner = read('lab.log')
  t.equal(code, 0, 'the run finished', { output, banner })

  t.match(banner, /note: this machine's loopback interface has no 127\.0\.1\.2, 127\.0\.1\.11, .*so the lab runs on 127\.0\.0\.1 alone/, 'the banner says why')
  t.match(banner, /for a in 127\.0\.1\.2 [\d. ]*127\.0\.1\.22 127\.0\.1\.3; do sudo ifconfig lo0 alias "\$a" up; done/, 'and how to add the addresses')
  t.match(banner, /^ {2}external-https +https:\/\/127\.0\.0\.1:443$/m, 'the published listeners keep their ports')
  t.match(banner, /^ {2}dir-vip-https +https:\/\/127\.0\.0\.1:\d+$/m, 'the Director VIP moves onto 127.0.0.1')
  for (const server of ['fe01', 'fe02', 'dir01', 'dir02']) t.match(banner, new RegExp(`^  ${server} +internal http://127\\.0\\.0\\.1:\\d+, internal https://127\\.0\\.0\\.1:\\d+, external http://127\\.0\\.0\\.1:\\d+, external https://127\\.0\\.0\\.1:\\d+$`, 'm'), `${server} on 127.0.0.1`)
  t.notMatch(banner, /^ {2}\S+ +.*127\.0\.1\./m, 'nothing listens on 127.0.1.x')

  t.equal(read('probe.rc'), '(none)', 'the probe exits 0')
  const results = JSON.parse(read('probe.json')) as Array<{ check: string, name: string, result: string, detail: string }>
  t.same(results.filter((r) => r.result !== 'PASS').map((r) => `${r.result} ${r.check} ${r.name}: ${r.detail}`), [], 'every check passes')
  t.ok(results.some((r) => r.check === 'ucwa-signin') && results.some((r) => r.check === 'ntlm-handshake'), 'the sign-ins were run')
  const sip = read('sip.txt').trim().split('\n')
  t.equal(sip.length, 4)
  t.same([...new Set(sip.map((l) => l.split(' ')[0]))].sort(), ['dir01', 'dir02'], 'the VIP\'s 5061 still reaches both Directors')
})
