// The proxy under fuzz, in a process of its own: what `lyncproxy start` does (heap policy, the
// proxy, its error log), built from dist/, with the config given as JSON in argv[2]. A crash is this
// process exiting; its fds and RSS are read from /proc by the parent. Plain JavaScript with no
// loader, so the memory measured is the proxy's. No uncaughtException handler: an error that
// escapes the request path must end the process, as it would in production.
//
// Over IPC it answers 'gc' (a full collection before an RSS sample) with 'gc-done'.
//
// FUZZ_DIST names another build to fuzz (a checkout of an older commit, built), dist/ by default.
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const dist = pathToFileURL(path.resolve(process.env.FUZZ_DIST ?? new URL('../../dist', import.meta.url).pathname) + '/').href
const { validateConfigObject } = await import(dist + 'config/load.js')
const { applyHeapPolicy } = await import(dist + 'control/heap-policy.js')
const { startProxy } = await import(dist + 'control/proxy.js')
const { attachErrorLog } = await import(dist + 'observe/error-log.js')
const { createLogger } = await import(dist + 'observe/logger.js')

applyHeapPolicy()
const config = JSON.parse(process.argv[2] ?? '{}')
const loaded = validateConfigObject(config, { file: 'fuzz-config.json', baseDir: process.cwd() })
const logger = createLogger({ level: process.env.FUZZ_LOG_LEVEL ?? 'error' })
const proxy = await startProxy(loaded, { logger })
attachErrorLog(proxy.bus, logger)

process.on('message', (m) => {
  if (m === 'gc') {
    globalThis.gc?.()
    process.send?.('gc-done')
  }
})
// The parent going away (a killed fuzz run) must not leave the proxy behind.
process.on('disconnect', () => process.exit(0))

const ports = Object.fromEntries(proxy.listeners.map((l) => [l.name, l.port]))
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, ports }) + '\n')
