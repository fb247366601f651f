// Debian's headless Chromium driven over the DevTools protocol on --remote-debugging-pipe (JSON
// messages separated by NUL on file descriptors 3 and 4): what the browser tests share.
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import type { Test } from 'tap'

export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p !== undefined && p !== '' && existsSync(p))

interface CdpMessage { id?: number, method?: string, params?: Record<string, unknown>, result?: Record<string, unknown>, error?: { message: string }, sessionId?: string }

// A DevTools protocol client over the pipe Chromium opens with --remote-debugging-pipe.
export class Cdp {
  private nextId = 0
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void, reject: (e: Error) => void }>()
  private buffer = ''
  // Events (messages without an id), for whoever listens: the pages' errors.
  readonly events = new EventEmitter()

  constructor (private readonly toBrowser: Writable, fromBrowser: Readable) {
    fromBrowser.setEncoding('utf8')
    fromBrowser.on('data', (chunk: string) => {
      this.buffer += chunk
      let end
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end)) as CdpMessage
        this.buffer = this.buffer.slice(end + 1)
        if (message.id === undefined) { this.events.emit('event', message); continue }
        const waiter = this.pending.get(message.id)
        this.pending.delete(message.id)
        if (message.error !== undefined) waiter?.reject(new Error(message.error.message))
        else waiter?.resolve(message.result ?? {})
      }
    })
  }

  send (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }) + '\0')
    })
  }
}

export interface Page {
  // What the page reported as going wrong: uncaught exceptions, console.error, and the browser's own
  // error log (a module that failed to load, a refused request).
  errors: () => string[]
  evaluate: <T>(expression: string) => Promise<T>
  waitFor: <T>(expression: string, what: string, timeoutMs?: number) => Promise<T>
  screenshot: () => Promise<Buffer>
  // The window's size in CSS pixels, as a laptop or a projector shows the page.
  setViewport: (width: number, height: number) => Promise<void>
}

export async function openPage (cdp: Cdp, url: string): Promise<Page> {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
  const errors: string[] = []
  cdp.events.on('event', (m: CdpMessage) => {
    if (m.sessionId !== sessionId || m.params === undefined) return
    const p = m.params as { exceptionDetails?: { text: string, exception?: { description?: string } }, type?: string, args?: Array<{ value?: unknown, description?: string }>, entry?: { level: string, text: string, url?: string } }
    if (m.method === 'Runtime.exceptionThrown') errors.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`)
    if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) errors.push(`console.${p.type}: ${(p.args ?? []).map((a) => a.description ?? String(a.value)).join(' ')}`)
    // The browser asks for /favicon.ico on its own; the admin plane has none.
    if (m.method === 'Log.entryAdded' && p.entry?.level === 'error' && !(p.entry.url ?? '').endsWith('/favicon.ico')) errors.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`)
  })
  await cdp.send('Page.enable', {}, sessionId)
  await cdp.send('Runtime.enable', {}, sessionId)
  await cdp.send('Log.enable', {}, sessionId)
  await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1600, height: 1100, deviceScaleFactor: 1, mobile: false }, sessionId)
  await cdp.send('Page.navigate', { url }, sessionId)
  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as { result: { value: T }, exceptionDetails?: { text: string, exception?: { description?: string } } }
    if (r.exceptionDetails !== undefined) throw new Error(`${r.exceptionDetails.text} ${r.exceptionDetails.exception?.description ?? ''}`)
    return r.result.value
  }
  return {
    errors: () => [...errors],
    evaluate,
    async waitFor<T> (expression: string, what: string, timeoutMs = 15_000): Promise<T> {
      const until = Date.now() + timeoutMs
      let last: unknown
      for (;;) {
        try {
          last = await evaluate<T>(expression)
          if (last !== null && last !== undefined && last !== false && last !== '') return last as T
        } catch (err) {
          last = err
        }
        if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
    async screenshot () {
      const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId) as { data: string }
      return Buffer.from(data, 'base64')
    },
    async setViewport (width, height) {
      await cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId)
    },
  }
}

// Chromium on a fresh profile, closed (and the profile removed) when the test ends. `flags` come
// before the first page: host resolver rules, a proxy, certificate handling.
export function startChromium (t: Test, flags: string[] = []): Cdp {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-chromium-'))
  const browser: ChildProcess = spawn(CHROMIUM!, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--remote-debugging-pipe',
    ...flags, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] })
  const cdp = new Cdp(browser.stdio[3] as Writable, browser.stdio[4] as Readable)
  t.teardown(async () => {
    const exited = new Promise((resolve) => { if (browser.exitCode !== null || browser.signalCode !== null) resolve(null); else browser.once('exit', resolve) })
    void cdp.send('Browser.close').catch(() => {})
    const timer = setTimeout(() => browser.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
  })
  return cdp
}
