// `lyncproxy explain` as text for a terminal: the same facts as the JSON of /api/explain, in the
// order a person follows a request.
import { UNLISTED_WHY } from '../forward/header-policy.js'
import type { ExplainResult, RuleVerdict } from './explain.js'

const MARK: Record<RuleVerdict, string> = {
  matched: '=>',
  shadowed: ' ~',
  'other-listener': ' -',
  'other-name': ' -',
  'other-path': ' -',
}

export function formatExplain (r: ExplainResult): string {
  const lines: string[] = []
  const label = (name: string, value: string): void => { lines.push(`${(name + ':').padEnd(11)}${value}`) }
  label('Request', `${r.method} ${r.url}`)
  label('Listener', `${r.listener.name} (${r.listener.protocol}, ${r.listener.address}:${r.listener.port})`)
  label('Host', r.publicName === null ? `${r.host || '(none)'} (not a published name on this listener)` : `${r.host} (published name ${r.publicName})`)
  label('Path', r.path || '(refused before routing)')
  lines.push('', 'Rules, in order (=> taken, ~ would match but an earlier rule won, - no match):')
  const width = Math.max(...r.rules.map((t) => t.rule.length), 4)
  for (const t of r.rules) lines.push(`  ${MARK[t.verdict]} ${t.rule.padEnd(width)}  ${t.action.padEnd(8)} ${t.why}`)
  if (r.rules.length === 0) lines.push('  (no rules)')
  lines.push('')

  const o = r.outcome
  if (o.action === 'forward' && r.upstream !== null) {
    const u = r.upstream
    label('Action', `forward (${o.reason}${u.role === null ? '' : `, role ${u.role}`})`)
    if (u.targets.length === 0) label('Upstream', `pool ${u.pool}: no members known yet (DNS pools learn them at run time)`)
    for (const t of u.targets) label('Upstream', `${t.url}${u.targets.length > 1 ? `  (member ${t.member})` : ''}`)
    if (u.scheme === 'https') label('TLS', `server name ${u.servername ?? u.fqdn}, certificate ${u.verifyTls ? 'verified' : 'NOT verified'}`)
  } else if (o.action === 'redirect' && r.redirect !== null) {
    label('Action', `redirect: ${r.redirect.status} to ${r.redirect.location} (${o.reason})`)
  } else {
    label('Action', `${o.action === 'deny' ? 'deny' : 'refused'}: the proxy answers ${o.status} ${o.code ?? ''} itself${o.rule === null ? '' : ` (rule ${o.rule})`}: ${o.reason}`)
  }

  if (r.headers !== null) {
    lines.push('', 'Headers to the upstream:')
    for (const h of r.headers.kept) lines.push(`  kept      ${h.name}: ${h.value}${h.why === UNLISTED_WHY ? '' : `  (${h.why})`}`)
    for (const h of r.headers.added) lines.push(`  added     ${h.name}: ${h.value}  (${h.why})`)
    for (const h of r.headers.replaced) lines.push(`  replaced  ${h.name}: ${h.from} -> ${h.to}  (${h.why})`)
    for (const h of r.headers.removed) lines.push(`  removed   ${h.name}: ${h.value}  (${h.why})`)
  }

  lines.push('')
  const t = r.timeouts
  const upstream = t.connectSeconds === null ? '' : `connect ${t.connectSeconds} s, response ${t.responseSeconds} s; `
  label('Timeouts', `${upstream}client idle ${t.clientIdleSeconds} s, request headers ${t.requestHeadersSeconds} s`)

  lines.push('', 'Port summary rows this traffic crosses:')
  for (const s of r.seedRows) lines.push(`  ${s.table}`, `    ${s.protocol}  ${s.source} -> ${s.destination}`)
  if (r.seedRows.length === 0) lines.push('  (none)')
  return lines.join('\n') + '\n'
}
