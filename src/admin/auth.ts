// The optional bearer token of the admin plane. It is read once at start from the environment
// variable or file the config names. Browsers cannot put a header on a page load, the page's
// <script> and <link>, or an EventSource, so on GET routes the teaching page may pass it as ?token=.
// GETs change nothing. A POST takes it from the Authorization header only: a token in a URL ends up
// in browser history, shell history and access logs, and a link that carries it would make a
// state change of a click; the page's own fetches can always set the header.
import { timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedConfig } from '../config/defaults.js'
import { LyncProxyError } from '../errors.js'

export function resolveAdminToken (admin: ResolvedConfig['admin'], env: NodeJS.ProcessEnv, baseDir: string): string | undefined {
  if (admin.tokenEnv !== undefined) {
    const value = env[admin.tokenEnv]
    if (value !== undefined && value !== '') return value
    if (admin.tokenFile === undefined) {
      throw new LyncProxyError('LRP_ERR_CONFIG_REFERENCE', `admin.tokenEnv names the environment variable ${admin.tokenEnv}, which is not set`, {
        location: { path: '/admin/tokenEnv' },
        fix: `set ${admin.tokenEnv} in the environment of lyncproxy, or remove admin.tokenEnv to run the admin plane without a token`,
      })
    }
  }
  if (admin.tokenFile !== undefined) {
    const file = path.resolve(baseDir, admin.tokenFile)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new LyncProxyError('LRP_ERR_CONFIG_READ', `cannot read the admin token file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        location: { file, path: '/admin/tokenFile' },
        fix: `create ${file} holding the token (mode 0600), or correct admin.tokenFile`,
        cause: err,
      })
    }
    // `echo token > file` adds a newline that is not part of the token.
    const token = text.replace(/[\r\n]+$/, '')
    if (token === '') {
      throw new LyncProxyError('LRP_ERR_CONFIG_READ', `the admin token file ${file} is empty`, { location: { file, path: '/admin/tokenFile' }, fix: 'write the token into the file' })
    }
    return token
  }
  return undefined
}

const QUERY_TOKEN_METHODS = new Set(['GET', 'HEAD'])

// A fastify onRequest hook: every route but the liveness probe needs the token.
export function requireToken (token: string, open: ReadonlySet<string>) {
  const expected = Buffer.from(token)
  return async function checkToken (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (open.has(request.routeOptions.url ?? '')) return undefined
    const header = request.headers.authorization ?? ''
    const queryAllowed = QUERY_TOKEN_METHODS.has(request.method)
    const fromQuery = (request.query as { token?: unknown } | undefined)?.token
    const given = header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : queryAllowed && typeof fromQuery === 'string' ? fromQuery : ''
    const candidate = Buffer.from(given)
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) return undefined
    const message = !queryAllowed && fromQuery !== undefined && header === ''
      ? `${request.method} requests take the token from the Authorization header only (Authorization: Bearer <token>), never from ?token=`
      : 'this admin plane needs its token: Authorization: Bearer <token>, or ?token=<token> on a GET in a browser'
    return reply.code(401).header('WWW-Authenticate', 'Bearer realm="lyncproxy admin"').send({ error: 'unauthorized', message })
  }
}
