// The flow view in a real browser while a whole lab runs real Lync flows through the proxy: a
// mobile sign-in (lyncdiscover on 80, the Director, the user resource's MsRtcOAuth challenge, the
// token, the home pool, applications, the event channel), an NTLM address book download, a meeting
// join as a guest, and a name nothing publishes. The page must list each flow by name, draw each
// one's steps in the order the client made them with the status it got and the server that
// answered, open both sides of a 401 with the challenge and the proxy's reasons, and draw the
// refusal stopping at lyncproxy. Then the HAR export is replayed in a fresh page, without the lab's
// feed, and must show the same flows and steps; Step ◀ ▶ and Pause are driven; and at a laptop's
// and a projector's size no text of the view overlaps another, sticks out of a box or lies on an
// arrow (test/helpers/layout-check.ts).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startLab } from '../src/api/lab.js'
import { CHROMIUM, openPage, startChromium, type Page } from './helpers/chromium.js'
import { collisions, textCount } from './helpers/layout-check.js'
import { runLesson, unpublished, type Sent } from './helpers/lesson.js'

interface Step { name: string, method: string, host: string, path: string, status: number, member: string, stop: string }
interface ShownFlow { name: string, client: string, kind: string, steps: Step[] }

const STEPS = `[...document.querySelectorAll('#flow-diagram g.step')].map((g) => ({
  name: g.dataset.name, method: g.dataset.method, host: g.dataset.host, path: g.dataset.path,
  status: Number(g.dataset.status), member: g.dataset.member, stop: g.dataset.stop }))`

const flowNames = (page: Page): Promise<string[]> => page.evaluate<string[]>('[...document.querySelectorAll("#flow-list .flow-item .flow-name")].map((n) => n.textContent)')

// Every listed flow, oldest first, each with the steps its diagram draws.
async function readFlows (page: Page): Promise<ShownFlow[]> {
  await page.evaluate('document.querySelector("#flow-list .flow-more")?.textContent.startsWith("Show ") && !document.querySelector("#flow-list .flow-more").textContent.includes("newest") && document.querySelector("#flow-list .flow-more").click()')
  const keys = await page.evaluate<Array<{ key: string, name: string, kind: string }>>('[...document.querySelectorAll("#flow-list .flow-item")].map((b) => ({ key: b.dataset.flow, name: b.querySelector(".flow-name").textContent, kind: b.dataset.kind }))')
  const out: ShownFlow[] = []
  for (const { key, name, kind } of keys.reverse()) {
    await showFlow(page, key)
    const client = await page.evaluate<string>('document.querySelector("#flow-title").textContent.replace(/^.* from /, "")')
    out.push({ name, client, kind, steps: await page.evaluate<Step[]>(STEPS) })
  }
  return out
}

async function showFlow (page: Page, key: string): Promise<void> {
  await page.evaluate(`document.querySelector('#flow-list .flow-item[data-flow="${key}"]').click()`)
  await page.waitFor(`document.getElementById('flow-view').dataset.flow === ${JSON.stringify(key)} && document.querySelector('#flow-diagram svg.seq') !== null`, `flow ${key} drawn`, 20_000)
}

async function flowKey (page: Page, name: string): Promise<string> {
  return page.waitFor<string>(`[...document.querySelectorAll('#flow-list .flow-item')].find((b) => b.querySelector('.flow-name').textContent === ${JSON.stringify(name)})?.dataset.flow`, `the flow "${name}" in the list`, 30_000)
}

// The drawing is redrawn for the new width once the browser has laid the page out again.
async function settled (page: Page): Promise<void> {
  await page.waitFor('(() => { const s = document.querySelector("#flow-diagram svg.seq"); return s !== null && Number(s.dataset.width) === Math.max(360, Math.floor(document.getElementById("flow-diagram").clientWidth)) })()', 'the diagram redrawn for the window', 20_000)
}

const screenshotsDir = process.env.LYNCPROXY_SCREENSHOTS

t.test('the flow view follows real Lync flows, opens both sides, replays the HAR export and holds its layout', {
  skip: CHROMIUM === undefined ? 'no chromium (apt-get install chromium)' : false,
  timeout: 300_000,
}, async (t) => {
  const dir = t.testdir({})
  const lab = await startLab({ certsDir: path.join(dir, 'certs'), admin: true })
  t.teardown(() => lab.close())
  const adminUrl = lab.adminUrl!
  t.ok(adminUrl, 'the lab runs its admin plane')

  const cdp = startChromium(t)
  const page = await openPage(cdp, adminUrl)
  await page.waitFor('document.body.dataset.ready === "true"', 'the page to load', 30_000)
  await page.waitFor('document.getElementById("connection").textContent === "live"', 'the flow feed to connect', 30_000)
  t.same(await flowNames(page), [], 'no flow before any client came')

  // The lesson: a mobile sign-in, an NTLM download, a guest's meeting join, an unpublished name.
  const lesson = await runLesson(lab)

  // The flows, by name, newest first.
  const names = ['Refused: unpublished name', 'Meeting join', 'Address book download (NTLM)', 'Mobile sign-in']
  await page.waitFor(`JSON.stringify([...document.querySelectorAll('#flow-list .flow-item .flow-name')].map((n) => n.textContent)) === ${JSON.stringify(JSON.stringify(names))}`,
    'the four flows listed', 30_000).catch(async (err: Error) => { t.fail(`${err.message}: ${JSON.stringify(await flowNames(page))}`) })
  t.same(await flowNames(page), names, 'the flow view lists the four flows by name, newest first')

  const live = await readFlows(page)
  const byName = (flows: ShownFlow[], name: string): ShownFlow => flows.find((f) => f.name === name) ?? { name, client: '', kind: '', steps: [] }
  const shown = (f: ShownFlow): Sent[] => f.steps.map(({ method, host, path, status }) => ({ method, host, path, status }))
  const hostOnly = (host: string): string => host.replace(/:\d+$/, '')
  const logged = (log: Sent[]): Sent[] => log.map((s) => ({ ...s, host: hostOnly(s.host) }))
  const members = (f: ShownFlow): string[] => f.steps.map((s) => s.member)
  // The Director's names reach dir01/dir02 through the HLB VIP (which is lyncproxy too); webext
  // is the Front End pool's.
  const expectedMember = (host: string): RegExp => /^webext\./.test(host) ? /^fe0[12]$/ : /^dir0[12]$/

  const signIn = byName(live, 'Mobile sign-in')
  t.equal(signIn.client, '127.0.0.1', 'named with its client')
  t.same(shown(signIn).map((s) => ({ ...s, host: hostOnly(s.host) })), logged(lesson.mobile), 'the sign-in\'s steps are the client\'s requests, in its order, with the statuses it got')
  t.same(signIn.steps.map((s) => s.name), [
    'lyncdiscover', 'autodiscover root', 'user resource', 'OAuth token', 'user resource',
    'autodiscover root', 'user resource', 'OAuth token', 'user resource',
    'applications', 'makeMeAvailable', 'event channel', 'online meeting',
  ], 'each step named')
  signIn.steps.forEach((s, i) => t.match(s.member, expectedMember(s.host), `sign-in step ${i + 1} (${s.name}, ${s.host}) answered by ${s.member}`))

  const ntlm = byName(live, 'Address book download (NTLM)')
  t.same(shown(ntlm), logged(lesson.ntlm), 'the NTLM download: 401, 401 with the challenge, 200')
  t.same(ntlm.steps.map((s) => s.status), [401, 401, 200])
  t.same(ntlm.steps.map((s) => s.name), ['address book', 'address book (type 1)', 'address book (type 3)'], 'the handshake\'s messages told apart')
  for (const m of members(ntlm)) t.match(m, /^fe0[12]$/, 'answered by a Front End')

  const meet = byName(live, 'Meeting join')
  t.same(shown(meet), logged(lesson.guest), 'the meeting join: the page, then the guest\'s own discovery, token and join')
  t.equal(meet.steps[0]?.name, 'meeting page')
  t.ok(meet.steps.some((s) => s.name === 'meeting join (UCWA)' && s.status === 201), 'ends with joinOnlineMeeting')
  meet.steps.forEach((s, i) => t.match(s.member, expectedMember(s.host), `meeting step ${i + 1} (${s.name}) answered by ${s.member}`))

  const refused = byName(live, 'Refused: unpublished name')
  t.same(refused.steps.map((s) => [s.name, s.status, s.member, s.stop]), [['refused: unpublished name', 404, '', 'listener']], 'the refusal: answered by the proxy, stopped at the listener')

  // Both sides of the user resource's 401, opened from the keyboard.
  const signInKey = await flowKey(page, 'Mobile sign-in')
  await showFlow(page, signInKey)
  const challengeStep = signIn.steps.findIndex((s) => s.name === 'user resource' && s.status === 401)
  await page.evaluate(`(() => { const g = document.querySelector('#flow-diagram g.step[data-step="${challengeStep}"]'); g.focus(); g.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })) })()`)
  await page.waitFor(`!document.getElementById('flow-details').hidden && document.getElementById('flow-details').dataset.step === "${challengeStep}"`, 'the 401\'s details')
  // Every field of that name on that side (WWW-Authenticate comes once per scheme).
  const fields = (table: string, name: string): Promise<Array<{ value: string, change: string, why: string }>> => page.evaluate(`[...document.querySelectorAll('#${table} tr[data-name="${name}"]')].map((row) => ({
    value: row.querySelector('td.value').textContent, change: row.dataset.change ?? '', why: row.querySelector('td.why').textContent }))`)
  const field = async (table: string, name: string): Promise<{ value: string, change: string, why: string } | undefined> => (await fields(table, name))[0]
  const values = async (table: string, name: string): Promise<string[]> => (await fields(table, name)).map((f) => f.value)
  // These rely on the records' response sides and changes (FlowRecord.upstreamResponseHeaders,
  // responseHeaders, requestChanges).
  for (const side of ['flow-details-upstream-response', 'flow-details-response']) {
    const challenges = await values(side, 'www-authenticate')
    t.ok(challenges.some((v) => /^Bearer /.test(v)) && challenges.some((v) => /MsRtcOAuth href="https:\/\/webdirext\.contoso\.com\/WebTicket\/oauthtoken"/.test(v)), `the challenge in ${side}: ${JSON.stringify(challenges)}`)
    t.match((await field(side, 'x-ms-webticketurl'))?.value, /^https:\/\/webdirext\.contoso\.com\/WebTicket\/WebTicketService\.svc$/, `X-MS-WebTicketURL in ${side}`)
  }
  const xff = await field('flow-details-forwarded', 'x-forwarded-for')
  t.equal(xff?.change, 'added', 'X-Forwarded-For marked as added on the forwarded side')
  t.match(xff?.value, /^127\.0\.0\.1$/)
  const explained = await (await fetch(new URL(`/api/explain?url=${encodeURIComponent('https://webdirext.contoso.com/Autodiscover/AutodiscoverService.svc/root/oauth/user')}`, adminUrl))).json() as { headers: { added: Array<{ name: string, why: string }> } }
  const explainWhy = explained.headers.added.find((h) => h.name.toLowerCase() === 'x-forwarded-for')?.why
  t.match(explainWhy, /^set by the proxy/, 'explain\'s reason for X-Forwarded-For')
  t.ok(explainWhy !== undefined && xff?.why.endsWith(`: ${explainWhy}`), `the same reason beside the field (${xff?.why})`)
  const reasons = await page.evaluate<number[]>('[...document.querySelectorAll("#flow-details-forwarded tr.changed")].map((row) => row.querySelector("td.why .reason")?.textContent.length ?? 0)')
  t.ok(reasons.length > 0 && reasons.every((n) => n > 3), `every changed forwarded field has its reason (${reasons.length} changed, reason lengths ${JSON.stringify(reasons)})`)
  t.ok(await page.evaluate<boolean>('document.querySelector("#flow-details .hop-title") !== null'), 'the HLB hop\'s own sides are there too')

  // The NTLM challenge, as received from the Front End and as sent to the client.
  await showFlow(page, await flowKey(page, 'Address book download (NTLM)'))
  await page.evaluate('document.querySelector(\'#flow-diagram g.step[data-step="1"]\').dispatchEvent(new MouseEvent("click", { bubbles: true }))')
  await page.waitFor('document.getElementById("flow-details").dataset.step === "1" && !document.getElementById("flow-details").hidden', 'the type 1\'s details')
  for (const side of ['flow-details-upstream-response', 'flow-details-response']) {
    const challenges = await values(side, 'www-authenticate')
    t.ok(challenges.some((v) => /^NTLM [A-Za-z0-9+/=]{20,}$/.test(v)), `the NTLM challenge in ${side}: ${JSON.stringify(challenges)}`)
  }
  t.match((await field('flow-details-received', 'authorization'))?.value, /^NTLM \[\d+ characters hidden\]$/, 'the client\'s type 1, masked but for its scheme')

  // The refusal stops at lyncproxy's lifeline, with its reason (FlowRecord.reason).
  await showFlow(page, await flowKey(page, 'Refused: unpublished name'))
  const stop = await page.evaluate<{ proxyX: number, rightmost: number, box: boolean, reason: string, lanes: number }>(`(() => {
    const g = document.querySelector('#flow-diagram g.step[data-step="0"]')
    const proxyX = Number(document.querySelector('#flow-diagram g.lifeline[data-lane="proxy"]').dataset.x)
    const rightmost = Math.max(...[...g.querySelectorAll('path.edge')].map((p) => { const b = p.getBBox(); return b.x + b.width }))
    return { proxyX, rightmost, box: g.querySelector('rect.box.refusal') !== null, reason: g.querySelector('.reason')?.textContent ?? '', lanes: document.querySelectorAll('#flow-diagram g.lifeline').length }
  })()`)
  t.ok(stop.rightmost <= stop.proxyX, `no arrow goes past lyncproxy (${stop.rightmost} ≤ ${stop.proxyX})`)
  t.equal(stop.lanes, 2, 'no server lifeline: client and lyncproxy only')
  t.ok(stop.box, 'marked as a refusal')
  t.match(stop.reason, /not published by any rule/, 'with its reason')

  // At a laptop's and a projector's size: no text on text, out of a box or on an arrow.
  await showFlow(page, signInKey)
  await page.evaluate(`document.querySelector('#flow-diagram g.step[data-step="${challengeStep}"]').dispatchEvent(new MouseEvent('click', { bubbles: true }))`)
  for (const [width, height] of [[1024, 768], [1920, 1080]] as const) {
    await page.setViewport(width, height)
    await settled(page)
    await page.waitFor(`document.getElementById('flow-details').dataset.step === "${challengeStep}"`, 'the details still open')
    for (const [part, element] of [['flow-view', 'flow-title'], ['flow-details', 'flow-details']]) {
      await page.evaluate(`document.getElementById('${element}').scrollIntoView()`)
      const png = await page.screenshot()
      t.same([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `a screenshot of ${part} at ${width}×${height}`)
      fs.writeFileSync(path.join(dir, `${part}-${width}x${height}.png`), png)
      if (screenshotsDir !== undefined) fs.writeFileSync(path.join(screenshotsDir, `${part}-${width}x${height}.png`), png)
    }
    const texts = await textCount(page, '#flow-view')
    t.ok(texts >= signIn.steps.length * 5, `the drawing has its labels (${texts} texts) at ${width}×${height}`)
    t.same(await collisions(page, '#flow-view'), [], `nothing collides at ${width}×${height}`)
  }
  // Each flow as the README's teaching section may show it, when asked for.
  if (screenshotsDir !== undefined) {
    for (const f of live) {
      await showFlow(page, await flowKey(page, f.name))
      await settled(page)
      await page.evaluate('document.getElementById("flow-title").scrollIntoView()')
      fs.writeFileSync(path.join(screenshotsDir, `flow-${f.name.toLowerCase().replace(/[^a-z]+/g, '-').replace(/-$/, '')}-1920x1080.png`), await page.screenshot())
    }
  }
  await page.setViewport(1600, 1100)

  // The HAR export, replayed in a fresh page.
  const harText = await (await fetch(new URL('/api/flows.har', adminUrl))).text()
  const harFile = path.join(dir, 'lesson.har')
  fs.writeFileSync(harFile, harText)
  const entries = (JSON.parse(harText) as { log: { entries: unknown[] } }).log.entries.length
  const made = lesson.mobile.length + lesson.ntlm.length + lesson.guest.length + lesson.refused.length
  t.ok(entries >= made, `the whole lesson is in the export (${entries} entries for ${made} requests, the HLB's hops included)`)
  const replay = await openPage(cdp, adminUrl)
  await replay.waitFor('document.body.dataset.ready === "true"', 'the replay page to load', 30_000)
  await replay.evaluate(`(() => {
    const input = document.getElementById('flow-har')
    const transfer = new DataTransfer()
    transfer.items.add(new File([${JSON.stringify(fs.readFileSync(harFile, 'utf8'))}], 'lesson.har', { type: 'application/json' }))
    input.files = transfer.files
    input.dispatchEvent(new Event('change', { bubbles: true }))
  })()`)
  await replay.waitFor('document.getElementById("flow-view").dataset.source === "replay"', 'the replay to load')
  t.match(await replay.evaluate<string>('document.getElementById("flow-source").textContent'), /^Replaying lesson\.har: \d+ exchanges from lyncproxy /)
  t.same(await flowNames(replay), names, 'the replay lists the same flows')
  t.same(await readFlows(replay), live, 'with the same steps, statuses and members')

  // Step ◀ ▶ through the replayed sign-in.
  await showFlow(replay, await flowKey(replay, 'Mobile sign-in'))
  const drawn = (): Promise<number> => replay.evaluate<number>('document.querySelectorAll("#flow-diagram g.step").length')
  t.equal(await drawn(), signIn.steps.length, 'all steps drawn before stepping')
  await replay.evaluate('document.getElementById("flow-next").click()')
  await replay.waitFor('document.getElementById("flow-view").dataset.revealed === "1" && document.getElementById("flow-details").dataset.step === "0" && !document.getElementById("flow-details").hidden', 'step 1')
  t.equal(await drawn(), 1, 'Step ▶ from the start: the first exchange only')
  t.match(await replay.evaluate<string>('document.getElementById("flow-details-title").textContent'), /^Step 1, lyncdiscover: GET lyncdiscover\.contoso\.com/, 'with its details open')
  await replay.evaluate('document.getElementById("flow-next").click()')
  await replay.waitFor('document.getElementById("flow-view").dataset.revealed === "2" && document.getElementById("flow-details").dataset.step === "1"', 'step 2')
  t.equal(await drawn(), 2)
  t.match(await replay.evaluate<string>('document.getElementById("flow-position").textContent'), `step 2 of ${signIn.steps.length}`)
  await replay.evaluate('document.getElementById("flow-prev").click()')
  await replay.waitFor('document.getElementById("flow-view").dataset.revealed === "1" && document.getElementById("flow-details").dataset.step === "0"', 'back to step 1')
  t.equal(await drawn(), 1, 'Step ◀ goes back')
  t.ok(await replay.evaluate<boolean>('document.getElementById("flow-prev").disabled'), 'and cannot go before the first')
  await replay.evaluate('document.getElementById("flow-all").click()')
  await replay.waitFor(`document.querySelectorAll("#flow-diagram g.step").length === ${signIn.steps.length}`, 'all steps again')
  await replay.evaluate('document.getElementById("flow-live").click()')
  await replay.waitFor('document.getElementById("flow-view").dataset.source === "live"', 'back to live')
  t.same(replay.errors(), [], 'the replay page ran without an error')

  // Pause holds what arrives, counted; Resume draws it.
  const rows = (): Promise<number> => page.evaluate<number>('document.querySelectorAll("#feed tbody tr[data-id]").length')
  const rowsBefore = await rows()
  await page.evaluate('document.getElementById("flow-pause").click()')
  await page.waitFor('document.getElementById("flow-view").dataset.paused === "true"', 'paused')
  const held: Sent[] = []
  await unpublished(lab, 'extranet.contoso.com', held)
  await page.waitFor('document.getElementById("flow-waiting").dataset.waiting === "1"', 'one exchange waiting', 20_000)
  t.match(await page.evaluate<string>('document.getElementById("flow-waiting").textContent'), /^1 new exchange waits$/)
  t.same(await flowNames(page), names, 'paused: no new flow drawn')
  t.equal(await rows(), rowsBefore, 'nor a new row in the table')
  await page.evaluate('document.getElementById("flow-pause").click()')
  await page.waitFor(`document.querySelectorAll('#flow-list .flow-item').length === ${names.length + 1}`, 'the held exchange drawn on Resume')
  t.same((await flowNames(page))[0], 'Refused: unpublished name', 'a flow of its own: another name nobody publishes')
  t.equal(await rows(), rowsBefore + 1)
  t.equal(await page.evaluate<string>('document.getElementById("flow-waiting").dataset.waiting'), '0', 'nothing waits any more')

  // A step more of a listed flow changes its button's text, not the button: one replaced under the
  // pointer would lose the click.
  await page.evaluate('window.refusedButton = document.querySelector("#flow-list .flow-item")')
  await unpublished(lab, 'extranet.contoso.com', held)
  await page.waitFor('/ 2 steps /.test(document.querySelector("#flow-list .flow-item .flow-meta").textContent)', 'the second refusal a step of the same flow')
  t.ok(await page.evaluate<boolean>('window.refusedButton.isConnected && window.refusedButton === document.querySelector("#flow-list .flow-item")'), 'the same button, updated in place')
  t.same(await flowNames(page), ['Refused: unpublished name', ...names])
  t.same(page.errors(), [], 'the live page ran without an error')
})
