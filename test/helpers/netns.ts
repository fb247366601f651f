// Private namespaces for tests that need real ports and addresses this machine does not have:
// `unshare -rmnpf` gives a user, network, mount and PID namespace of its own, in which the test is
// root, its loopback carries whatever addresses it adds, and nothing can leave (there is no other
// interface). When the namespace's first process exits the kernel kills every process in it.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const UNSHARE_ARGS = ['-rmnpf', '--kill-child', '--mount-proc']

// ip(8) lives in /usr/sbin, which an ordinary user's PATH may lack.
export function sbinPath (): string {
  return [process.env.PATH ?? '/usr/bin:/bin', '/usr/sbin', '/sbin'].join(':')
}

// Why such a namespace cannot be made here (with `check` run inside it), or undefined when it can.
export function namespaceProblem (check: string): string | undefined {
  const probe = spawnSync('unshare', [...UNSHARE_ARGS, 'sh', '-c', check], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PATH: sbinPath() } })
  if (probe.error !== undefined) return `unshare is not available (util-linux): ${probe.error.message}`
  if (probe.status === 0) return undefined
  const why = (probe.stderr || probe.stdout).trim().split('\n').at(-1) ?? ''
  return `cannot make a private user, network, mount and PID namespace (unshare ${UNSHARE_ARGS.join(' ')}, then: ${check}): ${why}`
}

// A word for sh, quoted.
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

// Runs the shell `lines` (written to dir/inner.sh) as a namespace's first process, killed after
// `timeoutMs`; every process started in the namespace ends with it. NODE_OPTIONS is dropped so that
// tap's process tracking stays out of the node processes the script starts.
export async function runInNamespace (dir: string, lines: string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<{ code: number | null, output: string }> {
  const script = path.join(dir, 'inner.sh')
  writeFileSync(script, ['set -eu', 'unset NODE_OPTIONS', ...lines].join('\n') + '\n')
  const child = spawn('unshare', [...UNSHARE_ARGS, 'sh', script], { env: { ...env, PATH: sbinPath() }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { output += s })
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(killer)
  return { code, output }
}

// A shell line that opens `count` TLS connections to the port in the shell expression `port` and
// writes the first line each peer says (the lab's echo servers say who they are) to `file`.
export function echoGreetingsLine (o: { host: string, port: string, servername: string, ca: string, count: number, file: string }): string {
  const connect = `const s=require('tls').connect({host:process.argv[1],port:+process.argv[2],servername:process.argv[3],ca:require('fs').readFileSync(process.argv[4])},()=>s.once('data',(d)=>{console.log(String(d).trim());s.destroy()}));s.setTimeout(10000,()=>{console.log('timeout');s.destroy()})`
  return `for i in $(seq ${o.count}); do node -e ${shellQuote(connect)} ${shellQuote(o.host)} ${o.port} ${shellQuote(o.servername)} ${shellQuote(o.ca)}; done > ${shellQuote(o.file)}`
}

// A file the namespace's processes wrote, or '(none)'.
export function readOrNone (file: string): string {
  try { return readFileSync(file, 'utf8') } catch { return '(none)' }
}
