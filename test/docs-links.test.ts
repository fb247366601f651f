// Every relative link and picture of the docs names a file of the checkout: a reader who follows
// README.md to docs/teaching.md, or looks at the flow view's screenshot, finds it there. A picture
// must be a PNG that a browser can draw (its signature and a non-empty image header).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

const root = path.resolve(import.meta.dirname, '..')
const docs = ['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

// [text](target) and ![alt](target), outside code: fenced blocks and `spans` are examples, not links.
function links (markdown: string): Array<{ target: string, image: boolean, line: number }> {
  const out: Array<{ target: string, image: boolean, line: number }> = []
  let fenced = false
  markdown.split('\n').forEach((text, i) => {
    if (/^\s*```/.test(text)) { fenced = !fenced; return }
    if (fenced) return
    for (const m of text.replace(/`[^`]*`/g, '').matchAll(/(!?)\[[^\]]*\]\(([^)\s]+)\)/g)) out.push({ target: m[2]!, image: m[1] === '!', line: i + 1 })
  })
  return out
}

t.test('the docs link only to files that exist', async (t) => {
  let images = 0
  for (const doc of docs) {
    for (const { target, image, line } of links(fs.readFileSync(path.join(root, doc), 'utf8'))) {
      if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue
      const file = path.resolve(path.dirname(path.join(root, doc)), decodeURIComponent(target.replace(/#.*$/, '')))
      t.ok(fs.existsSync(file), `${doc}:${line}: ${target} exists`)
      if (!image) continue
      images++
      const head = fs.readFileSync(file).subarray(0, 24)
      t.ok(head.subarray(0, 8).equals(PNG) && head.readUInt32BE(16) > 0 && head.readUInt32BE(20) > 0, `${doc}:${line}: ${target} is a PNG with a size`)
    }
  }
  t.ok(images > 0, `the docs show ${images} pictures`)
  t.match(fs.readFileSync(path.join(root, 'README.md'), 'utf8'), /!\[[^\]]*flow view[^\]]*\]\(docs\/img\/flow-view\.png\)[\s\S]*Replay a HAR file/, 'the README shows the flow view and says how to replay a lesson')
})
