// bench/results keeps one file pair per run: the names come from the run's day, machine and mode,
// and --merge finds this machine's newest full run by name.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { newestFullRun, runFileBase } from '../bench/result-files.js'

t.test('a run is named by the day it started, the machine and (unless full) the mode', async (t) => {
  const machine = { shortName: 'amd-epyc-2c' }
  t.equal(runFileBase({ startedAt: '2026-11-22T20:03:03.211Z', mode: 'full', machine }), '2026-11-22-amd-epyc-2c')
  t.equal(runFileBase({ startedAt: '2026-11-22T20:03:03.211Z', mode: 'quick', machine }), '2026-11-22-amd-epyc-2c-quick')
  t.equal(runFileBase({ startedAt: '2026-12-02T00:00:00.000Z', mode: 'profile', machine }), '2026-12-02-amd-epyc-2c-profile')
})

t.test('the newest full run of this machine is the last by name', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-bench-results-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.equal(newestFullRun(dir, 'amd-epyc-2c'), undefined, 'none in an empty directory')
  t.equal(newestFullRun(path.join(dir, 'missing'), 'amd-epyc-2c'), undefined, 'none in a missing directory')
  for (const name of ['2026-11-22-amd-epyc-2c.json', '2026-11-22-amd-epyc-2c.md', '2026-12-01-amd-epyc-2c.json', '2026-12-03-amd-epyc-2c-quick.json',
    '2026-12-04-intel-xeon-8c.json', '2026-12-02-issue16-request-path.md', 'engines.json']) writeFileSync(path.join(dir, name), '{}')
  t.equal(newestFullRun(dir, 'amd-epyc-2c'), path.join(dir, '2026-12-01-amd-epyc-2c.json'), 'not a quick run, not another machine, not a note')
  t.equal(newestFullRun(dir, 'intel-xeon-8c'), path.join(dir, '2026-12-04-intel-xeon-8c.json'))
})
