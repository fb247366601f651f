// --before DIR (the build before a change, measured in the same rounds as lyncproxy): how it joins
// the target list, and the message a checkout without a build gets, before anything is started.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { beforeBuildProblem, resolveBefore } from '../bench/before.js'
import { ALL_TARGETS, parseOptions } from '../bench/options.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

t.test('--before adds lyncproxy-before right after lyncproxy, or at the end without it', async (t) => {
  t.same(parseOptions([]).targets, ALL_TARGETS, 'no --before: the targets as they were')
  t.equal(parseOptions([]).before, undefined)
  t.same(parseOptions(['--before', '/tmp/b']).targets, ['direct', 'lyncproxy', 'lyncproxy-before', 'http-proxy', 'nginx', 'haproxy'])
  t.same(parseOptions(['--before', '/tmp/b', '--targets', 'nginx,lyncproxy']).targets, ['nginx', 'lyncproxy', 'lyncproxy-before'])
  t.same(parseOptions(['--before', '/tmp/b', '--targets', 'nginx']).targets, ['nginx', 'lyncproxy-before'])
  t.same(parseOptions(['--before', '/tmp/b', '--targets', 'lyncproxy-before,lyncproxy']).targets, ['lyncproxy-before', 'lyncproxy'], 'named in --targets: kept where it was named, once')
  t.equal(parseOptions(['--before', '/tmp/b']).before, '/tmp/b')
})

t.test('lyncproxy-before without --before, and an empty --before, are refused', async (t) => {
  t.throws(() => parseOptions(['--targets', 'lyncproxy,lyncproxy-before']), /lyncproxy-before needs --before DIR/)
  t.throws(() => parseOptions(['--before', '']), /--before needs a directory/)
  t.throws(() => parseOptions(['--targets', 'lyncproxy-2w']), /unknown target 'lyncproxy-2w'/, 'the other inner targets stay unnameable')
})

t.test('a checkout without dist/cli/main.js: the missing file and the commands that build it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-before-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const problem = beforeBuildProblem(dir) ?? 'no problem reported'
  t.match(problem, `${path.join(dir, 'dist/cli/main.js')} is missing`)
  t.match(problem, `git worktree add ${dir} <commit> && (cd ${dir} && npm ci && npm run build)`)
  t.throws(() => resolveBefore(dir), { message: problem })

  mkdirSync(path.join(dir, 'dist/cli'), { recursive: true })
  writeFileSync(path.join(dir, 'dist/cli/main.js'), '')
  t.equal(beforeBuildProblem(dir), undefined, 'built: no problem')
  const b = resolveBefore(dir)
  t.equal(b.main, path.join(dir, 'dist/cli/main.js'))
  t.equal(b.commit, undefined, 'not a git checkout: no commit')
  t.equal(b.label, 'lyncproxy, build before')
})

// This worktree is itself a git checkout; it passes the check once dist/ is built.
t.test('a git checkout is labelled with its short commit', { skip: beforeBuildProblem(root) === undefined ? false : 'dist/ is not built here' }, async (t) => {
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()
  const b = resolveBefore(root)
  t.equal(b.commit, head)
  t.equal(b.label, `lyncproxy, build before (${head})`)
})

t.test('npm run bench -- --before DIR without a build stops at once, naming the file and the fix', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-before-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-before-out-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const r = spawnSync(process.execPath, ['--import', './bench/register.mjs', 'bench/run.ts', '--quick', '--before', dir, '--out', out], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1, `exit status 1; output:\n${r.stdout}${r.stderr}`)
  t.match(r.stderr, `${path.join(dir, 'dist/cli/main.js')} is missing`)
  t.match(r.stderr, `git worktree add ${dir} <commit> && (cd ${dir} && npm ci && npm run build)`)
  t.equal(r.stdout, '', 'nothing was built or started')
})
