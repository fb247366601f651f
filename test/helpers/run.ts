// Runs a command-line tool (openssl, curl) with input on stdin and a time limit, and collects what
// it printed and how it exited, without treating a non-zero exit as an exception.
import { spawn } from 'node:child_process'

export interface RunResult { code: number | null, stdout: string, stderr: string }

export function run (cmd: string, args: string[], input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => { /* the child may exit before reading its input */ })
    child.stdin.end(input)
  })
}
