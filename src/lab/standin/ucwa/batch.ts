// UCWA's batch resource (batch_ref.md, BatchingRequests.md): one POST of multipart/batching whose
// parts are requests to this application's resources, answered with one part per request, in order.
// Each part is handed to this same site as a request of its own, with the batch's credentials, so
// it gets exactly the answer it would have got alone.
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Site, StandInContext } from '../context.js'
import { callerApplication, type AppRequest } from './caller.js'
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
    const application = callerApplication(request, reply, ctx, site)
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
    return reply.code(200).header('Cache-Control', 'no-cache').type(`multipart/batching; boundary="${out}"`).send(formatBatchAnswer(answers, out))
  })
}

async function answer (app: FastifyInstance, part: BatchPart, own: string, outer: AppRequest): Promise<BatchAnswer> {
  const path = part.path.toLowerCase().split('?')[0] ?? ''
  // BatchingRequests.md: a batch holds any request but another batch, a photo or an event channel.
  const refused = !path.startsWith(own)
    ? 'A batch holds requests to its own application only.'
    : /\/(?:batch|events)$/.test(path) || path.includes('/photos/')
      ? 'A batch cannot hold a batch, photo or events request.'
      : undefined
  if (refused !== undefined) return errorAnswer(400, 'BadRequest', refused)
  if (!METHODS.has(part.method)) return errorAnswer(405, 'MethodNotAllowed', `${part.method} is not a UCWA method.`)
  const headers: Record<string, string> = {}
  for (const [name, value] of part.headers) headers[name.toLowerCase()] = value
  // The part is answered as the batch's caller, over the batch's own Host; compression is the
  // batch's business, not each part's.
  headers.host = outer.headers.host ?? ''
  if (headers.authorization === undefined && outer.headers.authorization !== undefined) headers.authorization = outer.headers.authorization
  delete headers['accept-encoding']
  delete headers['content-length']
  const res = await app.inject({ method: part.method as 'GET' | 'POST' | 'PUT' | 'DELETE', url: part.path, headers, payload: part.body })
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
