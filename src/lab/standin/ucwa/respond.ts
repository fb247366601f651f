// How UCWA answers: JSON bodies, and its error body (ErrorsAndInformationalMessages.md, "Error
// response body": code, then subcode and message).
import { gzipSync } from 'node:zlib'
import type { FastifyReply } from 'fastify'
import { acceptsGzip } from './accept-encoding.js'
import { toUcwaXml, xmlTypeWanted } from './xml.js'

// A UCWA answer in the representation the client prefers (JSON unless its Accept prefers UCWA's
// XML, xml.ts), compressed as IIS's dynamic compression does: gzip when the client's
// Accept-Encoding allows it, and Vary either way so that a cache keeps the variants apart.
export function sendUcwa (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  const xmlType = xmlTypeWanted(reply.request.headers.accept)
  const text = xmlType === undefined ? JSON.stringify(body) : toUcwaXml(body)
  reply.code(status).type(`${xmlType ?? 'application/json'}; charset=utf-8`).header('Vary', 'Accept, Accept-Encoding')
  if (!acceptsGzip(reply.request.headers['accept-encoding'])) return reply.send(text)
  return reply.header('Content-Encoding', 'gzip').send(gzipSync(text))
}

export function sendUcwaError (reply: FastifyReply, status: number, code: string, subcode: string | undefined, message: string): FastifyReply {
  return sendUcwa(reply, status, subcode === undefined ? { code, message } : { code, subcode, message })
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
