// `lyncproxy ports`: the firewall tables of the configured topology, in the columns of Microsoft's
// port summaries, for the firewall team.
import { parseArgs } from 'node:util'
import { formatErrors, loadConfigFile, overridesFromEnv } from '../config/load.js'
import { exitCodeOf, LyncProxyError } from '../errors.js'
import { compileForAnalysis } from '../routing/analysis-table.js'
import { formatPorts, type PortsFormat } from '../ports/format-ports.js'
import { portTables } from '../ports/ports.js'
import type { CheckIO } from './check.js'
import { DEFAULT_LAB_CONFIG } from './lab.js'

export const PORTS_USAGE = `Usage: lyncproxy ports [-c FILE] [--format md|csv|json]

Prints the firewall tables for the configured topology in the columns of Microsoft's Lync Server 2013
port summaries: the reverse proxy's external and internal interfaces, and the Director's table when
the topology has a Director pool. A last column says what carries each row here, or why this proxy
does not (layer-4 traffic such as SIP 5061 is the HLB's).

Options:
  -c, --config FILE     the configuration (default: config/lab.yaml)
      --format FORMAT   md (default), csv or json
  -h, --help            show this help
`

const FORMATS: readonly PortsFormat[] = ['md', 'csv', 'json']

export async function runPorts (argv: string[], io: CheckIO = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, format: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    })
    if (values.help === true) { io.stdout.write(PORTS_USAGE); return 0 }
    const format = (values.format ?? 'md') as PortsFormat
    if (!FORMATS.includes(format)) {
      throw new LyncProxyError('LRP_ERR_USAGE', `unknown format '${values.format}'`, { fix: 'use --format md, csv or json' })
    }
    const loaded = await loadConfigFile(values.config ?? DEFAULT_LAB_CONFIG, { overrides: overridesFromEnv(io.env) })
    const analysis = compileForAnalysis(loaded.config, loaded.baseDir)
    try {
      io.stdout.write(formatPorts(portTables({ config: loaded.config, table: analysis.table }), format))
    } finally {
      analysis.close()
    }
    return 0
  } catch (err) {
    const e = err instanceof TypeError ? new LyncProxyError('LRP_ERR_USAGE', err.message, { fix: 'see lyncproxy ports --help' }) : err
    io.stderr.write(formatErrors(e) + '\n')
    return exitCodeOf(e)
  }
}
