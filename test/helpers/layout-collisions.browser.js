// @ts-check
// Runs in the page under test (test/helpers/layout-check.ts sends its source): the text boxes of a
// drawing from the browser's own layout, and the ways they collide. Plain JavaScript with JSDoc types,
// checked with the teaching page's modules (src/admin/static/tsconfig.json), because it needs the
// DOM's types and the rest of the tests must not have them.
/**
 * @param {string} rootSelector
 * @param {string} edgeSelector
 * @param {string} boxSelector
 * @returns {Array<{ kind: 'text-text' | 'text-box' | 'text-edge', a: string, b: string }>}
 */
function findCollisions (rootSelector, edgeSelector, boxSelector) {
  /** @typedef {{ label: string, left: number, top: number, right: number, bottom: number }} Box */
  /** @param {Element} el */
  const visible = (el) => {
    const style = getComputedStyle(el)
    return style.visibility !== 'hidden' && style.display !== 'none' && Number(style.opacity) > 0
  }
  /** @param {DOMRect} r @param {string} label @returns {Box} */
  const boxOf = (r, label) => ({ label, left: r.left, top: r.top, right: r.right, bottom: r.bottom })
  /** @type {Box[]} */
  const texts = []
  /** @param {Element} el @param {string} text */
  const describe = (el, text) => {
    const id = el.closest('[data-key],[data-rule],[data-step],[data-row],[id]')
    const where = id === null ? el.tagName : `${id.tagName}${id.id === '' ? '' : '#' + id.id}${[...id.attributes].filter((a) => a.name.startsWith('data-')).map((a) => `[${a.name}=${a.value}]`).join('')}`
    return `"${text.trim().slice(0, 60)}" in ${where}`
  }
  for (const root of document.querySelectorAll(rootSelector)) {
    for (const t of root.querySelectorAll('svg text')) {
      if (!visible(t) || (t.textContent ?? '').trim() === '') continue
      const r = t.getBoundingClientRect()
      if (r.width > 0 && r.height > 0) texts.push(boxOf(r, describe(t, t.textContent ?? '')))
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
      const parent = n.parentElement
      if (parent === null || parent.closest('svg') !== null || (n.textContent ?? '').trim() === '' || !visible(parent)) continue
      if (parent.closest('[hidden]') !== null) continue
      const range = document.createRange()
      range.selectNodeContents(n)
      for (const r of range.getClientRects()) if (r.width > 0 && r.height > 0) texts.push(boxOf(r, describe(parent, n.textContent ?? '')))
    }
  }
  // Glyph boxes of neighbouring lines touch; a pixel of slack keeps that from counting.
  const slack = 1
  /** @param {Box} a @param {Box} b */
  const overlap = (a, b) => a.left < b.right - slack && b.left < a.right - slack && a.top < b.bottom - slack && b.top < a.bottom - slack
  /** @param {Box} a @param {Box} b */
  const inside = (a, b) => a.left >= b.left - slack && a.right <= b.right + slack && a.top >= b.top - slack && a.bottom <= b.bottom + slack
  /** @type {Array<{ kind: 'text-text' | 'text-box' | 'text-edge', a: string, b: string }>} */
  const out = []
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) if (overlap(texts[i], texts[j])) out.push({ kind: 'text-text', a: texts[i].label, b: texts[j].label })
  }
  for (const root of document.querySelectorAll(rootSelector)) {
    for (const shape of root.querySelectorAll(boxSelector)) {
      if (!visible(shape)) continue
      const box = boxOf(shape.getBoundingClientRect(), describe(shape, shape.tagName))
      // A text that starts inside a box must end inside it: anything else crosses the box's border.
      for (const t of texts) {
        const starts = t.left >= box.left && t.left < box.right && t.top >= box.top && t.top < box.bottom
        if (starts && !inside(t, box)) out.push({ kind: 'text-box', a: t.label, b: box.label })
      }
    }
    for (const path of root.querySelectorAll(edgeSelector)) {
      if (!(path instanceof SVGGeometryElement) || !visible(path)) continue
      const matrix = path.getScreenCTM()
      if (matrix === null) continue
      const length = path.getTotalLength()
      /** @type {Set<Box>} */
  const hit = new Set()
      for (let at = 0; at <= length; at += 3) {
        const p = path.getPointAtLength(at)
        const x = matrix.a * p.x + matrix.c * p.y + matrix.e
        const y = matrix.b * p.x + matrix.d * p.y + matrix.f
        for (const t of texts) if (!hit.has(t) && x > t.left + slack && x < t.right - slack && y > t.top + slack && y < t.bottom - slack) hit.add(t)
      }
      for (const t of hit) out.push({ kind: 'text-edge', a: t.label, b: describe(path, path.getAttribute('data-edge') ?? 'edge') })
    }
  }
  return out
}

export { findCollisions }
