// The probe's report: a table for people, JSON for scripts, and the one-line summary.
import type { ProbeResult, Verdict } from './types.js'

const ORDER: Verdict[] = ['PASS', 'FAIL', 'WARN', 'SKIP']

export function summary (results: ProbeResult[]): string {
  const count = (v: Verdict): number => results.filter((r) => r.result === v).length
  const parts = ORDER.map((v) => `${count(v)} ${v === 'PASS' ? 'passed' : v === 'FAIL' ? 'failed' : v === 'WARN' ? 'warnings' : 'skipped'}`)
  return `${results.length} checks: ${parts.join(', ')}`
}

// Columns check, name, result, detail; a FAIL or WARN has its cause on the line below, indented
// under the detail, so a long explanation does not stretch the table.
export function formatTable (results: ProbeResult[]): string {
  const header = { check: 'CHECK', name: 'NAME', result: 'RESULT', detail: 'DETAIL' }
  const rows = [header, ...results]
  const wCheck = Math.max(...rows.map((r) => r.check.length))
  const wName = Math.max(...rows.map((r) => r.name.length))
  const wResult = Math.max(...rows.map((r) => r.result.length))
  const indent = ' '.repeat(wCheck + wName + wResult + 6)
  const lines: string[] = []
  for (const r of rows) {
    lines.push(`${r.check.padEnd(wCheck)}  ${r.name.padEnd(wName)}  ${r.result.padEnd(wResult)}  ${r.detail}`)
    if ('cause' in r && r.cause !== undefined) lines.push(`${indent}cause: ${r.cause}`)
  }
  return lines.join('\n') + '\n'
}

export function formatJson (results: ProbeResult[]): string {
  return JSON.stringify(results.map((r) => ({ check: r.check, name: r.name, result: r.result, detail: r.detail, ...(r.cause === undefined ? {} : { cause: r.cause }) })), null, 2) + '\n'
}

export function probeExitCode (results: ProbeResult[]): number {
  return results.some((r) => r.result === 'FAIL') ? 1 : 0
}
