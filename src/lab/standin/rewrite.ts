// The URL rewriting that Lync setup configures in IIS on FE and Director servers: the lyncdiscover,
// meet and dialin host names are mapped onto virtual directories before routing. Done as fastify's
// rewriteUrl so the routes below only deal with vdir paths, like the real IIS applications.
import type { IncomingMessage } from 'node:http'
import { simpleUrlHost } from './host.js'

export const AUTODISCOVER_ROOT = '/Autodiscover/AutodiscoverService.svc/root'
// The cross-domain frame (xframe.ts), which the root links to.
export const XFRAME = '/Autodiscover/XFrame/XFrame.html'

function splitUrl (url: string): { path: string; query: string } {
  const q = url.indexOf('?')
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) }
}

// True when `path` is `prefix` or lies below it, ignoring case as IIS does.
export function underVdir (path: string, prefix: string): boolean {
  const p = path.toLowerCase()
  const v = prefix.toLowerCase()
  return p === v || p.startsWith(v + '/')
}

export function rewriteLyncUrl (req: IncomingMessage): string {
  const url = req.url ?? '/'
  const { path, query } = splitUrl(url)
  switch (simpleUrlHost(req.headers.host)) {
    case 'lyncdiscover':
      // Any path on the lyncdiscover host is the autodiscover service (clients and recon tools try /,
      // /?sipuri=, even /dialin/); paths already inside the service keep their resource. /xframe is
      // the cross-domain frame a browser application discovers through (CreateAnApplication.md, step
      // 1: its GET on the root comes from https://lyncdiscover.<domain>/xframe).
      if (path.toLowerCase() === '/xframe') return XFRAME + query
      return underVdir(path, '/Autodiscover') ? url : AUTODISCOVER_ROOT + query
    case 'meet':
      // https://meet.contoso.com/<alias>/<id> is the /Meet vdir.
      return underVdir(path, '/meet') ? url : '/meet' + (path === '/' ? '' : path) + query
    case 'dialin':
      return underVdir(path, '/dialin') ? url : '/dialin' + (path === '/' ? '' : path) + query
    default:
      return url
  }
}
