// docker-compose.yml builds the lab as containers. No Docker engine runs here, but Debian's
// docker-compose validates the file without one, and the config it starts must pass `check`.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { runCheck } from '../src/cli/check.js'
import { loadConfigFile } from '../src/config/load.js'

const run = promisify(execFile)

const compose = await run('docker-compose', ['version'], { timeout: 30_000 }).then(() => true, () => false)

t.test('docker-compose.yml is a valid compose file with the lab topology', { skip: compose ? false : 'docker-compose is not installed (apt-get install docker-compose)' }, async (t) => {
  const out = (await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { timeout: 60_000 })).stdout
  for (const service of ['certs', 'fe01', 'fe02', 'dir01', 'dir02', 'owas01', 'lyncproxy']) {
    t.match(out, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`)
  }
  t.match(out, /^ {2}external:$/m, 'an external network')
  t.match(out, /internal: true/, 'the internal network has no way out')
})

t.test('the compose topology names every lab server and passes check', async (t) => {
  const loaded = await loadConfigFile('config/compose.yaml')
  const servers = (loaded.config.lab?.servers ?? []).map((s) => s.name).sort()
  t.same(servers, ['dir01', 'dir02', 'fe01', 'fe02', 'owas01'], 'one container per lab server')
  const out: string[] = []
  const code = await runCheck(['-c', 'config/compose.yaml'], { stdout: { write: (s) => out.push(s) }, stderr: { write: (s) => out.push(s) }, env: {} })
  t.equal(code, 0, out.join(''))
})
