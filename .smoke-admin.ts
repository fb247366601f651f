import pino from 'pino'
import { loadConfigFile } from './src/config/load.js'
import { startLab } from './src/lab/run.js'
import { startAdmin } from './src/admin/server.js'
const loaded = await loadConfigFile('/tmp/lpsmoke/lab.yaml', { overrides: { httpPort: 18080, httpsPort: 18443 } })
const logger = pino({ level: 'warn' })
const lab = await startLab(loaded, { logger, ephemeralPorts: true })
const admin = await startAdmin({ proxy: lab.proxy, logger, file: '/tmp/lpsmoke/lab.yaml', baseDir: '/tmp/lpsmoke', processMetrics: true })
console.log('ADMIN', admin.url, JSON.stringify(lab.proxy.listeners))
process.on('SIGTERM', async () => { await admin.close(); await lab.close(); process.exit(0) })
