/**
 * End to end in a real Firefox (Debian firefox-esr, driven over WebDriver BiDi by puppeteer-core): its offer hides
 * the host addresses behind mDNS names and ends with a=end-of-candidates, and Debian's build offers no H.264 (its
 * OpenH264 plugin is downloaded at run time), so this is the Firefox path end to end: ICE through the browser's
 * checks, VP8. Needs /usr/bin/firefox-esr (apt-get install -y firefox-esr).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { AvatarDebug } from '../../client/debugState.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const FPS = 25;


// Page-side code is passed as strings: this tsconfig has no DOM lib.
const avatar = (page: Page): Promise<AvatarDebug> => page.evaluate('window.__avatar') as Promise<AvatarDebug>;

describe('demo page in Firefox', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  const pageLog: string[] = [];

  before(async () => {
    assert.ok(existsSync(FIREFOX), `Firefox not found at ${FIREFOX} (apt-get install -y firefox-esr)`);
    server = await startServerProcess();
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      extraPrefsFirefox: {
        'media.navigator.streams.fake': true,
        'media.navigator.permission.disabled': true,
        'media.peerconnection.ice.loopback': true,
      },
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
  });

  test('Firefox connects with its mDNS-only offer and decodes the avatar at 25 fps', async () => {
    const page = await browser!.newPage();
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    await page.goto(server!.url, { waitUntil: 'load' });
    await page.click('#start');
    try {
      await page.waitForFunction("['live', 'error'].includes(window.__avatar.state)", { timeout: 60_000, polling: 200 });
    } catch (error) {
      throw new Error(`page never went live: ${JSON.stringify(await avatar(page))}\nserver log:\n${server!.log()}`, { cause: error });
    }
    const live = await avatar(page);
    assert.equal(live.state, 'live', `page error: ${live.error}\npage log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`);
    // The overlay reads getStats() once a second; let it see a few seconds of decoding.
    await page.waitForFunction('window.__avatar.stats.framesDecoded > 50', { timeout: 20_000, polling: 250 });
    const first = (await avatar(page)).stats.framesDecoded;
    await new Promise((r) => setTimeout(r, 4_000));
    const { stats } = await avatar(page);
    const fps = (stats.framesDecoded - first) / 4;
    console.log(`firefox e2e: ${stats.codec} ${stats.width}x${stats.height}, ${fps.toFixed(1)} fps decoded, server latency ${JSON.stringify(stats.serverLatencyMs)}`);
    assert.equal(stats.codec, 'VP8');
    assert.deepEqual([stats.width, stats.height], [512, 512]);
    assert.ok(Math.abs(fps - FPS) <= FPS * 0.2, `decoded ${fps} fps`);
    assert.ok(stats.serverLatencyMs, 'no server latency: did the fake microphone reach the server?');
    await page.click('#stop');
    await page.waitForFunction("window.__avatar.state === 'idle'", { timeout: 10_000 });
  });
});
