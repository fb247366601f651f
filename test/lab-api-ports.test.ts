// startLab({ ports: 'configured' }): the lab on its config's own port numbers, as `npm start` binds
// them (moved up by 10000 below 1024 for a user who may not bind there), so that a browser or the
// README's screenshot sees 80, 443 → 4443 as the port summaries print them. The lab's file is moved
// to addresses of its own (127.0.77.x), so that no other test's lab can hold these ports.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { DEFAULT_LAB_CONFIG_FILE, startLab } from '../src/api/lab.js'

t.test('a lab on its configured ports', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'lab.yaml')
  fs.writeFileSync(file, fs.readFileSync(DEFAULT_LAB_CONFIG_FILE, 'utf8').replace(/127\.0\.1\./g, '127.0.77.').replace(/address: 127\.0\.0\.1$/gm, 'address: 127.0.77.1'))
  const lab = await startLab({ config: file, certsDir: path.join(dir, 'certs'), admin: true, ports: 'configured' })
  t.teardown(() => lab.close())
  // Root binds 443; anyone else gets the lab's unprivileged move.
  t.match(lab.https, { address: '127.0.77.1' })
  t.ok(lab.https!.port === 443 || lab.https!.port === 10443, `the external HTTPS listener on its configured port (${lab.https!.port})`)
  t.ok(lab.http!.port === 80 || lab.http!.port === 10080, `and HTTP (${lab.http!.port})`)
  const vip = lab.proxy.listeners.find((l) => l.name === 'dir-vip-ext-https')!
  t.same([vip.address, vip.port], ['127.0.77.2', 4443], 'the Director VIP keeps 4443')
  const root = await lab.fetch(`${lab.urls['lyncdiscover.contoso.com']!}/?sipuri=user1@contoso.com`, { headers: { accept: 'application/json' } })
  t.equal(root.status, 200, 'a client reaches the pool through it')
  t.match(await root.json(), { _links: { user: {} } })
})
