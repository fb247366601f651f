// A self-signed server certificate for one name, made by openssl for a stand-in test that needs an
// https site but not the lab CA.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

export async function throwawayCert (cn: string): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'standin-cert-'))
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`,
      '-addext', `subjectAltName=DNS:${cn}`, '-days', '2', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c')])
    return { cert: await readFile(path.join(dir, 'c'), 'utf8'), key: await readFile(path.join(dir, 'k'), 'utf8') }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
