// What the validation passes produce before it becomes a LyncProxyError: they know the path in the
// document, load.ts knows the file and turns the path into a line and column. Keeping the passes free
// of positions lets validateConfigObject() use them for configs built in code.
import type { ErrorCode } from '../errors.js'

export type DocPath = readonly (string | number)[]

export interface ConfigIssue {
  code: ErrorCode
  path: DocPath
  message: string
  // 'key' points the line/column at the mapping key of the last path segment (unknown keys, names),
  // 'value' at the value. The path reported is the same either way.
  at?: 'key' | 'value'
  fix?: string
}

// JSON pointer (RFC 6901), the form errors.ts documents for ErrorLocation.path.
export function toPointer (path: DocPath): string {
  if (path.length === 0) return '/'
  return path.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('')
}

export function fromPointer (pointer: string): string[] {
  if (pointer === '' || pointer === '/') return []
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
}
