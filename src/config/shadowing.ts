// Publishing rules that a request never reaches. The data plane takes the first rule, in config
// order, whose public name and path prefix match on the listener the request came in on
// (routing/match.ts), as TMG's rule list did. A later rule for the same name on the same listener,
// with a path that an earlier rule's prefix covers, therefore gets none of those requests: valid,
// but almost always a mistake (a copy that was meant to replace the first, another pool for the
// same names, a name repeated in another case). Judged with the matchers the data plane uses, so
// that what is reported shadowed is what the proxy would do.
import { hasPathPrefix, normalizeHost } from './name-match.js'
import type { ResolvedConfig } from './defaults.js'
import type { DocPath } from './issues.js'

// Where a path of the document is, as `file:line:column`, or undefined when it has no line (a
// config built in code).
export type Place = (path: DocPath) => string | undefined

// The key names are compared by in the routing table: case-insensitive, no trailing dot. The
// wildcard forms keep their '*', which a Host header can never carry.
function nameKey (name: string): string {
  if (name === '*') return '*'
  if (name.startsWith('*.')) return '*.' + normalizeHost(name.slice(2))
  return normalizeHost(name)
}

interface Shadow {
  // The earlier rule that takes the requests.
  by: number
  // What of the later rule it takes, as name + path, and on which listeners.
  what: Set<string>
  listeners: Set<string>
}

export function shadowedRuleWarnings (config: ResolvedConfig, place: Place): string[] {
  const rules = config.rules
  const keys = rules.map((r) => new Set(r.publicNames.map(nameKey)))
  const prefixes = rules.map((r) => r.paths.map((p) => p.toLowerCase()))
  const at = (path: DocPath, fallback: string): string => place(path) ?? fallback
  const warnings: string[] = []

  rules.forEach((rule, j) => {
    warnings.push(...duplicateEntries(config, j, place))
    const shadows = new Map<number, Shadow>()
    let combinations = 0
    let covered = 0
    for (const listener of new Set(rule.listeners)) {
      const seenNames = new Set<string>()
      for (const name of rule.publicNames) {
        const key = nameKey(name)
        // A name repeated in the rule is reported above, not as shadowing itself.
        if (seenNames.has(key)) continue
        seenNames.add(key)
        const seenPaths = new Set<string>()
        for (const path of rule.paths) {
          const lower = path.toLowerCase()
          if (seenPaths.has(lower)) continue
          seenPaths.add(lower)
          combinations++
          const by = rules.findIndex((earlier, i) => i < j && earlier.listeners.includes(listener) && keys[i]!.has(key) &&
            prefixes[i]!.some((q) => hasPathPrefix(lower, q)))
          if (by < 0) continue
          covered++
          const shadow = shadows.get(by) ?? { by, what: new Set(), listeners: new Set() }
          shadow.what.add(`${name}${path}`)
          shadow.listeners.add(listener)
          shadows.set(by, shadow)
        }
      }
    }
    const here = at(['rules', j], `/rules/${j}`)
    for (const { by, what, listeners } of shadows.values()) {
      const earlier = rules[by]!
      const there = at(['rules', by], `/rules/${by}`)
      const requests = `${listFew([...what])} on ${listeners.size === 1 ? 'listener' : 'listeners'} ${[...listeners].join(', ')}`
      if (covered === combinations && shadows.size === 1) {
        warnings.push(`rule '${rule.name}' (${here}) is never used: rule '${earlier.name}' (${there}) comes before it and takes every request it would match ` +
          `(${requests}), because the first matching rule wins. Fix: remove '${rule.name}', or move it above '${earlier.name}' if it is the one meant to apply`)
      } else {
        warnings.push(`rule '${rule.name}' (${here}) is shadowed by rule '${earlier.name}' (${there}) for ${requests}: '${earlier.name}' comes first and takes ` +
          `those requests, because the first matching rule wins. Fix: drop those names or paths from '${rule.name}', or move it above '${earlier.name}' if it is the one meant to apply`)
      }
    }
  })
  return warnings
}

// The same public name or path twice in one rule's list, in another case (or a name with a
// trailing dot): harmless to routing, but a sign of a copy-paste the operator meant otherwise.
function duplicateEntries (config: ResolvedConfig, j: number, place: Place): string[] {
  const rule = config.rules[j]!
  const out: string[] = []
  const lists: Array<['publicNames' | 'paths', readonly string[], (s: string) => string]> = [
    ['publicNames', rule.publicNames, nameKey],
    ['paths', rule.paths, (p) => p.toLowerCase()],
  ]
  for (const [list, values, key] of lists) {
    const first = new Map<string, number>()
    values.forEach((value, k) => {
      const seen = first.get(key(value))
      if (seen === undefined) { first.set(key(value), k); return }
      const here = place(['rules', j, list, k]) ?? `/rules/${j}/${list}/${k}`
      const there = place(['rules', j, list, seen]) ?? `/rules/${j}/${list}/${seen}`
      out.push(`rule '${rule.name}' lists ${list === 'paths' ? 'the path' : 'the public name'} '${value}' (${here}) twice: it is the same as '${values[seen]!}' (${there}), ` +
        `because ${list === 'paths' ? 'paths are matched regardless of case' : 'public names are matched regardless of case and a trailing dot'}. Fix: remove one of the two`)
    })
  }
  return out
}

function listFew (items: string[]): string {
  return items.length > 6 ? `${items.slice(0, 6).join(', ')} and ${items.length - 6} more` : items.join(', ')
}
