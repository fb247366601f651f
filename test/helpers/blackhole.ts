// A port whose TCP handshake never completes, like a pool VIP behind a firewall that drops packets:
// a child process listens with the smallest backlog and then never accepts (its thread sleeps), so
// once the accept queue is full the kernel drops every further SYN and connect() just waits.
import { spawn } from 'node:child_process'
import net, { type Socket } from 'node:net'

const CHILD = `
const net = require('node:net')
const fs = require('node:fs')
const server = net.createServer().listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  fs.writeSync(1, server.address().port + '\\n')
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000)
  process.exit(0)
})
`

export interface Blackhole {
  port: number
  close: () => void
}

export async function startBlackhole (): Promise<Blackhole> {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`blackhole child exited (${code})`)))
  })
  // Fill the accept queue; the connections beyond it are left waiting, as later ones will be.
  const fillers: Socket[] = []
  for (let i = 0; i < 8; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => { /* closed at the end */ }))
  await new Promise((resolve) => setTimeout(resolve, 200))
  return {
    port,
    close: () => {
      for (const s of fillers) s.destroy()
      // Its thread is asleep in Atomics.wait, where Node's own SIGTERM handling never runs.
      child.stdout.destroy()
      child.kill('SIGKILL')
    },
  }
}
