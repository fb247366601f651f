// One mistake in a YAML file, one error. A wrongly indented line makes the yaml parser lose its
// place: it reports the line before (whose value it now reads as spanning two lines), then every
// key after it in the same block as misaligned. So syntax errors are reported by this rule:
//
//   Within one top-level entry of the file (a line that starts in column 1 begins the next one,
//   and re-synchronises the parser), only the first syntax error is reported; the ones after it
//   in that entry follow on from it. The exceptions are duplicate keys, which the parser finds on
//   a document it read correctly: they are kept, unless a structural error came before them in
//   the entry. Errors in later top-level entries are independent and kept, by the same rule.
//
// The first error of an entry is made precise when it is an indentation mistake: the line whose
// indentation matches no block around it is found by reading the indentation of the lines (as
// below), and reported at its own line and column, with the indentation it should have.
// A point in the source, as the parser reports it (structural, so this module needs nothing from
// yaml-positions.ts, which calls it).
interface SourcePoint {
  line: number
  column: number
}

export interface IndentationProblem {
  line: number
  column: number
  message: string
  fix: string
}

// Found by the parser, where it said, with the indentation problem that explains it, if any.
export type Reported<T> = T & { indentation?: IndentationProblem }

export function firstOfEachCascade<T extends { code: string, at: SourcePoint }> (errors: readonly T[], text: string): Array<Reported<T>> {
  const lines = text.split(/\r?\n/)
  const entryOf = topLevelEntries(lines)
  const problems = indentationProblems(lines)
  const sorted = [...errors].sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column)
  const broken = new Set<number>()
  const out: Array<Reported<T>> = []
  for (const error of sorted) {
    const entry = entryOf(error.at.line)
    if (broken.has(entry)) continue
    if (error.code === 'DUPLICATE_KEY') { out.push(error); continue }
    broken.add(entry)
    // The parser stops at the bad line itself, or, for a line indented too deep, at the line
    // before it, whose value it takes to continue onto the bad one.
    const problem = problems.find((p) => entryOf(p.line) === entry && (p.line === error.at.line || p.line === error.at.line + 1))
    out.push(problem === undefined ? error : { ...error, indentation: problem })
  }
  return out
}

// The top-level entry a line belongs to, as the number of the line that starts it (0 before the
// first). A list at column 1 ("- name: x" under "listeners:") belongs to the key above it.
function topLevelEntries (lines: readonly string[]): (line: number) => number {
  const starts: number[] = []
  lines.forEach((l, i) => { if (/^[^\s#-]/.test(l) || /^---(\s|$)/.test(l)) starts.push(i + 1) })
  return (line) => {
    let entry = 0
    for (const s of starts) { if (s > line) break; entry = s }
    return entry
  }
}

interface Level {
  indent: number
  kind: 'map' | 'seq'
  // The last line that had an item at this level, and how that item reads (`name:`, `- name:`).
  line: number
  label: string
}

interface Item { kind: 'map' | 'seq', column: number, label: string }

// Reads the block structure of the file from its indentation, the way YAML defines it: the keys of
// one mapping, and the '- ' items of one list, start in one column; a deeper line belongs inside
// the item above it, which must then have no value on its own line. Flow collections, block
// scalars and quoted scalars spanning lines are stepped over. After a problem, reading resumes at
// the next top-level entry, so that one problem is not reported again as the next.
function indentationProblems (lines: readonly string[]): IndentationProblem[] {
  const problems: IndentationProblem[] = []
  let stack: Level[] = []
  let opensBlock = true
  let skipDeeperThan: number | undefined
  let flowDepth = 0
  let quote: string | undefined
  let resync = false

  lines.forEach((raw, index) => {
    const line = index + 1
    if (quote !== undefined) { if (closesQuote(raw, quote)) quote = undefined; return }
    if (flowDepth > 0) { flowDepth = Math.max(0, flowDepth + bracketDelta(raw)); return }
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return
    const leading = /^[ \t]*/.exec(raw)![0]
    const indent = leading.length
    if (skipDeeperThan !== undefined) {
      if (indent > skipDeeperThan) return
      skipDeeperThan = undefined
    }
    if (resync) {
      if (indent > 0) return
      resync = false
      stack = []
      opensBlock = true
    }
    if (/^(---|\.\.\.)(\s|$)/.test(raw) || raw.startsWith('%')) { stack = []; opensBlock = true; return }
    if (leading.includes('\t')) {
      problems.push({ line, column: leading.indexOf('\t') + 1, message: `line ${line} is indented with a tab; YAML indents with spaces only`, fix: 'replace the tab with spaces' })
      resync = true
      return
    }

    const { items, value } = itemsOf(raw, indent)
    const first = items[0]
    if (first === undefined) {
      // A scalar on a line of its own: the continuation of a multi-line value, or a stray word the
      // parser will report; either way it changes no block.
      return
    }
    const problem = check(stack, first, line, opensBlock)
    if (problem !== undefined) {
      problems.push(problem)
      resync = true
      return
    }
    // This line's items become the innermost levels: they replace the item before them in their
    // column, except that a list in the column of the key that holds it leaves the key open.
    while (stack.length > 0 && stack[stack.length - 1]!.indent > first.column) stack.pop()
    while (stack.length > 0 && stack[stack.length - 1]!.indent === first.column) {
      const top = stack[stack.length - 1]!
      if (top.kind === 'map' && first.kind === 'seq') break
      stack.pop()
      if (top.kind === first.kind) break
    }
    for (const item of items) stack.push({ indent: item.column, kind: item.kind, line, label: item.label })

    const last = items[items.length - 1]!
    opensBlock = value === '' || value.startsWith('#') || /^[&!][^\s]*\s*(#.*)?$/.test(value)
    if (/^[|>][1-9+-]*\s*(#.*)?$/.test(value)) {
      skipDeeperThan = last.kind === 'map' ? last.column : first.column
      opensBlock = false
    } else if (value.startsWith('[') || value.startsWith('{')) {
      flowDepth = Math.max(0, bracketDelta(value))
    } else if ((value.startsWith('"') || value.startsWith("'")) && !closesQuote(value.slice(1), value[0]!)) {
      quote = value[0]
    }
  })
  return problems
}

// Whether a line's first item fits the levels open above it.
function check (stack: readonly Level[], item: Item, line: number, opensBlock: boolean): IndentationProblem | undefined {
  const levels = [...stack]
  let popped: Level | undefined
  while (levels.length > 0 && levels[levels.length - 1]!.indent > item.column) popped = levels.pop()
  // A list may sit in the same column as the key that holds it ("listeners:" then "- name:"); once
  // a key of that mapping follows, the list is over.
  while (levels.length > 1 && levels[levels.length - 1]!.indent === item.column && levels[levels.length - 1]!.kind !== item.kind && levels[levels.length - 2]!.indent === item.column) popped = levels.pop()
  const top = levels[levels.length - 1]
  const spaces = (n: number): string => `${n} ${n === 1 ? 'space' : 'spaces'}`
  const at = { line, column: item.column + 1 }
  const like = (level: Level): string => `indent ${item.label} ${spaces(level.indent)}, as ${level.label} on line ${level.line}`

  if (top !== undefined && top.indent === item.column) {
    if (top.kind === item.kind) return undefined
    if (top.kind === 'map' && item.kind === 'seq' && opensBlock) return undefined
    const sibling = popped !== undefined && popped.kind === item.kind ? popped : undefined
    if (item.kind === 'map') {
      return {
        ...at,
        message: `${item.label} is indented ${spaces(item.column)}, as the items of the list on line ${top.line} (${top.label}) are, but is not an item of it`,
        fix: sibling !== undefined ? `${like(sibling)}, if it belongs to that item; or start it with '- ' if it begins a new item` : `start it with '- ' if it begins a new item of the list, or indent it under the item it belongs to`,
      }
    }
    return {
      ...at,
      message: `${item.label} is indented ${spaces(item.column)}, where the keys of the mapping on line ${top.line} (${top.label}) are, and a list cannot continue there`,
      fix: sibling !== undefined ? `${like(sibling)}, if it is another item of that list` : 'indent it under the key whose list it is, or write it as a key: value',
    }
  }
  // Deeper than every open level: only where the line above opened a block (a key or '-' with
  // nothing after it), or at the start of the document.
  if (top === undefined && popped === undefined) return undefined
  if (popped === undefined && opensBlock) return undefined
  if (popped !== undefined) {
    const before = popped.kind === 'map' ? 'the keys before it' : 'the list items before it'
    // The enclosing mapping is another place the line may belong; a list's column is not, for a key.
    const outer = top !== undefined && top.kind === item.kind ? top : undefined
    return {
      ...at,
      message: `${item.label} is indented ${spaces(item.column)}, which matches no block around it: ${before} (${popped.label} on line ${popped.line}) are indented ${popped.indent}` +
        (outer === undefined ? '' : `, those of the block around them (${outer.label} on line ${outer.line}) ${outer.indent}`),
      fix: like(popped) + (outer === undefined ? '' : `, or ${spaces(outer.indent)}, as ${outer.label} on line ${outer.line}, if it belongs there`) +
        ' (YAML nests by indentation: the keys of one mapping, and the items of one list, start in one column)',
    }
  }
  return {
    ...at,
    message: `${item.label} is indented ${spaces(item.column)}, deeper than ${top!.label} on line ${top!.line} (${spaces(top!.indent)}), which has its value on that line`,
    fix: `${like(top!)}; a line indented deeper than the one above belongs inside it, and ${top!.label} already has a value`,
  }
}

// The '- ' items and the key that start a line, with their columns (0-based), and what follows the
// last of them.
function itemsOf (raw: string, indent: number): { items: Item[], value: string } {
  const seqColumns: number[] = []
  let pos = indent
  while (raw[pos] === '-' && (pos + 1 === raw.length || raw[pos + 1] === ' ')) {
    seqColumns.push(pos)
    pos++
    while (raw[pos] === ' ') pos++
  }
  const rest = raw.slice(pos)
  const key = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)[ \t]*:(?=\s|$)/.exec(rest)
  const value = (key === null ? rest : rest.slice(key[0].length)).trim()
  // How an operator finds the item on the line: the key, after the dash of a list item.
  const keyText = key === null ? undefined : `${key[1]!.trim()}:`
  const scalar = value === '' || value.startsWith('#') ? '' : ` ${value.length > 20 ? value.slice(0, 17) + '...' : value}`
  const dashes = seqColumns.map(() => '-').join(' ')
  const items: Item[] = seqColumns.map((column) => ({ kind: 'seq', column, label: `'${dashes}${keyText === undefined ? scalar : ' ' + keyText}'` }))
  if (keyText !== undefined) items.push({ kind: 'map', column: pos, label: `'${keyText}'` })
  return { items, value }
}

// Brackets opened minus closed, outside quotes: how deep a flow collection still is.
function bracketDelta (s: string): number {
  let depth = 0
  let quote: string | undefined
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = undefined
      continue
    }
    if (c === '#' && (i === 0 || /\s/.test(s[i - 1]!))) break
    if (c === '"' || c === "'") quote = c
    else if (c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') depth--
  }
  return depth
}

function closesQuote (s: string, quote: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (quote === '"' && s[i] === '\\') { i++; continue }
    if (s[i] === quote) {
      if (quote === "'" && s[i + 1] === "'") { i++; continue }
      return true
    }
  }
  return false
}
