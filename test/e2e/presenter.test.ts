/**
 * End to end: the presenter page (/presenter) creates a WebSocket voice-agent session, hands out its URLs, previews
 * it through the viewer page in an iframe and deletes it. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { buildClientBundles } from '../helpers/clientBundle.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const OUT_DIR = join(ROOT, 'test-output');

describe('presenter page', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageLog: string[] = [];

  before(async () => {
    await mkdir(OUT_DIR, { recursive: true });
    await buildClientBundles();
    server = await startServerProcess();
    browser = await launchChromium(SPEECH);
    page = await newLoggedPage(browser, { width: 700, height: 1300 }, pageLog);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
  });

  test('creates a WebSocket session, shows its URLs and a playing preview, deletes it', async () => {
    const p = page!;
    const origin = server!.url;
    await p.goto(`${origin}/presenter`, { waitUntil: 'load' });

    await p.check('input[name="source"][value="whip"]');
    assert.equal(await p.inputValue('#whip-url'), `${origin}/v1/whip`);
    await p.check('input[name="source"][value="websocket"]');
    await p.selectOption('#sample-rate', '16000');
    await p.click('#create');
    await p.waitForSelector('#session:not([hidden])', { timeout: 20_000 });

    const id = (await p.textContent('#session-id')) ?? '';
    assert.ok(id.length > 0);
    assert.equal(await p.inputValue('#url-view'), `${origin}/view/${id}`);
    assert.equal(await p.inputValue('#url-whep'), `${origin}/v1/sessions/${id}/whep`);
    assert.equal(await p.inputValue('#url-audio'), `${origin.replace(/^http/, 'ws')}/v1/sessions/${id}/audio`);

    const preview = p.frameLocator('#live-preview');
    // The iframe may still be about:blank when the session box shows: its navigation follows.
    const previewFrame = () => p.frames().find((f) => f.url().endsWith(`/view/${id}`));
    for (let k = 0; k < 100 && !previewFrame(); k++) await new Promise((r) => setTimeout(r, 100));
    const frame = previewFrame();
    assert.ok(frame, `no preview frame for /view/${id} after 10 s: ${p.frames().map((f) => f.url()).join(', ')}`);
    try {
      await frame.waitForFunction("window.__viewer?.state === 'playing'", undefined, { timeout: 60_000, polling: 250 });
    } catch (error) {
      throw new Error(`preview never played\npage log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`, { cause: error });
    }
    assert.equal(await preview.locator('#status').isHidden(), true);
    await p.waitForSelector(`#sessions code:text("${id}")`, { timeout: 10_000 });
    await p.screenshot({ path: join(OUT_DIR, 'e2e-presenter.png'), fullPage: true });

    await p.click('#delete');
    await p.waitForSelector('#session[hidden]', { state: 'attached', timeout: 10_000 });
    assert.equal((await fetch(`${origin}/v1/sessions/${id}`)).status, 404);
    assert.deepEqual(pageLog.filter((line) => line.startsWith('[pageerror]')), []);
  });
});
