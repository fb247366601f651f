// UCWA's batch resource (batch_ref.md, BatchingRequests.md): one POST of multipart/batching whose
// parts are requests to this application's resources, answered with one part per request, in order.
// Each part is handed to this same site as a request of its own, with the batch's credentials, so
// it gets exactly the answer it would have got alone.
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { callerApplication, type AppRequest } from './caller.js'
import { acceptsGzip } from './accept-encoding.js'
import { APPLICATIONS_PATH } from './applications.js'
import { batchBoundary, formatBatchAnswer, parseBatch, type BatchAnswer, type BatchPart } from './batch-mime.js'
import { sendUcwaError } from './respond.js'

// BatchingRequests.md, "Limitations": 100 outstanding requests per user; more in one batch is 429
// and none of them runs.
const MAX_PARTS = 100
// Sub-answers keep these, as spelled here; the framing (length, encoding, connection) is the batch's.
const KEPT_HEADERS = new Map([['content-type', 'Content-Type'], ['location', 'Location'], ['etag', 'ETag'], ['cache-control', 'Cache-Control'], ['x-ms-diagnostics', 'X-Ms-diagnostics']])
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE'])

export function registerBatch (app: FastifyInstance, ctx: StandInContext, site: Site): void {
  app.post(`${APPLICATIONS_PATH}/:id/batch`, async (request: AppRequest, reply) => {
    // Each part is checked again as a request of its own, so a guest's batch reaches what a guest may.
    const application = callerApplication(request, reply, ctx, site, { guests: true })
    if (application === undefined) return reply
    const boundary = batchBoundary(request.headers['content-type'])
    if (boundary === undefined) return sendUcwaError(reply, 415, 'UnsupportedMediaType', undefined, 'A batch is multipart/batching with a boundary.')
    const parts = parseBatch(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), boundary)
    if (typeof parts === 'string') return sendUcwaError(reply, 400, 'BadRequest', 'DeserializationFailure', `The batch could not be read: ${parts}.`)
    if (parts.length > MAX_PARTS) return sendUcwaError(reply, 429, 'TooManyRequests', undefined, `A batch may hold up to ${MAX_PARTS} requests; none of these ${parts.length} was run.`)

    const own = `${APPLICATIONS_PATH}/${application.id}/`.toLowerCase()
    const answers: BatchAnswer[] = []
    for (const part of parts) answers.push(await answer(app, part, own, request))
    const out = randomUUID()
    const body = formatBatchAnswer(answers, out)
    reply.code(200).header('Cache-Control', 'no-cache').header('Vary', 'Accept-Encoding').type(`multipart/batching; boundary="${out}"`)
    return acceptsGzip(request.headers['accept-encoding']) ? reply.header('Content-Encoding', 'gzip').send(gzipSync(body)) : reply.send(body)
  })
}

// The part's path as the router will see it: dot segments resolved, %-escapes decoded, no trailing
// slash, in lower case (the router ignores case and a trailing slash). Undefined when it cannot be read.
function routedPath (path: string): { checked: string, target: string } | undefined {
  try {
    const url = new URL(path, 'http://batch.invalid')
    return { checked: decodeURIComponent(url.pathname).toLowerCase().replace(/\/+$/, ''), target: url.pathname + url.search }
  } catch {
    return undefined
  }
}

async function answer (app: FastifyInstance, part: BatchPart, own: string, outer: AppRequest): Promise<BatchAnswer> {
  const routed = routedPath(part.path)
  if (routed === undefined) return errorAnswer(400, 'BadRequest', 'The request path cannot be read.')
  const path = routed.checked
  // BatchingRequests.md: a batch holds any request but another batch, a photo or an event channel.
  const refused = path !== own.slice(0, -1) && !path.startsWith(own)
    ? 'A batch holds requests to its own application only.'
    : /\/(?:batch|events)$/.test(path) || path.includes('/photos/')
      ? 'A batch cannot hold a batch, photo or events request.'
      : undefined
  if (refused !== undefined) return errorAnswer(400, 'BadRequest', refused)
  if (!METHODS.has(part.method)) return errorAnswer(405, 'MethodNotAllowed', `${part.method} is not a UCWA method.`)
  const headers: Record<string, string> = {}
  for (const [name, value] of part.headers) headers[name.toLowerCase()] = value
  // The part is answered as the batch's caller (either way a ticket may come, bearer.ts), over the
  // batch's own Host. Each part's answer is uncompressed: the batch's answer is compressed whole.
  headers.host = outer.headers.host ?? ''
  if (headers.authorization === undefined && headers['x-ms-webticket'] === undefined) {
    for (const name of ['authorization', 'x-ms-webticket']) {
      const value = outer.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
  }
  delete headers['accept-encoding']
  delete headers['content-length']
  const res = await app.inject({ method: part.method as 'GET' | 'POST' | 'PUT' | 'DELETE', url: routed.target, headers, payload: part.body })
  const kept: Array<[string, string]> = []
  for (const [name, value] of Object.entries(res.headers)) {
    const spelled = KEPT_HEADERS.get(name)
    if (spelled !== undefined && value !== undefined) kept.push([spelled, String(value)])
  }
  return { status: res.statusCode, reason: STATUS_CODES[res.statusCode] ?? '', headers: kept, body: res.rawPayload }
}

function errorAnswer (status: number, code: string, message: string): BatchAnswer {
  return { status, reason: STATUS_CODES[status] ?? '', headers: [['Content-Type', 'application/json; charset=utf-8']], body: Buffer.from(JSON.stringify({ code, message })) }
}
