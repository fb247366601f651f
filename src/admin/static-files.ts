// The teaching page's files: plain HTML, CSS and JavaScript read once at start, no build step and
// no CDN, because a lab is often offline.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StaticFile { body: Buffer, type: string }

// What /static/:file serves (its schema allows these names only); the page itself is served at /.
// app.js is the page's entry module; the others are the modules it imports. A new module must be
// listed here (test/admin-plane.test.ts checks every file of the directory is served).
export const ASSET_NAMES = [
  'app.js', 'api.js', 'diagram.js', 'dom.js', 'edge-counts.js', 'firewall.js', 'flow-feed.js', 'graph-layout.js', 'headers-panel.js', 'port-tables.js',
  'text-size.js', 'try-it.js',
  'flow-groups.js', 'flow-view.js', 'har-replay.js', 'live-window.js', 'sequence-diagram.js',
  'style.css', 'flows.css',
] as const

// Other people's browser modules, served at /static/vendor/<name> straight from their installed
// packages (runtime dependencies), so nothing of theirs is copied into this tree and an npm update
// updates the page. dagre lays out both drawings: it puts nodes in ranks, orders each rank to cut
// crossings, and gives every edge label a slot of its own beside its edge, so no label sits on a
// curve or on another box; its ES module bundles graphlib and imports nothing.
export const VENDOR_NAMES = ['dagre.js'] as const
const VENDOR_FILES: Record<typeof VENDOR_NAMES[number], { pkg: string, file: string }> = {
  'dagre.js': { pkg: '@dagrejs/dagre', file: 'dist/dagre.esm.js' },
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
}

// From src/admin/ the files are beside this module; tsc does not copy them, so from dist/admin/
// they are read from the package's src/admin/static.
function staticDir (): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.join(here, 'static'), path.resolve(here, '../../src/admin/static')]
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')))
  if (found === undefined) throw new Error(`the teaching page's files are missing (looked in ${candidates.join(', ')})`)
  return found
}

export function loadStaticFiles (): Map<string, StaticFile> {
  const dir = staticDir()
  const files = new Map<string, StaticFile>()
  for (const name of ['index.html', ...ASSET_NAMES]) {
    files.set(name, { body: readFileSync(path.join(dir, name)), type: TYPES[path.extname(name)]! })
  }
  const require = createRequire(import.meta.url)
  for (const name of VENDOR_NAMES) {
    const { pkg, file } = VENDOR_FILES[name]
    // The package's exports name only its entry points; its package.json is exported, and the file
    // sits beside it.
    const source = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file)
    // The source map is not served, and a browser with its tools open would ask for it.
    const body = readFileSync(source, 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n')
    files.set(`vendor/${name}`, { body: Buffer.from(body), type: TYPES[path.extname(name)]! })
  }
  return files
}
