// Lets `node --import ./bench/register.mjs bench/run.ts` run the harness's TypeScript directly: the
// ts-node loader that tap ships, in transpile-only mode (type checking is `npm run typecheck`'s job).
import { fileURLToPath } from 'node:url'

process.env.TS_NODE_TRANSPILE_ONLY ??= 'true'
process.env.TS_NODE_PROJECT ??= fileURLToPath(new URL('../tsconfig.json', import.meta.url))
await import('@isaacs/ts-node-temp-fork-for-pr-2009/import')
