// docs/configuration.md and docs/errors.md are rendered from the config schema, the defaults and the
// error registry (scripts/gen-docs.ts). A committed page that differs from what the sources render
// now is a doc that has drifted; the fix is `npm run docs`. This test renders in memory only.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { GENERATED_DOCS } from '../scripts/gen-docs.js'

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')

for (const doc of GENERATED_DOCS) {
  t.test(`${doc.file} is what scripts/gen-docs.ts renders`, async (t) => {
    const committed = fs.readFileSync(path.join(REPO, doc.file), 'utf8')
    const rendered = doc.render()
    t.ok(committed === rendered, `${doc.file} is up to date (if not: npm run docs, and commit the result)`)
    if (committed !== rendered) t.equal(committed, rendered, 'the difference')
  })
}
