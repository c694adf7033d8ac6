/**
 * End to end: the demo page in Debian Chromium, a fake microphone playing speech, the real server
 * in a child process. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import type { AvatarDebug } from '../../client/debugState.ts';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { buildClientBundles } from '../helpers/clientBundle.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** 16 kHz mono 16-bit PCM: Chromium's fake capture device reads it as is and loops it. */
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const PORTRAIT = join(ROOT, 'assets/portraits/astronaut.png');
const OUT_DIR = join(ROOT, 'test-output');


// Page-side code is passed as strings: this tsconfig has no DOM lib.
const avatar = (page: Page): Promise<AvatarDebug> => page.evaluate<AvatarDebug>('window.__avatar');

/** Frames the page has decoded so far: the video element's count (works without access to the peer). */
const decodedFrames = (page: Page): Promise<number> =>
  page.evaluate<number>("document.querySelector('#avatar').getVideoPlaybackQuality().totalVideoFrames");

describe('demo page', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  let tmp: string | null = null;
  const pageLog: string[] = [];

  before(async () => {
    assert.ok(existsSync(SPEECH), `speech sample missing: ${SPEECH}`);
    await mkdir(OUT_DIR, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'e2e-demo-'));
    await buildClientBundles();
    server = await startServerProcess();
    browser = await launchChromium(SPEECH);
    page = await newLoggedPage(browser, { width: 700, height: 900 }, pageLog);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('Start shows the talking portrait: 512x512 video whose frames keep coming', async () => {
    const p = page!;
    await p.goto(server!.url, { waitUntil: 'load' });
    assert.equal((await avatar(p)).state, 'idle');
    await p.click('#start');
    try {
      await p.waitForFunction("['live', 'error'].includes(window.__avatar.state)", undefined, { timeout: 60_000, polling: 200 });
    } catch (error) {
      throw new Error(`page never went live: ${JSON.stringify(await avatar(p))}\npage log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`, { cause: error });
    }
    const live = await avatar(p);
    assert.equal(live.state, 'live', `page error: ${live.error}\npage log:\n${pageLog.join('\n')}`);

    await p.waitForFunction("!document.querySelector('#avatar').paused", undefined, { timeout: 10_000 });
    const size = await p.evaluate<{ width: number; height: number }>(
      "(() => { const v = document.querySelector('#avatar'); return { width: v.videoWidth, height: v.videoHeight }; })()",
    );
    assert.deepEqual(size, { width: 512, height: 512 });

    const before = await decodedFrames(p);
    await new Promise((r) => setTimeout(r, 2_000));
    const afterFrames = await decodedFrames(p);
    const grown = afterFrames - before;
    // 25 fps would give 50; leave room for a loaded 2-core machine.
    assert.ok(grown >= 10, `only ${grown} frames decoded in 2 s (before ${before}, after ${afterFrames})`);

    // The stats overlay polls getStats() once a second; give it a moment to see the decoder.
    await p.waitForFunction('window.__avatar.stats.framesDecoded > 0', undefined, { timeout: 5_000 });
    const stats = (await avatar(p)).stats;
    // The server measures latency from audio arrival, so a value proves the fake microphone got through.
    assert.ok(stats.serverLatencyMs, 'no server latency reported: did the microphone audio reach the server?');
    // H.264 is the default; Chromium offers it (through its High 4:4:4 Predictive entry, see server/session/sdpOffer.ts).
    assert.equal((stats as { codec?: string | null }).codec, 'H264');
    console.log(`e2e: ${grown} frames in 2 s, getStats fps ${stats.fps.toFixed(1)}, server latency ${JSON.stringify(stats.serverLatencyMs)}`);

    await p.screenshot({ path: join(OUT_DIR, 'e2e-demo.png') });

    await p.click('#stop');
    await p.waitForFunction("window.__avatar.state === 'idle'", undefined, { timeout: 10_000 });
  });

  test('a portrait without a face is refused with the reason; a real one becomes the next reference', async () => {
    const p = page!;
    const gray = join(tmp!, 'gray.png');
    await writeFile(gray, await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer());

    await p.setInputFiles('#portrait', gray);
    await p.waitForFunction("!document.querySelector('#error').hidden", undefined, { timeout: 20_000 });
    const reason = await p.textContent('#error');
    assert.match(reason ?? '', /portrait rejected: .+/);
    assert.equal((await avatar(p)).referenceId, null);

    await p.setInputFiles('#portrait', PORTRAIT);
    await p.waitForFunction('window.__avatar.referenceId !== null', undefined, { timeout: 30_000 });
    assert.equal(await p.isHidden('#error'), true);
  });
});
