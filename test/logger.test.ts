// The process logger hands a turn's lines to its destination in one write, keeps them in call order,
// and loses none when the process exits right after logging.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { isoTimeField } from '../src/observe/log-time.js'
import { createLogger } from '../src/observe/logger.js'
import { TurnBatchedDestination } from '../src/observe/turn-batched-destination.js'
import { cleanEnv, REPO } from './helpers/cli.js'

// A destination that records each write it is handed, decoded; anything but a Buffer is recorded as
// such, since the file and stdout destinations are opened in sonic-boom's buffer mode.
function recorder (): { writes: string[], flushes: number, dest: ConstructorParameters<typeof TurnBatchedDestination>[0] } {
  const r = {
    writes: [] as string[],
    flushes: 0,
    dest: {
      write: (chunk: Buffer) => { r.writes.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : `not a Buffer: ${typeof chunk}`); return true },
      flush: (cb?: (err?: Error) => void) => { r.flushes++; cb?.() },
      flushSync: () => { r.flushes++ },
    },
  }
  return r
}

t.test('the time field is pino\'s ISO time, reformatted only when the millisecond changes', async (t) => {
  const before = Date.now()
  const first = isoTimeField()
  const match = /^,"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"$/.exec(first)
  t.ok(match, `pino's field shape: ${first}`)
  const ms = Date.parse(match![1]!)
  t.ok(ms >= before && ms <= Date.now(), 'the current millisecond')
  let changed = ''
  const until = Date.now() + 50
  while (changed === '' && Date.now() < until) {
    const field = isoTimeField()
    if (field !== first) changed = field
  }
  t.not(changed, '', 'a later millisecond gets a new field')
  t.ok(Date.parse(changed.slice(9, -1)) > ms, 'and its time is later')
})

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('the lines of one event-loop turn reach the destination as one write, in order', async (t) => {
  const r = recorder()
  const batched = new TurnBatchedDestination(r.dest)
  batched.write('a\n')
  batched.write('b → é\n')
  batched.write('c\n')
  t.same(r.writes, [], 'nothing is written while the turn runs')
  await nextTurn()
  t.same(r.writes, ['a\nb → é\nc\n'], 'one write with the three lines, in call order, as UTF-8 bytes')
  await nextTurn()
  t.same(r.writes, ['a\nb → é\nc\n'], 'an idle turn writes nothing')
  batched.write('d\n')
  batched.flushSync()
  t.same(r.writes, ['a\nb → é\nc\n', 'd\n'], 'flushSync hands over the pending lines first')
  t.equal(r.flushes, 1)
  await nextTurn()
  t.equal(r.writes.length, 2, 'and the scheduled write finds nothing left')
})

t.test('a file logger keeps access lines and other lines in call order', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'lyncproxy.log')
  const logger = createLogger({ level: 'info', file })
  await new Promise((resolve) => setTimeout(resolve, 100))
  const exchanges = logger.child({ kind: 'exchange' })
  for (let i = 0; i < 50; i++) {
    exchanges.info(`exchange ${i} → é`)
    if (i % 10 === 0) logger.warn(`warning ${i}`)
  }
  const expected: string[] = []
  for (let i = 0; i < 50; i++) {
    expected.push(`exchange ${i} → é`)
    if (i % 10 === 0) expected.push(`warning ${i}`)
  }
  // sonic-boom's flush callback does not wait for the write (minLength 0): the file is read until
  // every line is there.
  const read = (): string[] => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
  for (let i = 0; i < 100 && read().length < expected.length; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(read().map((l) => (JSON.parse(l) as { msg: string }).msg), expected)
})

t.test('lines logged just before process.exit() reach the file', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'exit.log')
  // Plain JavaScript on the built logger (dist): no TypeScript loader in the child.
  const script = path.join(dir, 'log-and-exit.mjs')
  // The file is opened asynchronously; the child logs once it is open, then exits in the same turn.
  fs.writeFileSync(script, [
    `import { createLogger } from ${JSON.stringify(path.join(REPO, 'dist/observe/logger.js'))}`,
    'const logger = createLogger({ level: \'info\', file: process.argv[2] })',
    'setTimeout(() => {',
    '  for (let i = 0; i < 1000; i++) logger.info(`line ${i}`)',
    '  process.exit(0)',
    '}, 200)',
    '',
  ].join('\n'))
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, file], { cwd: REPO, env: cleanEnv(), stdio: 'inherit' })
    child.on('close', resolve)
  })
  t.equal(code, 0)
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n')
  t.equal(lines.length, 1000, 'every line is on disk')
  t.equal((JSON.parse(lines[999]!) as { msg: string }).msg, 'line 999')
})
