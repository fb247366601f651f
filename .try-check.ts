import { runCheck } from './src/cli/check.js'
process.exitCode = await runCheck(process.argv.slice(2))
