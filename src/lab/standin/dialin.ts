// The Dial-In Conferencing page (/Dialin vdir, reached as https://dialin.<domain>/). Only its
// existence and title matter to the proxy: reaching it proves the Host header was kept.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { StandInContext } from './context.js'
import { escapeMarkup } from './markup.js'

export function registerDialin (app: FastifyInstance, ctx: StandInContext): void {
  const body = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Dial-In Conferencing Settings</title></head>\n' +
    `<body>\n<h1>Dial-In Conferencing</h1>\n<p>Access numbers for ${escapeMarkup(ctx.spec.topology.sipDomain)} (lab, not dialable):</p>\n` +
    '<table><tr><th>Region</th><th>Number</th></tr><tr><td>Lab</td><td>+1 (425) 555-0100</td></tr></table>\n</body></html>\n'
  const send = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    return reply.type('text/html; charset=utf-8').send(body)
  }
  app.get('/dialin', send)
  app.get('/dialin/*', send)
}
