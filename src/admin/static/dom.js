// @ts-check
// Building the page: elements made here, never HTML strings, so that everything that came from a
// client (hosts, paths, header values) reaches the page as text.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs] `class`, `text` (the content), or attributes; null, undefined and false are left out
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = String(v)
    else if (k === 'text') node.textContent = String(v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c)
  return node
}

const SVG = 'http://www.w3.org/2000/svg'

/**
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | null | undefined>} [attrs]
 * @param {string} [text]
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg (tag, attrs = {}, text) {
  const node = /** @type {SVGElementTagNameMap[K]} */ (document.createElementNS(SVG, tag))
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

// The page's own elements: a missing one is a bug in index.html, said as such.
/** @param {string} id */
export function byId (id) {
  const node = document.getElementById(id)
  if (node === null) throw new Error(`the page has no #${id}`)
  return node
}

/**
 * @template {Element} T
 * @param {string} selector
 * @returns {T}
 */
export function one (selector) {
  const node = document.querySelector(selector)
  if (node === null) throw new Error(`the page has no ${selector}`)
  return /** @type {T} */ (node)
}

/** @param {number} status */
export const statusClass = (status) => status >= 200 && status < 600 ? 's' + Math.floor(status / 100) : ''

/**
 * @param {string} text
 * @param {number} n
 */
export function clip (text, n) { return text.length > n ? text.slice(0, n - 1) + '…' : text }
