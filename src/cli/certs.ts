// `lyncproxy certs`: creates (or renews) the lab CA and certificates for a config and says where they
// are, without starting anything. docker-compose runs it once before the servers start.
import { parseArgs } from 'node:util'
import { formatErrors, loadConfigFile } from '../config/load.js'
import { labCertificateRequest } from '../control/lab-cert-request.js'
import { ensureLabCertificates } from '../tls/lab-certs.js'
import { exitCodeOf } from '../errors.js'
import { DEFAULT_LAB_CONFIG } from './lab.js'

export const CERTS_USAGE = `Usage: lyncproxy certs [-c FILE]

Creates the lab CA and the lab certificates a configuration needs (the external SAN certificate for
every public name, one internal certificate per pool), or reuses them when they still fit.

Options:
  -c, --config FILE   the configuration (default: config/lab.yaml)
  -h, --help          show this help
`

export async function runCerts (argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true })
  if (values.help === true) { process.stdout.write(CERTS_USAGE); return 0 }
  try {
    const loaded = await loadConfigFile(values.config ?? DEFAULT_LAB_CONFIG)
    const certs = await ensureLabCertificates(labCertificateRequest(loaded.config))
    process.stdout.write(`lab CA:               ${certs.caFile}\n`)
    process.stdout.write(`external certificate: ${certs.external.certFile}\n`)
    for (const [id, c] of certs.internal) process.stdout.write(`internal (${id}):${' '.repeat(Math.max(1, 10 - id.length))}${c.certFile}\n`)
    return 0
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}
