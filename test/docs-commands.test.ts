// Every command a doc prints is run here, against the lab, and its output checked against what the
// doc says it prints. A doc whose commands stopped working is worse than none: a newcomer's first
// copy-paste fails and they cannot tell whether they or the doc are wrong.
//
// What is run: every ```sh block of README.md and docs/*.md, in order, in one bash session per
// document (a block may use what an earlier one defined, as a reader's shell would). A command is a
// line (with its `\` continuations); the `# ` lines under it are its expected output: they must
// appear in the command's output, in order, with any run of white space matching any other and `…`
// matching anything. Every command must exit 0.
//
// What is not: a block right after the line `<!-- docs-commands: not run (why) -->`, for a command
// that needs root, changes the checkout (npm install) or runs until stopped (npm start, a held long
// poll). The reason is required, so the exemption is explicit in the doc itself.
//
// How it differs from a reader's run, and nothing else: the lab runs in this process on ports the
// system chose (ephemeralPorts), so `--resolve NAME:80:127.0.0.1` / `:443:` become curl's
// `--connect-to NAME:80:127.0.0.1:PORT` (the URL and the Host stay what the doc says), and a layer-4
// frontend's ADDRESS:PORT becomes the port it got (and the stand-in's own port, where the expected
// output prints it, the port the stand-in got); `npx lyncproxy` runs dist/cli/main.js (npm test
// builds it first). The commands run in a temporary directory holding the lab's certs/ and a copy of
// config/, so nothing is written into the checkout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t from 'tap'
import { loadConfigFile } from '../src/config/load.js'
import { deepFreeze, type ResolvedConfig } from '../src/config/defaults.js'
import { startLab, type RunningLab } from '../src/lab/run.js'
import { CLI_MAIN, REPO, cleanEnv } from './helpers/cli.js'

// Generous: a busy 2-core machine can take many seconds to start node for `npx lyncproxy`.
const COMMAND_TIMEOUT_MS = 60_000
const NOT_RUN = /^<!--\s*docs-commands:\s*not run\s*\((.+)\)\s*-->$/

export interface DocCommand {
  doc: string
  line: number
  command: string
  expected: string[]
}

export interface DocBlock {
  doc: string
  line: number
  skipped?: string
  commands: DocCommand[]
}

// The ```sh blocks of one markdown text, with their commands and expected lines.
export function shBlocks (doc: string, text: string): DocBlock[] {
  const lines = text.split('\n')
  const blocks: DocBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```sh\s*$/.exec(lines[i]!)
    if (fence === null) continue
    const indent = fence[1]!.length
    let before = i - 1
    while (before >= 0 && lines[before]!.trim() === '') before--
    const marker = before >= 0 ? NOT_RUN.exec(lines[before]!.trim()) : null
    const block: DocBlock = { doc, line: i + 1, commands: [], ...(marker === null ? {} : { skipped: marker[1]! }) }
    let current: DocCommand | undefined
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) {
      const line = lines[i]!.slice(Math.min(indent, lines[i]!.length - lines[i]!.trimStart().length))
      if (line.trim() === '') continue
      if (line.startsWith('#')) {
        if (current === undefined) throw new Error(`${doc}:${i + 1}: an expected line before any command`)
        current.expected.push(line.replace(/^#\s?/, ''))
        continue
      }
      if (current !== undefined && current.command.endsWith('\\')) {
        current.command += '\n' + line
        continue
      }
      current = { doc, line: i + 1, command: line, expected: [] }
      block.commands.push(current)
    }
    blocks.push(block)
  }
  return blocks
}

// The expected lines as one pattern: white space is any white space, … is anything.
export function expectation (expected: string[]): RegExp {
  const piece = (s: string): string => s.trim().split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('\\s+')
  return new RegExp(expected.join('\n').split('…').map(piece).join('[\\s\\S]*?'))
}

export interface PortMap {
  http: number
  https: number
  // 'ADDRESS:PORT' of a layer-4 frontend as configured → the port it was given.
  tcp: Map<string, number>
  // A stand-in's port as configured → the port it was given, for output that prints it.
  printed: Map<number, number>
}

export function rewriteExpected (expected: string[], ports: PortMap): string[] {
  return expected.map((line) => line.replace(/\b\d{2,5}\b/g, (p) => String(ports.printed.get(Number(p)) ?? p)))
}

export function rewrite (command: string, ports: PortMap): string {
  let out = command.replace(/--resolve(\s+)(\S+?):(80|443):127\.0\.0\.1\b/g, (_m, sp: string, name: string, port: string) =>
    `--connect-to${sp}${name}:${port}:127.0.0.1:${port === '80' ? ports.http : ports.https}`)
  for (const [from, port] of ports.tcp) {
    const address = from.slice(0, from.lastIndexOf(':'))
    out = out.split(from).join(`${address}:${port}`)
  }
  return out
}

const docs = ['README.md', ...fs.readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
const blocksByDoc = new Map(docs.map((doc) => [doc, shBlocks(doc, fs.readFileSync(path.join(REPO, doc), 'utf8'))]))

t.test('the extraction: commands, continuations, expected lines and the not-run marker', async (t) => {
  const blocks = shBlocks('x.md', [
    '<!-- docs-commands: not run (runs until Ctrl-C) -->', '```sh', 'npm start', '```',
    '1. Step:', '', '   ```sh', '   curl -s a \\', '     b', '   # {"x":…}', '   echo hi', '   ```',
  ].join('\n'))
  t.equal(blocks.length, 2)
  t.equal(blocks[0]!.skipped, 'runs until Ctrl-C')
  t.same(blocks[1]!.commands.map((c) => [c.command, c.expected]), [['curl -s a \\\n  b', ['{"x":…}']], ['echo hi', []]])
  t.match('  {"x": 1, "y": 2}\n', expectation(['{"x": …}']))
  t.notMatch('{"y":1}', expectation(['{"x":…}']))
  t.equal(rewrite('curl --resolve a.b:443:127.0.0.1 https://a.b/; x 127.0.1.2:5061', { http: 1, https: 2, tcp: new Map([['127.0.1.2:5061', 3]]), printed: new Map() }),
    'curl --connect-to a.b:443:127.0.0.1:2 https://a.b/; x 127.0.1.2:3')
})

t.test('every not-run marker gives its reason, and the docs print commands at all', async (t) => {
  const all = [...blocksByDoc.values()].flat()
  t.ok(all.some((b) => b.skipped === undefined && b.commands.length > 0), 'some commands are run')
  for (const b of all.filter((x) => x.skipped !== undefined)) t.ok(b.skipped!.trim().length > 0, `${b.doc}:${b.line}: not run because ${b.skipped}`)
})

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-docs-'))
let lab: RunningLab | undefined
t.teardown(async () => {
  await lab?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

async function startDocLab (): Promise<PortMap> {
  fs.cpSync(path.join(REPO, 'config'), path.join(work, 'config'), { recursive: true })
  const loaded = await loadConfigFile(path.join(REPO, 'config/lab.yaml'))
  // The lab's certificates go where the doc's `certs/lab-ca.pem` finds them: the working directory.
  const config = deepFreeze({ ...structuredClone(loaded.config), certs: { dir: path.join(work, 'certs') } }) as ResolvedConfig
  lab = await startLab({ ...loaded, config }, { logger: pino({ level: 'silent' }), ephemeralPorts: true })
  const port = (name: string): number => {
    const l = lab!.proxy.listeners.find((x) => x.name === name)
    if (l === undefined) throw new Error(`the lab has no listener ${name}`)
    return l.port
  }
  const tcp = new Map<string, number>()
  const printed = new Map<number, number>()
  for (const f of lab.proxy.tcpFrontends) {
    const configured = loaded.config.tcp.find((x) => x.name === f.name)
    const running = lab.proxy.config().tcp.find((x) => x.name === f.name)
    if (configured === undefined || running === undefined) continue
    tcp.set(`${configured.address}:${configured.port}`, f.port)
    // The layer-4 stand-ins greet with their own port, which the lab gave them.
    if (running.targetPort !== configured.targetPort) printed.set(configured.targetPort, running.targetPort)
  }
  return { http: port('external-http'), https: port('external-https'), tcp, printed }
}

// One bash for a document's commands, so that what one block defines the next can use.
class Shell {
  private readonly child: ChildProcessWithoutNullStreams
  private buffer = ''
  private seq = 0

  constructor (cwd: string) {
    const bin = path.join(cwd, '.bin')
    fs.mkdirSync(bin, { recursive: true })
    // `npx lyncproxy` in a clone: the built CLI of this checkout, never a download.
    fs.writeFileSync(path.join(bin, 'npx'), `#!/usr/bin/env bash\nif [ "$1" = lyncproxy ]; then shift; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_MAIN)} "$@"; fi\necho "docs-commands: only npx lyncproxy is provided here, not npx $1" >&2; exit 127\n`, { mode: 0o755 })
    const env = cleanEnv({ HOME: cwd, PATH: `${bin}:${process.env.PATH ?? ''}` })
    this.child = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stdout.setEncoding('utf8').on('data', (s: string) => { this.buffer += s })
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => { this.buffer += s })
  }

  // The command's output (stdout and stderr) and its exit status, or undefined on a timeout.
  async run (command: string, ms: number): Promise<{ output: string, status: number } | undefined> {
    const mark = `__docs_command_${++this.seq}_done__`
    this.buffer = ''
    this.child.stdin.write(`${command}\n__s=$?; echo; echo "${mark} $__s"\n`)
    const end = Date.now() + ms
    for (;;) {
      const m = new RegExp(`\\n${mark} (\\d+)\\n`).exec(this.buffer)
      if (m !== null) return { output: this.buffer.slice(0, m.index), status: Number(m[1]) }
      if (Date.now() > end || this.child.exitCode !== null) return undefined
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  close (): void { this.child.kill('SIGKILL') }
}

t.test('the commands the docs print', async (t) => {
  const ports = await startDocLab()
  for (const [doc, blocks] of blocksByDoc) {
    const runnable = blocks.filter((b) => b.skipped === undefined && b.commands.length > 0)
    if (runnable.length === 0) continue
    await t.test(doc, async (t) => {
      const shell = new Shell(work)
      t.teardown(() => shell.close())
      for (const command of runnable.flatMap((b) => b.commands)) {
        const where = `${command.doc}:${command.line}`
        const result = await shell.run(rewrite(command.command, ports), COMMAND_TIMEOUT_MS)
        if (result === undefined) {
          t.fail(`${where}: no answer within ${COMMAND_TIMEOUT_MS / 1000} s: ${command.command}`)
          return
        }
        t.equal(result.status, 0, `${where}: exits 0: ${command.command}`, { output: result.output })
        if (command.expected.length > 0) {
          const expected = rewriteExpected(command.expected, ports)
          t.match(result.output, expectation(expected), `${where}: prints what the doc says`, { expected })
        }
      }
    })
  }
})
