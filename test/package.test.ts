// The package as a client project gets it: `npm pack`, then `npm ci` in an empty project (offline,
// from the npm cache that this checkout's own `npm ci` filled, so nothing leaves the machine), then
// the project's own node:test suite (examples/lab.test.mjs, copied in unchanged) and `npx lyncproxy`.
// The lab CA key must land in the user's cache, never in node_modules.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { REPO } from './helpers/cli.js'

const run = promisify(execFile)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-package-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))

interface LockEntry { dev?: boolean, devOptional?: boolean, [key: string]: unknown }

function filesUnder (dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name))
}

t.test('npm pack, installed in an empty project, serves its API, its example test and its CLI', async (t) => {
  // dist/ is built by npm test before tap runs; --ignore-scripts skips prepack's second build.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO, encoding: 'utf8' })
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const tarball = path.join(work, info!.filename)
  const names = info!.files.map((f) => f.path)
  t.ok(names.includes('LICENSE'), 'LICENSE is packed')
  t.ok(names.includes('dist/index.js') && names.includes('dist/index.d.ts'), 'the API with its types')
  t.ok(names.includes('schema/lyncproxy.schema.json'), 'the config schema')
  t.notOk(names.some((n) => n.startsWith('certs/') && n !== 'certs/README.md'), 'no certificate or key of this checkout')
  t.notOk(names.some((n) => n.endsWith('.ts') && !n.endsWith('.d.ts')), 'no TypeScript source: consumers need no compiler')

  // The consumer's lockfile pins lyncproxy's runtime dependencies as this checkout resolved them, so
  // `npm ci --offline` installs from the cache without asking a registry.
  const consumer = path.join(work, 'consumer')
  fs.mkdirSync(path.join(consumer, 'test'), { recursive: true })
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const own = lock.packages['']!
  const spec = `file:../${info!.filename}`
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { lyncproxy: spec } },
    'node_modules/lyncproxy': {
      version: own.version,
      resolved: spec,
      integrity: 'sha512-' + createHash('sha512').update(fs.readFileSync(tarball)).digest('base64'),
      dependencies: own.dependencies,
      bin: own.bin,
      engines: own.engines,
    },
  }
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key.startsWith('node_modules/') && entry.dev !== true && entry.devOptional !== true) packages[key] = entry
  }
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { lyncproxy: spec } }, null, 2))
  fs.writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2))
  const install = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: consumer, encoding: 'utf8' })
  t.notMatch(install.stderr, /prepare|tsc|typescript/i, `installing runs no build: ${install.stderr}`)
  t.ok(fs.existsSync(path.join(consumer, 'node_modules/lyncproxy/dist/index.js')))

  const cache = path.join(work, 'cache')
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache, NODE_OPTIONS: '' }
  delete env.LYNCPROXY_HTTP_PORT
  delete env.LYNCPROXY_HTTPS_PORT
  fs.copyFileSync(path.join(REPO, 'examples/lab.test.mjs'), path.join(consumer, 'test/lab.test.mjs'))
  const suite = await run(process.execPath, ['--test', '--test-reporter=tap', 'test/'], { cwd: consumer, env, encoding: 'utf8', timeout: 120_000 })
    .catch((err: { stdout?: string, stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? String(err) }))
  t.match(suite.stdout, /^# pass 4$/m, `the example's four tests pass in the consumer: ${suite.stdout}${suite.stderr}`)
  t.match(suite.stdout, /^# fail 0$/m)

  const keys = filesUnder(path.join(consumer, 'node_modules')).filter((f) => f.endsWith('.key'))
  t.same(keys, [], 'no key was written into node_modules')
  t.ok(fs.existsSync(path.join(cache, 'lyncproxy/certs/lab-ca.key')), 'the lab CA went to the user\'s cache')

  const help = await run('npx', ['--no-install', 'lyncproxy', '--help'], { cwd: consumer, env, encoding: 'utf8' })
  t.match(help.stdout, /^Usage: lyncproxy <command>/)
  const schema = await run('npx', ['--no-install', 'lyncproxy', 'schema'], { cwd: consumer, env, encoding: 'utf8' })
  t.equal(schema.stdout, fs.readFileSync(path.join(REPO, 'schema/lyncproxy.schema.json'), 'utf8'), 'npx lyncproxy schema from the installed package')
})
