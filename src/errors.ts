// The one registry of start-up and configuration errors. Every error an operator can meet before the
// proxy serves traffic has a stable code, a message, and the fix. Request-path failures are not here:
// they map to HTTP statuses in src/respond/failure.ts.
import fs from 'node:fs'
import os from 'node:os'

const PRIVILEGE_FIX = 'run as root, grant CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep "$(command -v node)")'

export const ErrorCodes = {
  LRP_ERR_CONFIG_READ: { exit: 2, fix: 'check the path given with -c and that the file is readable' },
  LRP_ERR_CONFIG_SYNTAX: { exit: 2, fix: 'fix the YAML syntax at the line shown' },
  LRP_ERR_CONFIG_SCHEMA: { exit: 2, fix: 'change the value at the path shown so that it matches the schema' },
  LRP_ERR_CONFIG_REFERENCE: { exit: 2, fix: 'name an item that is defined, or define it' },
  LRP_ERR_CONFIG_CONFLICT: { exit: 2, fix: 'make the two settings agree' },
  LRP_ERR_CERT_LOAD: { exit: 3, fix: 'check the certificate and key files and the passphrase' },
  LRP_ERR_CERT_PASSPHRASE: { exit: 3, fix: 'set the environment variable or create the file named by passphraseEnv/passphraseFile' },
  LRP_ERR_LISTEN_PRIVILEGED: { exit: 4, fix: `${PRIVILEGE_FIX}, or set LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT` },
  LRP_ERR_LISTEN_IN_USE: { exit: 4, fix: 'stop the program holding the port, or change the port in the config' },
  LRP_ERR_LISTEN_ADDRESS: { exit: 4, fix: 'use an address this machine owns (127.0.0.1, or an address on a local interface)' },
  LRP_ERR_USAGE: { exit: 64, fix: 'see --help' },
} as const

export type ErrorCode = keyof typeof ErrorCodes

export interface ErrorLocation {
  file?: string
  line?: number
  column?: number
  // JSON-pointer-like path in the document, for example /rules/3/pool
  path?: string
}

export class LyncProxyError extends Error {
  readonly code: ErrorCode
  readonly location: ErrorLocation
  readonly fix: string
  readonly exitCode: number

  constructor (code: ErrorCode, message: string, options: { location?: ErrorLocation, fix?: string, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'LyncProxyError'
    this.code = code
    this.location = options.location ?? {}
    this.fix = options.fix ?? ErrorCodes[code].fix
    this.exitCode = ErrorCodes[code].exit
  }

  // One line an operator can act on: where, what, and how to fix it.
  format (): string {
    const { file, line, column, path } = this.location
    let where = ''
    if (file !== undefined) where += file
    if (line !== undefined) where += `:${line}` + (column !== undefined ? `:${column}` : '')
    if (path !== undefined) where += (where ? ' ' : '') + `at ${path}`
    return `${this.code}: ${where ? where + ': ' : ''}${this.message}. Fix: ${this.fix}`
  }
}

// Several problems in one file are reported together, so an operator fixes them in one pass.
export class LyncProxyErrors extends Error {
  readonly errors: LyncProxyError[]
  constructor (errors: LyncProxyError[]) {
    super(errors.map((e) => e.format()).join('\n'))
    this.name = 'LyncProxyErrors'
    this.errors = errors
  }

  get exitCode (): number { return this.errors[0]?.exitCode ?? 1 }
}

// Where a server of lyncproxy was to listen, in the operator's terms: what it is, the socket, and
// the settings that choose its port and address (the fix names them).
export interface ListenSite {
  // 'listener external-https', 'stand-in fe01 (external https site)', 'tcp frontend sip', ...
  what: string
  address: string
  port: number
  location?: ErrorLocation
  // What moves it to another port, e.g. 'change port: at /listeners/1 in lab.yaml'.
  portSetting: string
  // What gives it another address; without it, the address is not configurable.
  addressSetting?: string
}

// The one mapping of a failed listen() (or the host name lookup before it) to a coded error. Every
// server lyncproxy starts reports through here: the proxy's listeners and tcp frontends, the lab's
// stand-ins and echo servers, `lyncproxy standin`.
export function listenError (err: unknown, site: ListenSite): LyncProxyError {
  const errno = listenErrno(err)
  const cause = err instanceof LyncProxyError && err.cause !== undefined ? err.cause : err
  const where = `${site.what} cannot listen on ${hostPort(site.address, site.port)}`
  const options = (fix: string): { location?: ErrorLocation, fix: string, cause: unknown } =>
    ({ ...(site.location === undefined ? {} : { location: site.location }), fix, cause })
  if (errno === 'EADDRINUSE') {
    const holder = portHolder(site.address, site.port)
    return new LyncProxyError('LRP_ERR_LISTEN_IN_USE', `${where}: the port is already in use${holder === undefined ? '' : `, held by ${holder}`}`,
      options(`stop ${holder === undefined ? 'the program holding the port' : 'that program'}, or ${site.portSetting}`))
  }
  if (errno === 'EACCES' || errno === 'EPERM') {
    if (site.port > 0 && site.port < 1024) {
      return new LyncProxyError('LRP_ERR_LISTEN_PRIVILEGED', `${where}: ports below 1024 need privilege, and this process (uid ${process.getuid?.() ?? '?'}) has none`,
        options(`${PRIVILEGE_FIX}, or use a port from 1024 up: ${site.portSetting}`))
    }
    return new LyncProxyError('LRP_ERR_LISTEN_PRIVILEGED', `${where}: permission denied (${errno}) although the port is not privileged, so a security policy refuses it`,
      options(`allow the bind in the policy that refuses it (SELinux, AppArmor, the container's seccomp profile), or ${site.portSetting}`))
  }
  const change = site.addressSetting ?? site.portSetting
  if (errno === 'EADDRNOTAVAIL') {
    // Linux and Windows answer for all of 127.0.0.0/8; macOS and the BSDs put only 127.0.0.1 on the
    // loopback interface, and the lab's servers each have an address of their own there.
    const loopbackAlias = site.address.startsWith('127.') && site.address !== '127.0.0.1'
      ? `add it to the loopback interface (macOS: sudo ifconfig lo0 alias ${site.address} up; docs/platforms.md lists the lab's addresses), or `
      : ''
    return new LyncProxyError('LRP_ERR_LISTEN_ADDRESS', `${where}: ${site.address} is not an address of this machine (it has ${localAddresses()})`,
      options(`${loopbackAlias}use an address this machine owns: ${change}`))
  }
  if (errno === 'ENOTFOUND' || errno === 'EAI_AGAIN') {
    return new LyncProxyError('LRP_ERR_LISTEN_ADDRESS', `${where}: the host name ${site.address} does not resolve (${errno})`,
      options(`give an IP address of this machine, or a name that resolves to one: ${change}`))
  }
  return new LyncProxyError('LRP_ERR_LISTEN_ADDRESS', `${where}: ${errno ?? (err instanceof Error ? err.message : String(err))}`,
    options(`check the address and port: ${change}`))
}

// The system error code behind a failed listen, also when a coded error already wraps it.
export function listenErrno (err: unknown): string | undefined {
  const inner = err instanceof LyncProxyError ? err.cause : err
  const code = (inner as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

function hostPort (address: string, port: number): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]:${port}` : `${address}:${port}`
}

function localAddresses (): string {
  const all = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address))
  if (all.length === 0) return 'no network addresses'
  return all.length > 8 ? `${all.slice(0, 8).join(', ')}, ...` : all.join(', ')
}

// Which process listens on address:port, from Linux's socket tables: "pid 812 (nginx: master
// process)". Only on the start-up error path, so the synchronous reads cost nothing that matters.
// undefined when it cannot be told (not Linux, or nothing found); a socket whose process belongs
// to another user is still reported, without the process.
function portHolder (address: string, port: number): string | undefined {
  try {
    const wanted = addressBytes(address)
    const inodes = new Set<string>()
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string
      try { text = fs.readFileSync(table, 'utf8') } catch { continue }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/)
        const local = f[1]
        // State 0A is LISTEN; f[9] the socket's inode.
        if (local === undefined || f[3] !== '0A' || f[9] === undefined) continue
        const [hex, portHex] = local.split(':')
        if (hex === undefined || Number.parseInt(portHex ?? '', 16) !== port) continue
        if (wanted === undefined || overlaps(procAddressBytes(hex), wanted)) inodes.add(f[9])
      }
    }
    if (inodes.size === 0) return undefined
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      let fds: string[]
      try { fds = fs.readdirSync(`/proc/${pid}/fd`) } catch { continue }
      for (const fd of fds) {
        let link: string
        try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1]
        if (inode === undefined || !inodes.has(inode)) continue
        if (Number(pid) === process.pid) return `this lyncproxy process (pid ${pid}): two of its servers are given the same address and port`
        let command = ''
        try { command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/[\0\s]+/g, ' ').trim() } catch { /* gone meanwhile */ }
        return `pid ${pid}${command === '' ? '' : ` (${command.length > 100 ? command.slice(0, 97) + '...' : command})`}`
      }
    }
    return 'a process this user may not inspect (another user\'s)'
  } catch {
    return undefined
  }
}

// 16 bytes (IPv4 as ::ffff:a.b.c.d), or undefined for a host name.
function addressBytes (address: string): number[] | undefined {
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a)
  if (v4 !== null) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4.slice(1).map(Number)]
  if (!a.includes(':')) return undefined
  const [head = '', tail] = a.split('::')
  const groups = (s: string): number[] => s === '' ? [] : s.split(':').flatMap((g) => g.includes('.') ? (addressBytes(g)?.slice(12) ?? []) : [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff])
  const h = groups(head)
  const t = tail === undefined ? [] : groups(tail)
  return [...h, ...new Array<number>(16 - h.length - t.length).fill(0), ...t]
}

// /proc/net/tcp{,6} print an address as 32-bit words in host byte order (little-endian here).
function procAddressBytes (hex: string): number[] {
  const bytes: number[] = []
  for (let w = 0; w < hex.length; w += 8) for (let b = 6; b >= 0; b -= 2) bytes.push(Number.parseInt(hex.slice(w + b, w + b + 2), 16))
  return bytes.length === 4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...bytes] : bytes
}

// A wildcard socket takes the port on more than its own address: 0.0.0.0 on every IPv4 address,
// :: (which Node binds dual-stack) on every address.
function overlaps (a: number[], b: number[]): boolean {
  const v4 = (x: number[]): boolean => x.slice(0, 12).join() === '0,0,0,0,0,0,0,0,0,0,255,255'
  const any = (x: number[]): boolean => x.every((v) => v === 0)
  const anyV4 = (x: number[]): boolean => v4(x) && x.slice(12).every((v) => v === 0)
  return any(a) || any(b) || (anyV4(a) && v4(b)) || (anyV4(b) && v4(a)) || a.join() === b.join()
}

// Coded errors carry their exit status; anything else is a bug and exits 1.
export function exitCodeOf (err: unknown): number {
  if (typeof err === 'object' && err !== null && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode
  return 1
}
