import { runExplain } from './src/cli/explain.js'
import { runPorts } from './src/cli/ports.js'
const args = process.argv.slice(2)
if (args[0] === 'ports') await runPorts(args.slice(1)); else await runExplain(args)
