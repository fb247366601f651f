// How UCWA answers: JSON bodies, and its error body (ErrorsAndInformationalMessages.md, "Error
// response body": code, then subcode and message).
import { gzipSync } from 'node:zlib'
import type { FastifyReply } from 'fastify'
import { acceptsGzip } from './accept-encoding.js'

// IIS's dynamic compression, which the UCWA virtual directory has: gzip when the client's
// Accept-Encoding allows it, and Vary either way so that a cache keeps the two apart.
export function sendJson (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  const json = JSON.stringify(body)
  reply.code(status).type('application/json; charset=utf-8').header('Vary', 'Accept-Encoding')
  if (!acceptsGzip(reply.request.headers['accept-encoding'])) return reply.send(json)
  return reply.header('Content-Encoding', 'gzip').send(gzipSync(json))
}

export function sendUcwaError (reply: FastifyReply, status: number, code: string, subcode: string | undefined, message: string): FastifyReply {
  return sendJson(reply, status, subcode === undefined ? { code, message } : { code, subcode, message })
}

export function sendAppNotFound (reply: FastifyReply): FastifyReply {
  return sendUcwaError(reply, 404, 'NotFound', 'ApplicationNotFound', 'The application does not exist on this server.')
}

export function parseJson (body: unknown): Record<string, unknown> | undefined {
  if (!Buffer.isBuffer(body)) return undefined
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

// A POST body where an empty one is allowed (makeMeAvailable with defaults, a reset of presence,
// an invitation with only query parameters): undefined when empty, 'invalid' when not a JSON object.
export function optionalJsonBody (body: unknown): Record<string, unknown> | undefined | 'invalid' {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined
  return parseJson(body) ?? 'invalid'
}

// A property of a client's JSON, its name matched without regard to case: the reference writes
// camelCase, its walk-throughs send PascalCase (CreateAnApplication.md, GetMyPresenceInformation.md).
export function property (body: Record<string, unknown> | undefined, name: string): unknown {
  if (body === undefined) return undefined
  const lower = name.toLowerCase()
  for (const [k, v] of Object.entries(body)) if (k.toLowerCase() === lower) return v
  return undefined
}
