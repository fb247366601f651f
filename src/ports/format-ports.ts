// The port tables as Markdown (to paste into a change request), CSV (for a firewall team's sheet)
// or JSON (for scripts).
import type { PortTable } from './ports.js'

export type PortsFormat = 'md' | 'csv' | 'json'

export function formatPorts (tables: readonly PortTable[], format: PortsFormat): string {
  if (format === 'json') return JSON.stringify({ tables }, null, 2) + '\n'
  if (format === 'csv') return csv(tables)
  return markdown(tables)
}

function markdown (tables: readonly PortTable[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const out: string[] = []
  for (const t of tables) {
    out.push(`### ${t.title}`, '')
    out.push(`| ${t.columns.map(cell).join(' | ')} |`)
    out.push(`|${t.columns.map(() => '---').join('|')}|`)
    for (const r of t.rows) out.push(`| ${[r.protocol, r.source, r.destination, r.description, r.lyncproxy].map(cell).join(' | ')} |`)
    out.push('')
  }
  return out.join('\n')
}

// RFC 4180: quote every field that needs it, double the quotes inside.
function csv (tables: readonly PortTable[]): string {
  const field = (s: string): string => /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  const lines = [['table', 'protocol', 'source', 'destination', 'description', 'lyncproxy'].join(',')]
  for (const t of tables) {
    for (const r of t.rows) lines.push([t.title, r.protocol, r.source, r.destination, r.description, r.lyncproxy].map(field).join(','))
  }
  return lines.join('\r\n') + '\r\n'
}
