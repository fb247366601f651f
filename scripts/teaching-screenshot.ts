// The README's picture of the flow view: the lab on its configured ports (so the arrows read
// 80, 443 → 4443, as the port summaries do), the lesson of the flow view's browser test run through
// it, and Chromium's screenshot of the mobile sign-in. Run by hand, as root or a user who may bind
// below 1024, when the page changes:
//   node --import ./bench/register.mjs scripts/teaching-screenshot.ts [FILE]
// FILE is docs/img/flow-view.png by default.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startLab } from '../src/api/lab.js'
import { CHROMIUM, openPage, startChromium } from '../test/helpers/chromium.js'
import { runLesson } from '../test/helpers/lesson.js'

const file = path.resolve(process.argv[2] ?? 'docs/img/flow-view.png')

t.test('the flow view, for the README', { skip: CHROMIUM === undefined ? 'no chromium' : false, timeout: 180_000 }, async (t) => {
  const certs = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-screenshot-'))
  t.teardown(() => rmSync(certs, { recursive: true, force: true }))
  const lab = await startLab({ certsDir: certs, admin: true, ports: 'configured' })
  t.teardown(() => lab.close())
  await runLesson(lab)
  const page = await openPage(startChromium(t), lab.adminUrl!)
  await page.setViewport(1280, 860)
  await page.waitFor('document.body.dataset.ready === "true"', 'the page')
  const key = await page.waitFor<string>('[...document.querySelectorAll("#flow-list .flow-item")].find((b) => b.querySelector(".flow-name").textContent === "Mobile sign-in")?.dataset.flow', 'the sign-in in the list', 30_000)
  await page.evaluate(`document.querySelector('#flow-list .flow-item[data-flow="${key}"]').click()`)
  await page.waitFor(`document.getElementById('flow-view').dataset.flow === ${JSON.stringify(key)} && document.querySelector('#flow-diagram svg.seq') !== null`, 'the sign-in drawn')
  await page.evaluate('document.getElementById("feed-section").scrollIntoView()')
  // Two frames for the scroll to be painted.
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))')
  writeFileSync(file, await page.screenshot())
  t.pass(`wrote ${file}`)
})
