// A real DNS server on loopback for DNS pool tests: dnsmasq (Debian's dnsmasq-base) answering from a
// hosts file with a 1 s TTL, nothing else (no upstream servers, no /etc/hosts). Rewriting the file
// and sending SIGHUP changes the records, as an admin changing DNS would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const CANDIDATES = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/sbin/dnsmasq']

function findDnsmasq (): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p))
}

// The dnsmasq binary, installed from Debian's dnsmasq-base when missing and we may; otherwise the
// reason it is not available.
export function ensureDnsmasq (): { path: string } | { reason: string } {
  const found = findDnsmasq()
  if (found !== undefined) return { path: found }
  if (process.getuid?.() !== 0) return { reason: 'dnsmasq is not installed and installing dnsmasq-base needs root' }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let r = spawnSync('apt-get', ['install', '-y', '-qq', 'dnsmasq-base'], { env, encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) {
    // The package lists may be missing on a fresh machine.
    spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8', timeout: 120_000 })
    r = spawnSync('apt-get', ['install', '-y', '-qq', 'dnsmasq-base'], { env, encoding: 'utf8', timeout: 120_000 })
  }
  const installed = findDnsmasq()
  if (installed !== undefined) return { path: installed }
  return { reason: `dnsmasq is not installed and apt-get install dnsmasq-base failed: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').at(-1) ?? ''}` }
}

export interface Dnsmasq {
  port: number
  server: string
  // Replaces every record: [address, name] pairs.
  setRecords (records: ReadonlyArray<readonly [string, string]>): void
  close (): Promise<void>
}

async function freeUdpPort (): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const port = s.address().port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export async function startDnsmasq (binary: string, records: ReadonlyArray<readonly [string, string]>): Promise<Dnsmasq> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-dns-'))
  // dnsmasq drops root for `nobody` and rereads the file as that user on SIGHUP.
  fs.chmodSync(dir, 0o755)
  const hosts = path.join(dir, 'hosts')
  const write = (rs: ReadonlyArray<readonly [string, string]>): void => {
    fs.writeFileSync(hosts, rs.map(([a, n]) => `${a} ${n}\n`).join(''), { mode: 0o644 })
  }
  write(records)
  let lastError = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort()
    const child: ChildProcess = spawn(binary, [
      '--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--local-ttl=1',
      '--conf-file=/dev/null', '--pid-file=', '--log-facility=-',
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const server = `127.0.0.1:${port}`
    const resolver = new Resolver({ timeout: 200, tries: 1 })
    resolver.setServers([server])
    const name = records[0]?.[1] ?? 'probe.invalid'
    const end = Date.now() + 5000
    let ready = false
    while (!ready && Date.now() < end && child.exitCode === null) {
      try {
        await resolver.resolve4(name)
        ready = true
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    if (ready) {
      return {
        port,
        server,
        setRecords: (rs) => { write(rs); child.kill('SIGHUP') },
        close: async () => {
          if (child.exitCode === null) child.kill('SIGTERM')
          await exited
          fs.rmSync(dir, { recursive: true, force: true })
        },
      }
    }
    lastError = stderr.trim()
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  }
  fs.rmSync(dir, { recursive: true, force: true })
  throw new Error(`dnsmasq did not start: ${lastError}`)
}
