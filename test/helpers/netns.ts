// Private namespaces for tests that need real ports and addresses this machine does not have:
// `unshare -rmnpf` gives a user, network, mount and PID namespace of its own, in which the test is
// root, its loopback carries whatever addresses it adds, and nothing can leave (there is no other
// interface). When the namespace's first process exits the kernel kills every process in it.
import { spawnSync } from 'node:child_process'

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
