// Runs the real SIPE client (Debian's pidgin-sipe, the libpurple Lync plugin) against the full lab,
// headless: bitlbee-libpurple in inetd mode speaks IRC on a socket this process holds, and SIPE is
// driven through bitlbee's &bitlbee control channel (account add, set, on).
//
// Everything runs in one private user + network + mount + PID namespace (`unshare -rmnpf`): the lab
// binds its real ports (80, 443, 127.0.1.x) there, a private hosts file maps the lab's names, the
// lab CA is the only trust anchor under /etc/ssl/certs (where Debian's libpurple, built with NSS,
// loads its CA pool from), and resolv.conf points at 127.0.0.1 where no DNS server runs, so the
// SRV and A lookups SIPE falls back to fail at once. Nothing can leave loopback: the namespace has
// no other interface. When its first process exits the kernel kills every process in it.
//
// BITLBEE_DEBUG=1 and PURPLE_UNSAFE_DEBUG=1 make libpurple and SIPE log everything, HTTP messages
// in full; runSipe parses that log into the HTTP exchanges, the TLS connections and the
// certificate checks, and returns the lab's own exchange log lines next to it.
//
// SIPE 1.25 parses XML with a SAX handler that Debian 12's libxml2 drives as a SAX2 one and so
// never calls back: test/helpers/sipe/sax1-shim.c, compiled here with `cc` and preloaded into
// bitlbee, hands libxml2 a plain SAX1 copy of it (see the comment there).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { CLI_MAIN, REPO, cleanEnv } from './cli.js'
import { namespaceProblem, sbinPath, UNSHARE_ARGS } from './netns.js'

export const SHIM_SOURCE = path.join(REPO, 'test/helpers/sipe/sax1-shim.c')
const BITLBEE_CANDIDATES = ['/usr/sbin/bitlbee', '/usr/bin/bitlbee']
const SIPE_PLUGIN_CANDIDATES = ['/usr/lib/purple-2/libsipe.so', '/usr/lib/x86_64-linux-gnu/purple-2/libsipe.so', '/usr/lib/aarch64-linux-gnu/purple-2/libsipe.so']
// The packages the test needs (Debian 12): the client, the IRC gateway built with libpurple, the
// namespace and network tools, and a C compiler for the shim.
export const SIPE_PACKAGES = ['pidgin-sipe', 'bitlbee-libpurple', 'util-linux', 'iproute2', 'gcc', 'libc6-dev']

// Names of the lab as an external client resolves them: the published names on the reverse proxy's
// external side, the internal pool and server names on their own addresses (as in config/lab.yaml).
// lyncdiscoverinternal.contoso.com, which SIPE tries first, also lands on the proxy, which does not
// publish it: a 404 over HTTP, and over HTTPS a certificate without the name, which libpurple asks
// about and the harness rejects. Map it elsewhere with `hosts`, or to '' (hosts: not written) to
// leave it unresolvable.
export const LAB_HOSTS: Readonly<Record<string, string>> = {
  'lyncdiscoverinternal.contoso.com': '127.0.0.1',
  'lyncdiscover.contoso.com': '127.0.0.1',
  'webext.contoso.com': '127.0.0.1',
  'webdirext.contoso.com': '127.0.0.1',
  'meet.contoso.com': '127.0.0.1',
  'dialin.contoso.com': '127.0.0.1',
  'officewebapps01.contoso.com': '127.0.0.1',
  'pool01.contoso.net': '127.0.1.11',
  'fe01.contoso.net': '127.0.1.11',
  'fe02.contoso.net': '127.0.1.12',
  'dirpool.contoso.net': '127.0.1.2',
  'dir01.contoso.net': '127.0.1.21',
  'dir02.contoso.net': '127.0.1.22',
  'owas01.contoso.net': '127.0.1.3',
}

export interface SipeOptions {
  // The SIP URI SIPE signs in as (bitlbee's handle, SIPE's "Username").
  account: string
  password: string
  // SIPE's "Login" (user, DOMAIN\user or a UPN); none: the account.
  login?: string
  // SIPE's account settings: server empty means auto-discovery.
  server?: string
  transport?: 'auto' | 'tls' | 'tcp'
  authentication?: 'auto' | 'ntlm' | 'krb5' | 'tls-dsk'
  sso?: boolean
  // Where sip.contoso.com (the last name SIPE tries when discovery found nothing) points; none:
  // not resolvable.
  sipAddress?: string
  // More names, or other addresses for the lab's (LAB_HOSTS); an empty address drops the name.
  hosts?: Record<string, string>
  // More arguments for `lyncproxy lab` (e.g. --fault, --broken).
  labArgs?: string[]
  // End the run as soon as SIPE's debug log matches this (a step past which nothing answers), with
  // the outcome `stopped`.
  stopWhen?: RegExp
  // Changes to the lab's config (config/lab.yaml, parsed) before the lab starts.
  labConfig?: (lab: Record<string, unknown>) => void
  labLogLevel?: string
  // The whole run, from spawning the namespace to the last process gone (default 60 s).
  timeoutMs?: number
  // Preload the SAX1 shim (default); false shows SIPE as packaged, parsing no XML.
  saxShim?: boolean
  // Keep the work directory (its path is in the result) instead of removing it.
  keepDir?: boolean
}

export interface HttpExchange {
  method: string
  url: string
  host: string
  port: number
  tls: boolean
  path: string
  // 0 when no response was logged (the connection failed or the run ended first).
  status: number
  reason: string
  // Header names in lower case; repeated headers joined with ", " (www-authenticate: Negotiate, NTLM).
  requestHeaders: Record<string, string>
  responseHeaders: Record<string, string>
  requestBody: string
  responseBody: string
  // SIPE's connection id (its pointer), the same for requests on one keep-alive connection.
  connection: string
}

export interface CertificateCheck { host: string; verified: boolean }

export interface Connect { host: string; port: number; tls: boolean; connected: boolean }

export interface LabExchange {
  listener: string
  host: string
  method: string
  path: string
  status: number
  rule?: string
  pool?: string
  upstream?: string
}

export interface SipeRun {
  http: HttpExchange[]
  // host:port of every TLS connection SIPE opened (the TCP connection was made), HTTP and SIP, in order.
  tlsConnects: string[]
  // Every connection SIPE tried: host:port, transport, and whether TCP got through (a name that
  // does not resolve or a refused port does not).
  connects: Connect[]
  certificates: CertificateCheck[]
  // Hosts whose certificate libpurple could not validate and asked about; each was answered "no".
  certificatePrompts: string[]
  // SIPE's debug lines that report an error (e.g. "error parsing xml string: ...").
  sipeErrors: string[]
  // What bitlbee said about the account: "Logged in", "Login error: ...", or undefined (timed out).
  outcome: string | undefined
  timedOut: boolean
  // The control channel's messages from bitlbee, formatting removed.
  irc: string[]
  // bitlbee's output: libpurple's and SIPE's debug log.
  log: string
  labLog: string
  labExchanges: LabExchange[]
  durationMs: number
  dir: string
}

// ip and bitlbee live in sbin, which an ordinary user's PATH may lack.
function firstExisting (candidates: string[]): string | undefined {
  return candidates.find((p) => fs.existsSync(p))
}

// A short temp dir: the IRC socket's path must fit in sun_path (108 bytes).
function makeWorkDir (prefix: string): string {
  const base = os.tmpdir().length < 60 ? os.tmpdir() : '/tmp'
  return fs.mkdtempSync(path.join(base, prefix))
}

function compileShim (dir: string): { so: string } | { error: string } {
  const so = path.join(dir, 'sax1-shim.so')
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', so, SHIM_SOURCE, '-ldl'], { encoding: 'utf8', timeout: 60_000 })
  if (r.error !== undefined) return { error: r.error.message }
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim() }
  return { so }
}

// Why the SIPE test cannot run here, or undefined when it can. Each reason names what is missing.
export function sipeSkipReason (): string | undefined {
  if (process.platform !== 'linux') return `the SIPE test needs Linux namespaces (this is ${process.platform})`
  const bitlbee = firstExisting(BITLBEE_CANDIDATES)
  if (bitlbee === undefined) return 'bitlbee is not installed (Debian package bitlbee-libpurple)'
  if (!fs.readFileSync(bitlbee).includes('purple_plugins_add_search_path')) return `${bitlbee} is built without libpurple (install bitlbee-libpurple, not bitlbee)`
  if (firstExisting(SIPE_PLUGIN_CANDIDATES) === undefined) return 'the SIPE libpurple plugin is not installed (Debian package pidgin-sipe)'
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8', timeout: 10_000 })
  if (cc.error !== undefined || cc.status !== 0) return 'no C compiler (`cc`) to build the libxml2 SAX1 shim SIPE needs (Debian package gcc)'
  const namespace = namespaceProblem('ip link set lo up && mount --bind /dev/null /etc/hosts && test -d /etc/ssl/certs')
  if (namespace !== undefined) return namespace
  const dir = makeWorkDir('lyncproxy-sipe-cc-')
  try {
    const built = compileShim(dir)
    if ('error' in built) return `cc cannot build ${path.relative(REPO, SHIM_SOURCE)} (libc6-dev missing?): ${built.error.split('\n').at(-1) ?? ''}`
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return undefined
}

// The script run as the namespace's first process. Its exit ends the namespace.
const INNER = String.raw`
set -eu
W=$SIPE_WORK
note () { echo "sipe-harness: $*" >&2; }
ip link set lo up
mount --bind "$W/hosts" /etc/hosts
# Best effort: /etc/resolv.conf may be a dangling symlink; without it lookups fail just as fast.
mount --bind "$W/resolv.conf" /etc/resolv.conf 2>/dev/null || note "resolv.conf not replaced"
cd "$SIPE_REPO"
"$SIPE_NODE" "$SIPE_CLI" lab -c "$W/lab.yaml" --log-level "$SIPE_LAB_LOG_LEVEL" $SIPE_LAB_ARGS > "$W/lab.log" 2>&1 &
lab=$!
i=0
while ! grep -q 'lab is ready' "$W/lab.log"; do
  if ! kill -0 "$lab" 2>/dev/null; then note "the lab exited before it was ready"; exit 98; fi
  i=$((i + 1))
  if [ "$i" -gt 900 ]; then note "the lab was not ready after 90 s"; exit 98; fi
  sleep 0.1
done
note "lab ready"
mkdir -p "$W/ssl"
cp "$W/certs/lab-ca.pem" "$W/ssl/lab-ca.pem"
cp "$W/certs/lab-ca.pem" "$W/ssl/ca-certificates.crt"
mount --bind "$W/ssl" /etc/ssl/certs
set +e
BITLBEE_DEBUG=1 PURPLE_UNSAFE_DEBUG=1 LD_PRELOAD="$SIPE_PRELOAD" HOME="$W/home" \
  DBUS_SESSION_BUS_ADDRESS="unix:path=$W/no-bus" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/no-bus" \
  "$SIPE_BITLBEE" -I -c "$W/bitlbee.conf" -d "$W/bitlbee" > "$W/bitlbee.log" 2>&1
note "bitlbee exited $?"
kill -TERM "$lab" 2>/dev/null
i=0
while kill -0 "$lab" 2>/dev/null && [ "$i" -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
exit 0
`

// Resolves 'stopped' once the file's text matches, polling it; undefined when time runs out first.
async function logMatches (file: string, pattern: RegExp, left: () => number, over: () => boolean): Promise<'stopped' | undefined> {
  while (left() > 0 && !over()) {
    if (pattern.test(readOr(file))) return 'stopped'
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, left())))
  }
  return undefined
}

// One bitlbee argument: quoted when it holds a space, backslashes and quotes escaped.
function ircArg (s: string): string {
  const escaped = s.replace(/[\\"]/g, (c) => '\\' + c)
  return /\s/.test(s) || s === '' ? `"${escaped}"` : escaped
}

// mIRC formatting: bold, colour (with its digits), reset, italics, underline, reverse.
function stripFormatting (s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x03(\d{1,2}(,\d{1,2})?)?/g, '').replace(/[\x02\x0f\x1d\x1f\x16]/g, '')
}

class Irc {
  readonly messages: string[] = []
  private buffer = ''
  private waiters: Array<() => void> = []
  private answered = 0
  closed = false

  constructor (private readonly socket: net.Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => this.receive(chunk))
    socket.on('close', () => { this.closed = true; this.notify() })
    socket.on('error', () => { /* bitlbee has gone; the close event follows */ })
  }

  send (line: string): void {
    if (!this.closed) this.socket.write(line + '\r\n')
  }

  command (text: string): void {
    this.send(`PRIVMSG &bitlbee :${text}`)
  }

  private receive (chunk: string): void {
    this.buffer += chunk
    let nl: number
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '')
      this.buffer = this.buffer.slice(nl + 1)
      if (line.startsWith('PING ')) { this.send('PONG ' + line.slice(5)); continue }
      const m = /^:root!\S+ PRIVMSG &bitlbee :(.*)$/.exec(line)
      if (m !== null) this.messages.push(stripFormatting(m[1]!))
    }
    // libpurple asks the user (a certificate it could not validate): the answer is always no.
    const asked = this.messages.filter((l) => l.startsWith('New request: ')).length
    while (this.answered < asked) { this.answered++; this.command('no') }
    this.notify()
  }

  private notify (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  // The first message from index `from` on that matches, or undefined after `ms` or on close.
  async waitFor (pattern: RegExp, ms: number, from = 0): Promise<RegExpExecArray | undefined> {
    const end = Date.now() + ms
    for (;;) {
      for (let i = from; i < this.messages.length; i++) {
        const m = pattern.exec(this.messages[i]!)
        if (m !== null) return m
      }
      if (this.closed || Date.now() >= end) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(250, end - Date.now())))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
}

function headerMap (lines: string[]): Record<string, string> {
  const map: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    map[name] = map[name] === undefined ? value : `${map[name]}, ${value}`
  }
  return map
}

interface Message { at: number; sending: boolean; type: string; conn: string; head: string[]; body: string }

// SIPE's "MESSAGE START >>>>>>>>>> HTTP(0x...) - time" ... "MESSAGE END ..." blocks.
function messages (log: string): Message[] {
  const out: Message[] = []
  const re = /^MESSAGE START (>{10}|<{10}) (\w+)\(([^)]*)\) - (\S+)\n([\s\S]*?)\nMESSAGE END \1 \2\(\3\) - \4$/gm
  for (const m of log.matchAll(re)) {
    const text = m[5]!
    const split = text.indexOf('\n\n')
    const head = (split < 0 ? text : text.slice(0, split)).split('\n')
    const body = split < 0 ? '' : text.slice(split + 2).replace(/\n$/, '')
    out.push({ at: m.index, sending: m[1]!.startsWith('>'), type: m[2]!, conn: m[3]!, head, body })
  }
  return out
}

export interface ParsedLog {
  http: HttpExchange[]
  connects: Connect[]
  certificates: CertificateCheck[]
  sipeErrors: string[]
}

// The HTTP exchanges and connections in a libpurple/SIPE debug log (exported for checking the
// parser on its own).
export function parseSipeLog (log: string): ParsedLog {
  const connects: Connect[] = []
  const tlsByHostPort = new Map<string, boolean>()
  const hostByConn = new Map<string, { host: string; port: number }>()
  const events: Array<{ at: number; apply: () => void }> = []
  for (const m of log.matchAll(/transport_connect - hostname: (\S+) port: (\d+)\nDEBUG sipe: using (SSL|TCP)/g)) {
    const c = { host: m[1]!.toLowerCase(), port: Number(m[2]), tls: m[3] === 'SSL', connected: false }
    // libpurple's proxy code logs "Connected to host:port." once the TCP connection is up; it
    // belongs to this attempt when it comes before the next attempt at the same host and port.
    const rest = log.slice(m.index + m[0].length).toLowerCase()
    const next = rest.indexOf(`transport_connect - hostname: ${c.host} port: ${c.port}\n`)
    const up = rest.indexOf(`proxy: connected to ${c.host}:${c.port}.`)
    c.connected = up >= 0 && (next < 0 || up < next)
    connects.push(c)
    events.push({ at: m.index, apply: () => tlsByHostPort.set(`${c.host}:${c.port}`, c.tls) })
  }
  for (const m of log.matchAll(/sipe_http_transport_connected: '([^']+):(\d+)'\(([^)]*)\)/g)) {
    events.push({ at: m.index, apply: () => hostByConn.set(m[3]!, { host: m[1]!.toLowerCase(), port: Number(m[2]) }) })
  }
  for (const block of messages(log)) {
    if (block.type === 'HTTP') events.push({ at: block.at, apply: () => onBlock(block) })
  }
  events.sort((a, b) => a.at - b.at)

  const http: HttpExchange[] = []
  const open = new Map<string, HttpExchange[]>()
  const onBlock = (b: Message): void => {
    if (b.sending) {
      const [method = '', target = ''] = (b.head[0] ?? '').split(' ')
      const where = hostByConn.get(b.conn)
      const requestHeaders = headerMap(b.head.slice(1))
      const host = where?.host ?? (requestHeaders.host ?? '').toLowerCase()
      const tls = tlsByHostPort.get(`${host}:${where?.port ?? 443}`) ?? (where?.port !== 80)
      const port = where?.port ?? (tls ? 443 : 80)
      const hostPort = port === (tls ? 443 : 80) ? host : `${host}:${port}`
      const exchange: HttpExchange = {
        method, url: `${tls ? 'https' : 'http'}://${hostPort}${target}`, host, port, tls, path: target,
        status: 0, reason: '', requestHeaders, responseHeaders: {}, requestBody: b.body, responseBody: '', connection: b.conn,
      }
      http.push(exchange)
      const queue = open.get(b.conn) ?? []
      queue.push(exchange)
      open.set(b.conn, queue)
    } else {
      const exchange = open.get(b.conn)?.shift()
      if (exchange === undefined) return
      const status = /^HTTP\/\d\.\d (\d{3}) ?(.*)$/.exec(b.head[0] ?? '')
      exchange.status = status === null ? 0 : Number(status[1])
      exchange.reason = status?.[2] ?? ''
      exchange.responseHeaders = headerMap(b.head.slice(1))
      exchange.responseBody = b.body
    }
  }
  for (const e of events) e.apply()

  const certificates: CertificateCheck[] = []
  for (const m of log.matchAll(/^DEBUG certificate: (Successfully verified|Failed to verify) certificate for (\S+)$/gm)) {
    certificates.push({ host: m[2]!, verified: m[1] === 'Successfully verified' })
  }
  const sipeErrors = [...log.matchAll(/^DEBUG sipe: (.*(?:error|failed|failure).*)$/gim)].map((m) => m[1]!.trim())
  return { http, connects, certificates, sipeErrors }
}

export function parseLabLog (text: string): LabExchange[] {
  const out: LabExchange[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const j = JSON.parse(line) as Record<string, unknown>
      if (j.kind !== 'exchange') continue
      out.push({
        listener: String(j.listener), host: String(j.host), method: String(j.method), path: String(j.path), status: Number(j.status),
        ...(typeof j.rule === 'string' ? { rule: j.rule } : {}),
        ...(typeof j.pool === 'string' ? { pool: j.pool } : {}),
        ...(typeof j.upstream === 'string' ? { upstream: j.upstream } : {}),
      })
    } catch { /* not a log line */ }
  }
  return out
}

function readOr (file: string): string {
  try { return fs.readFileSync(file, 'utf8') } catch { return '' }
}

// Signs SIPE in once against a fresh lab and reports what it did. Throws when the harness itself
// fails (the lab or bitlbee did not start); what SIPE does, failing included, is the result.
export async function runSipe (o: SipeOptions): Promise<SipeRun> {
  const started = performance.now()
  const timeoutMs = o.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  const dir = makeWorkDir('lyncproxy-sipe-')
  let keep = o.keepDir === true
  try {
    const built = compileShim(dir)
    if ('error' in built) throw new Error(`cc failed to build the SAX1 shim: ${built.error}`)
    fs.mkdirSync(path.join(dir, 'bitlbee'))
    fs.mkdirSync(path.join(dir, 'home'))
    fs.mkdirSync(path.join(dir, 'certs'))

    const lab = YAML.parse(fs.readFileSync(path.join(REPO, 'config/lab.yaml'), 'utf8')) as Record<string, unknown>
    lab.certs = { ...(lab.certs as object | undefined), dir: path.join(dir, 'certs') }
    o.labConfig?.(lab)
    fs.writeFileSync(path.join(dir, 'lab.yaml'), YAML.stringify(lab))
    const hosts: Record<string, string> = { ...LAB_HOSTS, ...(o.sipAddress === undefined ? {} : { 'sip.contoso.com': o.sipAddress }), ...o.hosts }
    fs.writeFileSync(path.join(dir, 'hosts'), ['127.0.0.1 localhost', '::1 localhost', ...Object.entries(hosts).filter(([, a]) => a !== '').map(([n, a]) => `${a} ${n}`)].join('\n') + '\n')
    fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
    fs.writeFileSync(path.join(dir, 'bitlbee.conf'), `[settings]\nRunMode = Inetd\nAuthMode = Open\nConfigDir = ${path.join(dir, 'bitlbee')}\n[defaults]\n`)
    fs.writeFileSync(path.join(dir, 'inner.sh'), INNER)

    // bitlbee in inetd mode reads and writes its fd 0, which must be a socket: one end of a
    // connection to a Unix socket of this process, handed to the namespace as its stdin.
    const sockPath = path.join(dir, 'irc.sock')
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(sockPath, resolve) })
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
    const client = net.connect(sockPath)
    await new Promise<void>((resolve, reject) => { client.once('connect', resolve); client.once('error', reject) })
    const serverSide = await accepted
    server.close()

    // Headless: no display, and D-Bus addresses where no bus listens.
    const env = cleanEnv({
      SIPE_WORK: dir, SIPE_REPO: REPO, SIPE_NODE: process.execPath, SIPE_CLI: CLI_MAIN,
      SIPE_LAB_LOG_LEVEL: o.labLogLevel ?? 'info', SIPE_LAB_ARGS: (o.labArgs ?? []).join(' '),
      SIPE_PRELOAD: o.saxShim === false ? '' : built.so,
      SIPE_BITLBEE: firstExisting(BITLBEE_CANDIDATES) ?? 'bitlbee',
      PATH: sbinPath(),
    })
    delete env.DISPLAY
    delete env.WAYLAND_DISPLAY
    const child = spawn('unshare', [...UNSHARE_ARGS, 'sh', path.join(dir, 'inner.sh')], {
      cwd: dir,
      env,
      stdio: [client, 'ignore', 'pipe'],
    })
    client.destroy()
    let harness = ''
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { harness += s })
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)

    const irc = new Irc(serverSide)
    const left = (): number => Math.max(0, deadline - Date.now())
    let outcome: string | undefined
    let timedOut = false
    try {
      irc.send('NICK tester')
      irc.send('USER tester 0 localhost :SIPE test')
      if (await irc.waitFor(/^Welcome to the BitlBee gateway/, left()) === undefined) {
        throw new Error(`bitlbee did not greet on IRC${irc.closed ? ' (it exited)' : ''}; harness: ${harness.trim()}; lab log tail: ${readOr(path.join(dir, 'lab.log')).slice(-2000)}`)
      }
      const step = async (command: string, expect: RegExp): Promise<void> => {
        const from = irc.messages.length
        irc.command(command)
        if (await irc.waitFor(expect, Math.min(left(), 10_000), from) === undefined) {
          throw new Error(`bitlbee did not answer \`${command.replace(o.password, '********')}\` as expected (${String(expect)}): ${irc.messages.slice(from).join(' | ')}`)
        }
      }
      const handle = o.login === undefined ? o.account : `${o.account},${o.login}`
      await step(`account add sipe ${ircArg(handle)} ${ircArg(o.password)}`, /^Account successfully added/)
      const settings: Array<[string, string]> = [
        ['server', o.server ?? ''], ['transport', o.transport ?? 'auto'], ['authentication', o.authentication ?? 'ntlm'],
        ['sso', String(o.sso ?? false)], ['auto_reconnect', 'false'],
      ]
      // An empty value is the default (server: auto-discovery) and is left alone.
      for (const [key, value] of settings) {
        if (value !== '') await step(`account sipe set ${key} ${ircArg(value)}`, new RegExp(`^${key} = \``))
      }
      const from = irc.messages.length
      irc.command('account sipe on')
      const ended = irc.waitFor(/^sipe - (Logged in|Login error: .*|Signing off.*)$/, left(), from)
      let over = false
      const stopped = o.stopWhen === undefined ? undefined : logMatches(path.join(dir, 'bitlbee.log'), o.stopWhen, left, () => over)
      const end = await (stopped === undefined ? ended : Promise.race([ended, stopped]))
      over = true
      outcome = end === 'stopped' ? 'stopped' : end?.[1]
      if (outcome?.startsWith('Signing off') === true) {
        outcome = irc.messages.slice(from).map((l) => /^sipe - (Login error: .*)$/.exec(l)?.[1]).find((x) => x !== undefined) ?? outcome
      }
      timedOut = end === undefined
      if (outcome === 'Logged in') irc.command('account sipe off')
      // The last lines of the log (the disconnect) before bitlbee goes.
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, left())))
      irc.send('QUIT :done')
    } catch (e) {
      keep = keep || process.env.SIPE_KEEP === '1'
      throw e
    } finally {
      let grace: NodeJS.Timeout | undefined
      const gone = await Promise.race([exited, new Promise<'late'>((resolve) => { grace = setTimeout(() => resolve('late'), Math.min(10_000, left() + 1000)) })])
      clearTimeout(grace)
      if (gone === 'late') child.kill('SIGKILL')
      await exited
      clearTimeout(killer)
      serverSide.destroy()
    }

    const log = readOr(path.join(dir, 'bitlbee.log'))
    const labLog = readOr(path.join(dir, 'lab.log'))
    const parsed = parseSipeLog(log)
    const certificatePrompts = irc.messages.map((l) => /^Accept certificate for (\S+)\?$/.exec(l)?.[1]).filter((h): h is string => h !== undefined)
    return {
      http: parsed.http,
      connects: parsed.connects,
      tlsConnects: parsed.connects.filter((c) => c.tls && c.connected).map((c) => `${c.host}:${c.port}`),
      certificates: parsed.certificates,
      certificatePrompts: [...new Set(certificatePrompts)],
      sipeErrors: parsed.sipeErrors,
      outcome,
      timedOut,
      irc: irc.messages,
      log,
      labLog,
      labExchanges: parseLabLog(labLog),
      durationMs: Math.round(performance.now() - started),
      dir,
    }
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true })
  }
}
