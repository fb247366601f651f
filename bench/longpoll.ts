// Idle long polls, as UCWA event channels make them: each client connection sends one GET for the
// events resource and waits; the backend holds it. The connections live in a child process
// (servers/longpoll-clients.ts), opened in batches so that no accept queue overflows, and are all
// closed at the end.
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { PUBLIC_NAME } from './peers.js'

export interface LongPollStatus {
  opened: number
  // Connections that received anything (a response means the poll was not held).
  answered: number
  // Connections that failed or were closed by the other side while held.
  lost: number
  firstError: string | null
}

export interface LongPollSet {
  readonly pid: number
  status: () => Promise<LongPollStatus>
  close: () => Promise<LongPollStatus>
}

export interface LongPollOptions {
  childDir: string
  port: number
  tls: boolean
  count: number
  batch?: number
}

function next (child: ChildProcess, type: string): Promise<LongPollStatus> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: LongPollStatus & { type: string }): void => {
      if (m.type !== type) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve({ opened: m.opened, answered: m.answered, lost: m.lost, firstError: m.firstError })
    }
    const onExit = (code: number | null): void => { child.off('message', onMessage); reject(new Error(`the long-poll clients exited (${code})`)) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

export async function openLongPolls (o: LongPollOptions): Promise<LongPollSet> {
  const args = ['--port', String(o.port), '--count', String(o.count), '--host', PUBLIC_NAME, '--batch', String(o.batch ?? 200)]
  if (o.tls) args.push('--tls')
  // execArgv: [] — not the harness's TypeScript loader.
  const child = fork(path.join(o.childDir, 'longpoll-clients.mjs'), args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  await next(child, 'opened')
  return {
    pid: child.pid!,
    status: () => { const r = next(child, 'status'); child.send({ type: 'status' }); return r },
    close: async () => {
      const r = next(child, 'closed')
      child.send({ type: 'close' })
      const s = await r
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve))
      return s
    },
  }
}
