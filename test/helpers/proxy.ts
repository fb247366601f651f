// Starts lyncproxy for a test: listeners on 127.0.0.1 port 0, lab certificates in a temp directory,
// pools pointing at test upstreams. Everything it starts is closed by the returned close().
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino, { type Logger } from 'pino'
import { validateConfigObject } from '../../src/config/load.js'
import { startProxy, type RunningProxy } from '../../src/control/proxy.js'
import { ensureLabCertificates, type LabCertificates } from '../../src/tls/lab-certs.js'

export const PUBLIC_NAMES = ['webext.contoso.com', 'webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com', 'lyncdiscover.contoso.com', 'officewebapps01.contoso.com']

let shared: Promise<LabCertificates> | undefined

// One set of lab certificates per test file: RSA key generation is the slow part of a TLS test.
// They live as long as the test process, which removes them when it exits.
export function testCertificates (): Promise<LabCertificates> {
  if (shared !== undefined) return shared
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-test-certs-'))
  process.once('exit', () => { fs.rmSync(dir, { recursive: true, force: true }) })
  shared = ensureLabCertificates({
    dir,
    externalNames: PUBLIC_NAMES,
    internal: [
      { id: 'fe', names: ['pool01.contoso.net', 'webext.contoso.com'] },
      { id: 'dir', names: ['dirpool.contoso.net', 'webdirext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com', 'lyncdiscover.contoso.com'] },
      { id: 'owas', names: ['owas01.contoso.net', 'officewebapps01.contoso.com'] },
    ],
  })
  return shared
}

export interface TestProxy {
  proxy: RunningProxy
  certs: LabCertificates
  httpPort: number
  httpsPort: number
  close: () => Promise<void>
}

// `config` is a lyncproxy config object; listeners default to an http and an https one on port 0.
export async function startTestProxy (config: Record<string, unknown>, options: { logger?: Logger } = {}): Promise<TestProxy> {
  const certs = await testCertificates()
  const full = {
    listeners: [
      { name: 'external-http', protocol: 'http', address: '127.0.0.1', port: 0 },
      { name: 'external-https', protocol: 'https', address: '127.0.0.1', port: 0, certificates: [{ lab: true }] },
    ],
    certs: { dir: path.dirname(certs.caFile) },
    ...config,
  }
  const loaded = validateConfigObject(full, { file: 'test-config.yaml', baseDir: process.cwd() })
  const proxy = await startProxy(loaded, { logger: options.logger ?? pino({ level: 'silent' }), labCerts: certs })
  return {
    proxy,
    certs,
    httpPort: proxy.listeners.find((l) => l.protocol === 'http')?.port ?? 0,
    httpsPort: proxy.listeners.find((l) => l.protocol === 'https')?.port ?? 0,
    close: () => proxy.close(0),
  }
}

export function pool (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { fqdn: 'pool01.contoso.net', address: '127.0.0.1', httpPort: port, httpsPort: port, ...extra }
}
