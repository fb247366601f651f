// `lyncproxy probe --target IP`: Microsoft's reverse proxy checklist and the Lync client flows
// against any reverse proxy (this one, TMG, ARR, nginx), reached by IP with the right SNI and Host
// for each name, so no DNS entry is needed.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { LyncProxyError } from '../errors.js'
import { formatJson, formatTable, probeExitCode, summary } from '../probe/format.js'
import { DEFAULT_DOMAIN, DEFAULT_TIMEOUT_MS } from '../probe/options.js'
import { runProbe, type ProbeOptions } from '../probe/run.js'

export const PROBE_USAGE = `Usage: lyncproxy probe --target IP [options]

Runs Microsoft's reverse proxy verification checklist and the Lync client flows against a reverse
proxy: TLS and SAN for every published name, lyncdiscover over HTTP and HTTPS (three representations,
AccessLocation), the autodiscover health probe, the MsRtcOAuth challenge and, with credentials, the
UCWA sign-in, the Windows-authentication paths and an NTLM handshake, meet and dialin with the Host
header preserved, Office Web Apps discovery and a double-encoded query, admin.<domain> not published,
and the HTTP to HTTPS redirect. Each name is reached at the target address with its own SNI and Host.

Options:
      --target IP         address of the reverse proxy's external listener (required)
      --domain DOMAIN     SIP domain (default ${DEFAULT_DOMAIN}); names are webext.DOMAIN, meet.DOMAIN, ...
      --http-port N       port of the HTTP listener (default 80)
      --https-port N      port of the HTTPS listener (default 443)
      --ca FILE           PEM file of the CA(s) to verify the certificate with (default: Node's roots)
      --user SIP          sign-in address for the UCWA sign-in and the NTLM handshake
      --password P        its password
      --ntlm-user NAME    NTLM account when it is not the sign-in address (DOMAIN\\user or a UPN)
      --web-ext FQDN      external web services FQDN of the Front End pool (default webext.DOMAIN)
      --web-dir-ext FQDN  the Director pool's (default webdirext.DOMAIN; none: no Director)
      --owas FQDN         the Office Web Apps farm's (default officewebapps01.DOMAIN; none: no farm)
      --timeout S         seconds per request (default ${DEFAULT_TIMEOUT_MS / 1000})
      --long-poll S       after the sign-in, hold one UCWA event-channel GET for S seconds (with
                          --user; a pool holds it at least 180 s): catches a proxy read timeout
                          shorter than Lync's long poll
      --json              print the results as JSON: [{check, name, result, detail, cause?}]
  -h, --help              show this help

Results: PASS, FAIL (with the likely cause and the fix), WARN (works, but worth a look), SKIP.
Exit status: 0 no failure, 1 at least one FAIL, 64 usage error.
`

export interface ProbeIO {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
}

function port (value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new LyncProxyError('LRP_ERR_USAGE', `${option} ${value} is not a port`, { fix: 'give a number from 1 to 65535' })
  return n
}

// "none" (or an empty value) leaves an optional name out.
function optionalName (value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined
  return value === '' || value.toLowerCase() === 'none' ? null : value
}

async function optionsFrom (argv: string[]): Promise<{ options: ProbeOptions, json: boolean } | 'help'> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      domain: { type: 'string' },
      'http-port': { type: 'string' },
      'https-port': { type: 'string' },
      ca: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'ntlm-user': { type: 'string' },
      'web-ext': { type: 'string' },
      'web-dir-ext': { type: 'string' },
      owas: { type: 'string' },
      timeout: { type: 'string' },
      'long-poll': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help === true) return 'help'
  if (values.target === undefined || values.target === '') {
    throw new LyncProxyError('LRP_ERR_USAGE', 'lyncproxy probe needs the address of the reverse proxy: --target IP', { fix: 'run lyncproxy probe --target 203.0.113.10, or see --help' })
  }
  if ((values.user === undefined) !== (values.password === undefined)) {
    throw new LyncProxyError('LRP_ERR_USAGE', '--user and --password go together', { fix: 'give both, or neither to leave out the sign-in checks' })
  }
  let timeoutMs: number | undefined
  if (values.timeout !== undefined) {
    const s = Number(values.timeout)
    if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new LyncProxyError('LRP_ERR_USAGE', `--timeout ${values.timeout} is not a number of seconds`, { fix: 'give seconds, e.g. --timeout 10' })
    timeoutMs = Math.round(s * 1000)
  }
  let longPollSeconds: number | undefined
  if (values['long-poll'] !== undefined) {
    const s = Number(values['long-poll'])
    if (!Number.isInteger(s) || s < 1 || s > 1800) {
      throw new LyncProxyError('LRP_ERR_USAGE', `--long-poll ${values['long-poll']} is not a whole number of seconds from 1 to 1800`, { fix: 'give seconds, e.g. --long-poll 90 to catch a 60 s read timeout' })
    }
    longPollSeconds = s
  }
  let ca: string | undefined
  if (values.ca !== undefined) {
    try {
      ca = await readFile(values.ca, 'utf8')
    } catch (err) {
      throw new LyncProxyError('LRP_ERR_USAGE', `cannot read --ca ${values.ca}: ${(err as Error).message}`, { fix: 'give a readable PEM file' })
    }
  }
  const options: ProbeOptions = { target: values.target }
  if (values.domain !== undefined) options.domain = values.domain
  const httpPort = port(values['http-port'], '--http-port')
  const httpsPort = port(values['https-port'], '--https-port')
  if (httpPort !== undefined) options.httpPort = httpPort
  if (httpsPort !== undefined) options.httpsPort = httpsPort
  if (ca !== undefined) options.ca = ca
  if (values.user !== undefined && values.password !== undefined) { options.user = values.user; options.password = values.password }
  if (values['ntlm-user'] !== undefined) options.ntlmUser = values['ntlm-user']
  if (values['web-ext'] !== undefined) options.webExt = values['web-ext']
  const webDirExt = optionalName(values['web-dir-ext'])
  const owas = optionalName(values.owas)
  if (webDirExt !== undefined) options.webDirExt = webDirExt
  if (owas !== undefined) options.owas = owas
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs
  if (longPollSeconds !== undefined) options.longPollSeconds = longPollSeconds
  return { options, json: values.json === true }
}

// argv: the arguments after `probe`.
export async function runProbeCommand (argv: string[], io: ProbeIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed: Awaited<ReturnType<typeof optionsFrom>>
  try {
    parsed = await optionsFrom(argv)
  } catch (err) {
    // parseArgs throws TypeErrors (unknown option, missing value); they are usage errors too.
    const e = err instanceof LyncProxyError ? err : new LyncProxyError('LRP_ERR_USAGE', err instanceof Error ? err.message : String(err), { fix: 'see lyncproxy probe --help' })
    io.stderr.write(e.format() + '\n')
    return e.exitCode
  }
  if (parsed === 'help') { io.stdout.write(PROBE_USAGE); return 0 }
  let results: Awaited<ReturnType<typeof runProbe>>
  try {
    results = await runProbe(parsed.options)
  } catch (err) {
    // Checks turn every answer into a row; getting here is a bug in the probe, not a finding.
    io.stderr.write(`internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return 1
  }
  if (parsed.json) {
    io.stdout.write(formatJson(results))
  } else {
    io.stdout.write(formatTable(results))
    io.stdout.write(`\n${summary(results)}\n`)
  }
  return probeExitCode(results)
}
