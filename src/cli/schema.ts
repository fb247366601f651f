// `lyncproxy schema`: the configuration's JSON Schema on stdout, for an editor or a CI check.
import { configJsonSchemaText } from '../config/json-schema.js'
import { LyncProxyError } from '../errors.js'

export const SCHEMA_USAGE = `Usage: lyncproxy schema

Prints the JSON Schema of the configuration file (the same schema lyncproxy validates with).
Editors that use yaml-language-server read it from a first line such as
  # yaml-language-server: $schema=./lyncproxy.schema.json
after: npx lyncproxy schema > lyncproxy.schema.json
`

export async function runSchema (argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(SCHEMA_USAGE); return 0 }
  if (argv.length > 0) {
    const e = new LyncProxyError('LRP_ERR_USAGE', `lyncproxy schema takes no arguments, got '${argv.join(' ')}'`, { fix: 'see lyncproxy schema --help' })
    process.stderr.write(e.format() + '\n')
    return e.exitCode
  }
  process.stdout.write(configJsonSchemaText())
  return 0
}
