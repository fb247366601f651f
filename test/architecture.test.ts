// The layering ARCHITECTURE.md draws, checked against the imports as they are. The document's rank
// table ("Who imports whom") is the one source: a room (a directory under src/, or a file directly
// in it) may import only rooms in rows below its own. Every import counts, `import type` and
// dynamic `import()` included, since each is a dependency a reader has to follow. A room that is not
// in the table fails the test until someone places it, so the document cannot fall behind the code.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src')

// The rooms of the table, top row first: each row's rooms, as written in the document.
function rankTable (): string[][] {
  const doc = readFileSync(path.join(root, 'ARCHITECTURE.md'), 'utf8')
  const start = doc.indexOf('## Who imports whom')
  if (start < 0) throw new Error('ARCHITECTURE.md has no "## Who imports whom" section')
  const end = doc.indexOf('\n## ', start + 1)
  const rows: string[][] = []
  for (const line of doc.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    // | rank | rooms | what they hold |
    if (cells.length < 4 || !/^\d+$/.test(cells[1]!)) continue
    rows.push([...cells[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, '').replace(/\.ts$/, '')))
  }
  return rows
}

// src/forward/forward.ts → 'forward'; src/errors.ts → 'errors'.
function roomOf (file: string): string {
  const parts = path.relative(src, file).split(path.sep)
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!
}

function sourceFiles (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(p))
    else if (entry.name.endsWith('.ts')) out.push(p)
  }
  return out
}

// The project files a source file imports (relative specifiers only: packages are not rooms).
function importsOf (file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.resolve(path.dirname(file), name).replace(/\.js$/, '.ts'))
}

const files = sourceFiles(src)
const graph = new Map(files.map((f) => [f, importsOf(f)]))
const ranks = rankTable()
const rankOf = new Map<string, number>()
ranks.forEach((rooms, i) => { for (const room of rooms) rankOf.set(room, i) })
const rel = (f: string): string => path.relative(root, f)

t.test('the document has a rank table', async (t) => {
  t.ok(ranks.length >= 8, `ARCHITECTURE.md lists ${ranks.length} ranks`)
  t.ok(rankOf.has('edge') && rankOf.has('forward') && rankOf.has('respond'), 'the request path rooms are placed')
})

t.test('every room under src/ is placed in the table', async (t) => {
  const unplaced = [...new Set(files.map(roomOf))].filter((room) => !rankOf.has(room)).sort()
  t.same(unplaced, [], 'a new room goes into ARCHITECTURE.md\'s "Who imports whom" table')
  const gone = [...rankOf.keys()].filter((room) => !files.some((f) => roomOf(f) === room)).sort()
  t.same(gone, [], 'the table names only rooms that exist')
})

t.test('imports point only down the table', async (t) => {
  const upward: string[] = []
  for (const [file, targets] of graph) {
    const from = roomOf(file)
    for (const target of targets) {
      const to = roomOf(target)
      if (to === from) continue
      const a = rankOf.get(from)
      const b = rankOf.get(to)
      if (a === undefined || b === undefined) continue // reported by the test above
      if (b <= a) upward.push(`${rel(file)} → ${rel(target)} (${from}/ is rank ${a + 1}, ${to}/ is rank ${b + 1})`)
    }
  }
  t.same(upward, [], 'no import runs up the table or sideways within a row')
})

t.test('the data plane imports nothing from the shells', async (t) => {
  // Said separately, in the words of the house rule, so a failure reads as the rule it breaks.
  const dataPlane = new Set(['edge', 'routing', 'upstream', 'forward', 'respond', 'l4', 'observe', 'tls'])
  const shells = new Set(['admin', 'lab', 'cli', 'cluster', 'control', 'explain', 'probe', 'lint', 'ports'])
  const found: string[] = []
  for (const [file, targets] of graph) {
    if (!dataPlane.has(roomOf(file))) continue
    for (const target of targets) if (shells.has(roomOf(target))) found.push(`${rel(file)} → ${rel(target)}`)
  }
  t.same(found, [])
})

t.test('no two source files import each other, directly or round a circle', async (t) => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(' → '))
      else if (state.get(next) === undefined && graph.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of files) if (state.get(file) === undefined) visit(file)
  t.same(cycles, [])
})

t.test('the checks see real imports', async (t) => {
  // Guards the test itself: if the import reader found nothing, every check above would pass.
  const forward = graph.get(path.join(src, 'forward', 'forward.ts')) ?? []
  t.ok(forward.some((f) => roomOf(f) === 'respond'), 'forward/forward.ts is seen importing respond/')
  const check = graph.get(path.join(src, 'cli', 'check.ts')) ?? []
  t.ok(check.some((f) => roomOf(f) === 'lint'), 'a dynamic import() is counted (cli/check.ts loads lint/ on use)')
})
