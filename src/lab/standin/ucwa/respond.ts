// How UCWA answers: JSON bodies, and its error body (ErrorsAndInformationalMessages.md, "Error
// response body": code, then subcode and message).
import type { FastifyReply } from 'fastify'

export function sendJson (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body))
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
