// Whether a drawing holds at a given window size, judged from the browser's own layout rather than by
// eye: the boxes of every visible piece of text under a root, taken from the DOM (an SVG text's
// bounding box, an HTML text node's rectangles), must not overlap each other, must not stick out of a
// drawn box they start in, and no arrow (an SVG path marked as an edge) may run through one.
import { readFileSync } from 'node:fs'
import type { Page } from './chromium.js'

export interface Collision {
  kind: 'text-text' | 'text-box' | 'text-edge'
  a: string
  b: string
}

// The in-page function's source, without the export that makes it checkable as a module.
const FIND_COLLISIONS = readFileSync(new URL('./layout-collisions.browser.js', import.meta.url), 'utf8').replace(/^export .*$/m, '')

// The collisions under `rootSelector` at the page's current size: [] when the drawing holds.
// `edges` are the arrows no text may lie on; `boxes` the drawn boxes no text may stick out of.

export async function collisions (page: Page, rootSelector: string, edges = 'path.edge', boxes = 'rect.box'): Promise<Collision[]> {
  return page.evaluate<Collision[]>(`(() => { ${FIND_COLLISIONS}; return findCollisions(${JSON.stringify(rootSelector)}, ${JSON.stringify(edges)}, ${JSON.stringify(boxes)}) })()`)
}

// How many text boxes the check looked at, so that a test can tell a drawing that holds from one
// that drew nothing.
export async function textCount (page: Page, rootSelector: string): Promise<number> {
  return page.evaluate<number>(`[...document.querySelectorAll(${JSON.stringify(rootSelector)})].reduce((n, r) => n + r.querySelectorAll('svg text').length, 0)`)
}
