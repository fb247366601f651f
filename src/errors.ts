// The one registry of start-up and configuration errors. Every error an operator can meet before the
// proxy serves traffic has a stable code, a message, and the fix. Request-path failures are not here:
// they map to HTTP statuses in src/forward/failure.ts.

export const ErrorCodes = {
  LRP_ERR_CONFIG_READ: { exit: 2, fix: 'check the path given with -c and that the file is readable' },
  LRP_ERR_CONFIG_SYNTAX: { exit: 2, fix: 'fix the YAML syntax at the line shown' },
  LRP_ERR_CONFIG_SCHEMA: { exit: 2, fix: 'change the value at the path shown so that it matches the schema' },
  LRP_ERR_CONFIG_REFERENCE: { exit: 2, fix: 'name an item that is defined, or define it' },
  LRP_ERR_CONFIG_CONFLICT: { exit: 2, fix: 'make the two settings agree' },
  LRP_ERR_CERT_LOAD: { exit: 3, fix: 'check the certificate and key files and the passphrase' },
  LRP_ERR_CERT_PASSPHRASE: { exit: 3, fix: 'set the environment variable or create the file named by passphraseEnv/passphraseFile' },
  LRP_ERR_LISTEN_PRIVILEGED: { exit: 4, fix: 'run as root, grant CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep "$(command -v node)"), or set LYNCPROXY_HTTP_PORT / LYNCPROXY_HTTPS_PORT' },
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
