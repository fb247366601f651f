// Every "try it" line the lab's banner prints is run, with curl, against a lab on ephemeral ports,
// and must answer 200 from the server behind the name (not a 404 from a path the server lacks).
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pino from 'pino'
import t from 'tap'
import { labBanner } from '../src/cli/lab.js'
import { deepFreeze, type ResolvedConfig } from '../src/config/defaults.js'
import { loadConfigFile } from '../src/config/load.js'
import { startLab } from '../src/lab/run.js'
import { REPO } from './helpers/cli.js'

const run = promisify(execFile)

t.test('the banner\'s curl lines all answer 200', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-banner-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const loaded = await loadConfigFile(path.join(REPO, 'config/lab.yaml'))
  const config = deepFreeze({ ...structuredClone(loaded.config), certs: { dir: path.join(work, 'certs') } }) as ResolvedConfig
  const lab = await startLab({ ...loaded, config }, { logger: pino({ level: 'silent' }), ephemeralPorts: true })
  t.teardown(() => lab.close())
  const banner = labBanner(lab)
  const lines = banner.split('\n').filter((l) => l.startsWith('  curl ')).map((l) => l.trim())
  t.ok(lines.length >= 7, `the banner prints a line per published name and the HTTP first hop (${lines.length})`)
  for (const line of lines) {
    // The lines are for a shell; they hold no characters a shell would change beyond the quotes.
    const args = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1)
    const r = await run('curl', [...args, '--max-time', '20', '-o', '/dev/null', '-w', '%{http_code} %header{x-lab-member}'], { encoding: 'utf8' })
    const [status, member] = r.stdout.split(' ')
    t.equal(status, '200', `${line}: ${r.stdout}`)
    t.ok((member ?? '') !== '', `answered by a stand-in server (${member ?? ''})`)
  }
})
