// `lyncproxy explain URL`: where a request for URL would go through the configured proxy, and why.
import { parseArgs } from 'node:util'
import { formatErrors, loadConfigFile, overridesFromEnv } from '../config/load.js'
import { exitCodeOf, LyncProxyError } from '../errors.js'
import { compileForAnalysis } from '../routing/analysis-table.js'
import { ExplainError, explainRequest } from '../explain/explain.js'
import { formatExplain } from '../explain/format-explain.js'
import type { CheckIO } from './check.js'
import { DEFAULT_LAB_CONFIG } from './lab.js'

export const EXPLAIN_USAGE = `Usage: lyncproxy explain URL [--listener http|https] [--client IP] [-c FILE]

Shows what lyncproxy would do with a request for URL: the listener, each publishing rule and why it
did or did not match, the action, the exact upstream URL, the headers added, replaced and removed,
the timeouts, and the rows of Microsoft's port summary the traffic crosses. Nothing is sent.

Options:
  -c, --config FILE       the configuration (default: config/lab.yaml)
      --listener NAME     http, https or a listener name (default: the URL's scheme)
      --client IP         the client address the upstream sees in X-Forwarded-For (default 192.0.2.10)
  -X, --method METHOD     the request method (default GET)
  -H, --header 'N: V'     add a request header field (repeatable), to see what the proxy does with it
      --json              print the answer as JSON (the same as the admin API's /api/explain)
  -h, --help              show this help

Example:
  lyncproxy explain https://webext.contoso.com/ucwa/v1/applications -H 'X-Forwarded-For: 10.1.1.1'
`

export async function runExplain (argv: string[], io: CheckIO = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        listener: { type: 'string' },
        client: { type: 'string' },
        method: { type: 'string', short: 'X' },
        header: { type: 'string', short: 'H', multiple: true },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    })
    if (values.help === true) { io.stdout.write(EXPLAIN_USAGE); return 0 }
    if (positionals.length !== 1) throw usage('lyncproxy explain needs exactly one URL')
    const headers = (values.header ?? []).map((h): [string, string] => {
      const colon = h.indexOf(':')
      if (colon <= 0) throw usage(`--header '${h}' is not 'Name: value'`)
      return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()]
    })
    const loaded = await loadConfigFile(values.config ?? DEFAULT_LAB_CONFIG, { overrides: overridesFromEnv(io.env) })
    const analysis = compileForAnalysis(loaded.config, loaded.baseDir)
    try {
      const result = explainRequest({
        url: positionals[0]!,
        ...(values.listener === undefined ? {} : { listener: values.listener }),
        ...(values.client === undefined ? {} : { client: values.client }),
        ...(values.method === undefined ? {} : { method: values.method }),
        headers,
      }, { config: loaded.config, table: analysis.table })
      io.stdout.write(values.json === true ? JSON.stringify(result, null, 2) + '\n' : formatExplain(result))
    } finally {
      analysis.close()
    }
    return 0
  } catch (err) {
    const e = err instanceof ExplainError || err instanceof TypeError ? usage(err.message) : err
    io.stderr.write(formatErrors(e) + '\n')
    return exitCodeOf(e)
  }
}

function usage (message: string): LyncProxyError {
  return new LyncProxyError('LRP_ERR_USAGE', message, { fix: 'see lyncproxy explain --help' })
}
