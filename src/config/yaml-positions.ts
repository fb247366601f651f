// YAML parsing that keeps the source positions: every config error should name the line an operator
// has to edit, so the document is kept next to the plain value and paths are mapped back to nodes.
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml'
import { LyncProxyError } from '../errors.js'
import type { DocPath } from './issues.js'
import { firstOfEachCascade } from './yaml-cascade.js'

export interface Position {
  line: number
  column: number
}

export interface ParsedYaml {
  value: unknown
  // Syntax errors (duplicate keys included); when there are any, `value` must not be trusted.
  errors: LyncProxyError[]
  warnings: string[]
  locate: (path: DocPath, at?: 'key' | 'value') => Position | undefined
}

export function parseYamlWithPositions (text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {
    lineCounter,
    // Duplicate keys are errors, not "last one wins": two `pool:` lines in one rule is a mistake the
    // operator must see, not a silent choice.
    uniqueKeys: true,
    // yaml's pretty messages repeat the position and quote the source; we report positions ourselves.
    prettyErrors: false,
    // YAML 1.2 core schema: `yes`/`no`/`on` stay strings and `<<` is not a merge key, so what the file
    // says is what the schema sees.
    version: '1.2',
    // yaml would print some warnings with console.warn; they are returned in doc.warnings instead.
    logLevel: 'error',
  })
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset)
    return { line: Math.max(line, 1), column: Math.max(col, 1) }
  }

  const reported = firstOfEachCascade(doc.errors.map((error) => ({ error, code: error.code, at: position(error.pos[0]) })), text)
  const errors = reported.map(({ error: e, at, indentation }) => {
    if (indentation !== undefined) {
      return new LyncProxyError('LRP_ERR_CONFIG_SYNTAX', `invalid YAML: ${indentation.message}`, {
        location: { file, line: indentation.line, column: indentation.column },
        fix: indentation.fix,
      })
    }
    const message = e.code === 'DUPLICATE_KEY'
      ? `duplicate key '${duplicateKeyText(text, e.pos)}': a key may appear only once in a mapping`
      // yaml's own wording here addresses programmers (it suggests another API call).
      : e.code === 'MULTIPLE_DOCS'
        ? 'invalid YAML: the file holds more than one document (a second ---); a configuration is one document'
        : `invalid YAML: ${lowerFirst(e.message)}`
    return new LyncProxyError('LRP_ERR_CONFIG_SYNTAX', message, {
      location: { file, line: at.line, column: at.column },
      fix: e.code === 'DUPLICATE_KEY' ? 'remove or rename one of the two keys' : undefined,
    })
  })
  const warnings = doc.warnings.map((w) => {
    const at = position(w.pos[0])
    return `line ${at.line}, column ${at.column}: YAML: ${lowerFirst(w.message)}`
  })

  // toJS() only when the document parsed: a broken document may still produce a partial value, but
  // nothing downstream should look at it.
  let value: unknown
  if (errors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 })
    } catch (err) {
      // toJS refuses alias bombs ("billion laughs") and similar; that is a problem of the document.
      errors.push(new LyncProxyError('LRP_ERR_CONFIG_SYNTAX', `invalid YAML: ${err instanceof Error ? lowerFirst(err.message) : String(err)}`, {
        location: { file, line: 1, column: 1 },
      }))
    }
  }

  return {
    value,
    errors,
    warnings,
    locate: (path, at = 'value') => {
      // An empty document has no node at all; its errors belong on line 1.
      const offset = findOffset(doc, path, at) ?? (path.length === 0 ? 0 : undefined)
      return offset === undefined ? undefined : position(offset)
    },
  }
}

// Walks the node tree along `path` and returns the start offset of the deepest node found: when a
// path names something absent (a missing key), the enclosing mapping is the best place to point at.
function findOffset (doc: Document, path: DocPath, at: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents
  let offset = nodeStart(node)
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc)
    const segment = path[i]
    const last = i === path.length - 1
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      if (pair === undefined) return offset
      if (last && at === 'key') return nodeStart(pair.key) ?? offset
      // `port:` with nothing after it has no value node, or a null scalar without a range: the key
      // is then where the operator looks.
      const valueStart = nodeStart(pair.value)
      offset = valueStart ?? nodeStart(pair.key) ?? offset
      node = pair.value
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)]
      if (item === undefined) return offset
      offset = nodeStart(item) ?? offset
      node = item
    } else {
      return offset
    }
  }
  return offset
}

function nodeStart (node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return Array.isArray(range) ? range[0] : undefined
}

// yaml's error range for a duplicate key is not always the whole key; the key is what starts there,
// up to the `:` that ends it.
function duplicateKeyText (text: string, pos: [number, number]): string {
  const line = text.slice(pos[0]).split(/\r?\n/, 1)[0] ?? ''
  const key = /^(.*?):(\s|$)/.exec(line)?.[1] ?? line
  return key.trim().replace(/^\? /, '').slice(0, 60)
}

function lowerFirst (s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1)
}
