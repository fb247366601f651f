// `lyncproxy standin --server NAME`: one stand-in Lync server from the lab config, alone. The lab runs
// all of them in one process; docker-compose runs one per container, as a real topology would.
import { parseArgs } from 'node:util'
import { formatErrors, loadConfigFile } from '../config/load.js'
import { labCertificateRequest } from '../control/lab-cert-request.js'
import { startStandIn } from '../lab/standin/index.js'
import { standInListenError, startServerEchoes, type StandInSite } from '../lab/run.js'
import { standInSpecs, ucwaHostOf } from '../lab/topology.js'
import { ensureLabCertificates } from '../tls/lab-certs.js'
import { exitCodeOf, LyncProxyError } from '../errors.js'
import { DEFAULT_LAB_CONFIG } from './lab.js'

export const STANDIN_USAGE = `Usage: lyncproxy standin --server NAME [-c FILE] [--address ADDR]

Runs one stand-in server of the lab (fe01, dir01, owas01 in config/lab.yaml) with its internal and
external sites, and the echo servers behind the tcp frontends whose pools it is a member of (a
Director's 5061, 444, 50001-50003), until SIGTERM/SIGINT.

Options:
  -s, --server NAME   a name from lab.servers in the config
  -c, --config FILE   the configuration (default: config/lab.yaml)
      --address ADDR  listen here instead of the pool's address (0.0.0.0 in a container)
  -h, --help          show this help
`

export async function runStandIn (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { server: { type: 'string', short: 's' }, config: { type: 'string', short: 'c' }, address: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help === true) { process.stdout.write(STANDIN_USAGE); return 0 }
  try {
    const loaded = await loadConfigFile(values.config ?? DEFAULT_LAB_CONFIG)
    const certs = await ensureLabCertificates(labCertificateRequest(loaded.config))
    const specs = standInSpecs(loaded.config, certs)
    const found = specs.find((s) => s.member === values.server)
    if (found === undefined) {
      const e = new LyncProxyError('LRP_ERR_USAGE', `no lab server named '${values.server ?? ''}'`, { fix: `use one of ${specs.map((s) => s.member).join(', ')}` })
      process.stderr.write(e.format() + '\n')
      return e.exitCode
    }
    const ucwaHost = ucwaHostOf(loaded.config, specs, found.member)
    const spec = ucwaHost === undefined ? found : { ...found, ucwaHost }
    const site: StandInSite = values.address === undefined
      ? { config: loaded.config, file: loaded.file, spec }
      : { config: loaded.config, file: loaded.file, spec: { ...spec, address: values.address }, addressOption: values.address }
    const running = await startStandIn(site.spec).catch((err: unknown) => { throw standInListenError(err, site) })
    const echoes = await startServerEchoes(loaded.config, certs, loaded.file, found.member, values.address).catch(async (err: unknown) => {
      await running.close()
      throw err
    })
    for (const s of running.sites) process.stdout.write(`${running.member}: ${s.kind} site ${s.protocol}://${s.address}:${s.port}\n`)
    for (const e of echoes) process.stdout.write(`${running.member}: echo tls://${e.address}:${e.port}\n`)
    if (ucwaHost !== undefined) process.stdout.write(`${running.member}: UCWA requests go to ${ucwaHost.member} (${ucwaHost.address}), which holds the pool's applications\n`)
    const stop = (): void => { Promise.all([running.close(), ...echoes.map((e) => e.close())]).then(() => process.exit(0), () => process.exit(1)) }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    return -1
  } catch (err) {
    process.stderr.write(formatErrors(err) + '\n')
    return exitCodeOf(err)
  }
}
