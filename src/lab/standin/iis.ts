// What makes a stand-in look like a Lync server's IIS from the outside: the identity headers on every
// response and IIS-style error pages. The X-Lab-* headers let proxy tests see which member, which
// port (internal vs external site) and which Host header a request actually arrived with.
import type { FastifyInstance, FastifyReply } from 'fastify'

export function addIisIdentity (app: FastifyInstance, member: string, serverFqdn: string): void {
  // onRequest runs for routed requests and for the 404 handler alike, and headers set here survive
  // error replies, so every response carries them without each route having to remember.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('Server', 'Microsoft-IIS/8.5')
    reply.header('X-Powered-By', 'ASP.NET')
    reply.header('X-MS-Server-Fqdn', serverFqdn)
    reply.header('X-Lab-Member', member)
    reply.header('X-Lab-Port', String(request.raw.socket.localPort ?? ''))
    reply.header('X-Lab-Host', request.headers.host ?? '')
  })
}

function errorPage (status: string, heading: string, detail: string): string {
  return '<!DOCTYPE html>\r\n<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n' +
    '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n' +
    `<title>${status}</title>\r\n</head>\r\n<body>\r\n<div id="header"><h1>Server Error</h1></div>\r\n` +
    `<div id="content">\r\n <div class="content-container"><fieldset>\r\n  <h2>${heading}</h2>\r\n` +
    `  <h3>${detail}</h3>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n`
}

export function sendIisError (reply: FastifyReply, status: number, heading: string, detail: string): FastifyReply {
  return reply.code(status).type('text/html').send(errorPage(`${status} - ${heading}`, `${status} - ${heading}`, detail))
}

export function sendIisNotFound (reply: FastifyReply): FastifyReply {
  return sendIisError(reply, 404, 'File or directory not found.', 'The requested resource does not exist on this lab server.')
}

// The page IIS serves with a 401 challenge; the challenge itself is in WWW-Authenticate.
export function sendIisUnauthorized (reply: FastifyReply, challenges: string[]): FastifyReply {
  // An array makes Node write one WWW-Authenticate line per scheme, as IIS does; clients such as
  // curl pick the scheme from separate lines.
  reply.header('WWW-Authenticate', challenges)
  return sendIisError(reply, 401, 'Unauthorized: Access is denied due to invalid credentials.',
    'The credentials supplied do not grant access to this resource.')
}

export function sendIisMethodNotAllowed (reply: FastifyReply, allow: string): FastifyReply {
  reply.header('Allow', allow)
  return sendIisError(reply, 405, 'HTTP verb used to access this page is not allowed.', `This resource accepts ${allow}.`)
}
