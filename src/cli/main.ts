#!/usr/bin/env node
// The lyncproxy command: one subcommand per task, each with its own --help.
import { runCerts } from './certs.js'
import { runCheck } from './check.js'
import { runLab } from './lab.js'
import { runProbeCommand } from './probe.js'
import { runStandIn } from './standin.js'
import { runStart } from './start.js'
import { LyncProxyError } from '../errors.js'

const USAGE = `Usage: lyncproxy <command> [options]

A reverse proxy standing in for Forefront TMG / IIS ARR in front of a Lync Server 2013 topology.

Commands:
  lab      run the proxy and stand-in Lync servers on loopback (what npm start runs)
  start    run the proxy with a configuration file (-c FILE)
  check    validate a configuration file without starting (-c FILE)
  explain  show where a request for a URL would go, rule by rule (explain URL)
  ports    print the firewall port tables of the configured topology
  certs    create or renew the lab CA and lab certificates
  standin  run one stand-in Lync server of the lab (--server NAME)
  probe    check a reverse proxy against Microsoft's checklist and the Lync client flows (--target IP)
  schema   print the configuration's JSON Schema (for editors and CI checks)

Run lyncproxy <command> --help for the options of a command.
`

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  lab: runLab,
  start: runStart,
  check: runCheck,
  // Loaded on use: every command pays for the modules main.ts imports, even for --help.
  explain: async (argv) => (await import('./explain.js')).runExplain(argv),
  ports: async (argv) => (await import('./ports.js')).runPorts(argv),
  certs: runCerts,
  standin: runStandIn,
  probe: runProbeCommand,
  schema: async (argv) => (await import('./schema.js')).runSchema(argv),
}

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE)
    return command === undefined ? 64 : 0
  }
  const run = commands[command]
  if (run === undefined) {
    const e = new LyncProxyError('LRP_ERR_USAGE', `unknown command '${command}'`, { fix: `use one of ${Object.keys(commands).join(', ')}` })
    process.stderr.write(`${e.format()}\n\n${USAGE}`)
    return e.exitCode
  }
  try {
    return await run(rest)
  } catch (err) {
    // parseArgs reports unknown options and missing values as TypeErrors: usage errors.
    const e = new LyncProxyError('LRP_ERR_USAGE', (err as Error).message, { fix: `see lyncproxy ${command} --help` })
    process.stderr.write(e.format() + '\n')
    return e.exitCode
  }
}

// A negative code means the command keeps running (a server); it exits on its own signal.
main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code }, (err) => {
  process.stderr.write(`internal error: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
