// The probe against a reverse proxy it did not write: nginx in front of the lab's stand-in servers,
// set up by Microsoft's reverse proxy rules (443 to the pools' 4443, 80 to 8080, the Host kept,
// 960 s on /ucwa) except for one thing, a pooled upstream (keepalive 8), which is what a
// hand-written nginx config usually has. NTLM breaks behind it; the probe must say so every run,
// and name the pooling as the cause, not delegation or the credentials.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t from 'tap'
import { deepFreeze, type ResolvedConfig } from '../src/config/defaults.js'
import { loadConfigFile } from '../src/config/load.js'
import { startLab, type RunningLab } from '../src/lab/run.js'
import { runProbe, type ProbeResult } from '../src/probe/run.js'

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p))
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-probe-nginx-'))

let lab: RunningLab
let nginx: ReturnType<typeof spawn> | undefined
const ports = { http: 0, https: 0 }

function sites (members: string[], kind: 'external' | 'internal', protocol: 'http' | 'https'): string {
  return members.map((m) => {
    const s = lab.standIns.find((x) => x.member === m)?.sites.find((x) => x.kind === kind && x.protocol === protocol)
    if (s === undefined) throw new Error(`no ${kind} ${protocol} site on ${m}`)
    return `    server ${s.address}:${s.port};`
  }).join('\n')
}

async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

function nginxConf (certs: string): string {
  const upstream = (name: string, servers: string): string => `  upstream ${name} {\n${servers}\n    keepalive 8;\n  }`
  const proxy = (to: string, sslName?: string): string => `
      proxy_pass ${to};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 960s;${sslName === undefined ? '' : `
      proxy_ssl_trusted_certificate ${certs}/lab-ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name ${sslName};
      proxy_ssl_server_name on;`}`
  // One HTTPS site per published name set, all with the lab's external certificate, as TMG's listener.
  const httpsServer = (names: string, location: string): string => `  server {
    listen 127.0.0.1:${ports.https} ssl;
    ssl_certificate ${certs}/external.pem;
    ssl_certificate_key ${certs}/external.key;
    server_name ${names};
    location / {${location}
    }
  }`
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${work}/error.log warn;
pid ${work}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
${upstream('fe_https', sites(['fe01', 'fe02'], 'external', 'https'))}
${upstream('dir_https', sites(['dir01', 'dir02'], 'external', 'https'))}
${upstream('dir_http', sites(['dir01', 'dir02'], 'external', 'http'))}
${upstream('owas_https', sites(['owas01'], 'external', 'https'))}
  server {
    listen 127.0.0.1:${ports.http};
    server_name lyncdiscover.contoso.com;
    location / {${proxy('http://dir_http')}
    }
  }
  server {
    listen 127.0.0.1:${ports.http} default_server;
    return 301 https://$host$request_uri;
  }
${httpsServer('webext.contoso.com', proxy('https://fe_https', 'pool01.contoso.net'))}
${httpsServer('webdirext.contoso.com meet.contoso.com dialin.contoso.com lyncdiscover.contoso.com', proxy('https://dir_https', 'dirpool.contoso.net'))}
${httpsServer('officewebapps01.contoso.com', proxy('https://owas_https', 'owas01.contoso.net'))}
}
`
}

t.before(async () => {
  if (NGINX === undefined) return
  const loaded = await loadConfigFile(path.join(REPO, 'config/lab.yaml'))
  const certs = path.join(work, 'certs')
  const config = deepFreeze({ ...structuredClone(loaded.config), certs: { dir: certs }, tcp: [] }) as ResolvedConfig
  lab = await startLab({ ...loaded, config }, { logger: pino({ level: 'silent' }), ephemeralPorts: true })
  ports.http = await freePort()
  ports.https = await freePort()
  fs.writeFileSync(path.join(work, 'nginx.conf'), nginxConf(certs))
  nginx = spawn(NGINX, ['-e', path.join(work, 'error.log'), '-p', work, '-c', path.join(work, 'nginx.conf')], { stdio: 'ignore' })
  // Ready when it accepts on its HTTPS port; bounded.
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(ports.https, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (up) return
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${fs.readFileSync(path.join(work, 'error.log'), 'utf8')}`)
    await sleep(100)
  }
  throw new Error('nginx did not listen within 10 s')
})
t.teardown(async () => {
  nginx?.kill('SIGTERM')
  await lab?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

function row (results: ProbeResult[], check: string, name: string): ProbeResult | undefined {
  return results.find((r) => r.check === check && r.name === name)
}

t.test('behind a pooling nginx, every probe run fails the NTLM handshake and blames the pooling', { skip: NGINX === undefined ? 'nginx is not installed (apt-get install nginx-light)' : false }, async (t) => {
  const ca = fs.readFileSync(path.join(work, 'certs/lab-ca.pem'), 'utf8')
  for (let run = 1; run <= 3; run++) {
    const results = await runProbe({ target: '127.0.0.1', httpPort: ports.http, httpsPort: ports.https, ca, user: 'user1@contoso.com', password: 'Pass@word1' })
    const ntlm = row(results, 'ntlm-handshake', 'webext.contoso.com/abs/handler/')
    t.equal(ntlm?.result, 'FAIL', `run ${run}: the handshake fails (${ntlm?.detail ?? 'no row'})`)
    t.match(ntlm?.cause, /pool connection|connection pooling|reuses an authenticated upstream connection/, `run ${run}: and the cause is the pooling`)
    t.notMatch(ntlm?.cause ?? '', /^either the credentials/, `run ${run}: not the credentials`)
    // The rest of the setup is right, so what passes through lyncproxy passes through nginx too.
    for (const [check, name] of [['tls', 'webext.contoso.com'], ['lyncdiscover-json', 'lyncdiscover.contoso.com'], ['ucwa-signin', 'webext.contoso.com'], ['access-location', 'webext.contoso.com']]) {
      t.equal(row(results, check!, name!)?.result, 'PASS', `run ${run}: ${check} ${name} passes`)
    }
  }
})
