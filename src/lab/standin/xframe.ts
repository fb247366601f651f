// The cross-domain frame (Cross_domainIFRAME.md, xframe_ref.md): a browser application on another
// origin cannot send XHRs to the pool, so it loads this page in a hidden iframe and posts its
// requests to it; the page makes them on its own origin and posts the answers back. The request is
// the JSON string Cross_domainIFRAME.md gives (type, url, accepts, contentType, data, headers,
// messageId; the reference's samples put Accept and Content-Type among the headers instead); the
// answer has status, statusText, responseText, headers and the request's messageId. Each request
// carries the parent's origin in X-Ms-Origin and X-Requested-With: XMLHttpRequest, as the pool's
// frame sends them (CreateAnApplication.md, step 1), and the pool checks X-Ms-Origin against its
// allowed list (cross-domain.ts).
import type { FastifyInstance } from 'fastify'
import { XFRAME } from './rewrite.js'

// Runs in the browser. A message that is not such a request is ignored; a request to another origin
// fails in the browser itself (status 0), as it would through a pool's frame.
const BRIDGE = `
addEventListener('message', function (event) {
  var request
  try { request = typeof event.data === 'string' ? JSON.parse(event.data) : event.data } catch (e) { return }
  if (request === null || typeof request !== 'object' || typeof request.url !== 'string') return
  var headers = request.headers && typeof request.headers === 'object' ? request.headers : {}
  var xhr = new XMLHttpRequest()
  var answer = function (status, statusText, responseText, responseHeaders) {
    event.source.postMessage(JSON.stringify({ status: status, statusText: statusText, responseText: responseText, headers: responseHeaders, messageId: request.messageId }), event.origin)
  }
  try {
    xhr.open(String(request.type || 'GET').toUpperCase(), request.url, true)
    if (request.xhrFields && request.xhrFields.withCredentials === true) xhr.withCredentials = true
    if (request.accepts) xhr.setRequestHeader('Accept', request.accepts)
    if (request.contentType) xhr.setRequestHeader('Content-Type', request.contentType)
    // The frame alone says where a request comes from: a page's own X-Ms-Origin would be joined to
    // it by XHR, and could name an origin the pool lists.
    for (var name in headers) {
      if (/^x-ms-origin$|^x-requested-with$/i.test(name)) continue
      if (headers[name] !== '' && headers[name] !== undefined && headers[name] !== null) xhr.setRequestHeader(name, headers[name])
    }
    xhr.setRequestHeader('X-Ms-Origin', event.origin)
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest')
  } catch (e) {
    answer(0, String(e && e.message), '', '')
    return
  }
  xhr.onreadystatechange = function () {
    if (xhr.readyState === 4) answer(xhr.status, xhr.statusText, xhr.responseText, xhr.getAllResponseHeaders())
  }
  xhr.send(request.data === undefined || request.data === '' ? null : request.data)
})
`

const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>XFrame</title></head>
<body><script>${BRIDGE}</script></body></html>
`

export function registerXFrame (app: FastifyInstance): void {
  app.get(XFRAME, async (_request, reply) => reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(PAGE))
}
