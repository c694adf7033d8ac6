/**
 * End to end in a real Firefox (Debian firefox-esr, driven over WebDriver BiDi by puppeteer-core): its offer hides
 * the host addresses behind mDNS names and ends with a=end-of-candidates, and Debian's build offers no H.264 (its
 * OpenH264 plugin is downloaded at run time), so this is the Firefox path end to end: ICE through the browser's
 * checks, VP8. Needs /usr/bin/firefox-esr (apt-get install -y firefox-esr).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { AvatarDebug, ViewerStats } from '../../client/debugState.ts';
import { VoiceAgentClient } from '../../loadtest/VoiceAgentClient.ts';
import { readWav } from '../../server/media/wav.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const FPS = 25;


/** Debian's Firefox with a fake microphone, no permission prompts, and ICE on loopback. */
function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.peerconnection.ice.loopback': true,
      'media.autoplay.default': 0,
    },
  });
}

// Page-side code is passed as strings: this tsconfig has no DOM lib.
const avatar = (page: Page): Promise<AvatarDebug> => page.evaluate('window.__avatar') as Promise<AvatarDebug>;

describe('demo page in Firefox', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  const pageLog: string[] = [];

  before(async () => {
    assert.ok(existsSync(FIREFOX), `Firefox not found at ${FIREFOX} (apt-get install -y firefox-esr)`);
    server = await startServerProcess();
    browser = await launchFirefox();
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

describe('viewer page in Firefox (a VP8 session: Debian Firefox has no H.264)', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let agent: VoiceAgentClient | null = null;
  let dir: string | null = null;

  before(async () => {
    assert.ok(existsSync(FIREFOX), `Firefox not found at ${FIREFOX} (apt-get install -y firefox-esr)`);
    dir = await mkdtemp(join(tmpdir(), 'e2e-ff-viewer-'));
    const config = join(dir, 'vp8.yaml');
    await writeFile(config, 'video:\n  codec: vp8\n');
    server = await startServerProcess(config);
    browser = await launchFirefox();
  });

  after(async () => {
    await agent?.close({ endSession: true }).catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('Firefox plays a voice-agent session on /view/{id}: video and voice decode', async () => {
    agent = await VoiceAgentClient.connect({ baseUrl: server!.url, sampleRate: 16000 });
    assert.equal(agent.session.codec, 'vp8');
    const page = await browser!.newPage();
    await page.goto(`${server!.url}${agent.session.view}`, { waitUntil: 'load' });
    const speech = await readWav(new URL('../../assets/speech/jfk.wav', import.meta.url).pathname);
    void agent.sendPcm(speech.samples, { speed: 2 });
    try {
      await page.waitForFunction("window.__viewer?.state === 'playing'", { timeout: 60_000, polling: 250 });
    } catch (error) {
      throw new Error(`viewer never played: ${JSON.stringify(await page.evaluate('window.__viewer'))}\nserver log:\n${server!.log()}`, { cause: error });
    }
    const stats = (): Promise<ViewerStats> => page.evaluate('window.__viewer.stats()') as Promise<ViewerStats>;
    const first = await stats();
    await new Promise((r) => setTimeout(r, 4_000));
    const last = await stats();
    const fps = ((last.video?.framesDecoded ?? 0) - (first.video?.framesDecoded ?? 0)) / 4;
    console.log(`firefox viewer: ${last.video?.codec} ${fps.toFixed(1)} fps, audio ${last.audio?.codec} ${(last.audio?.totalSamplesReceived ?? 0) - (first.audio?.totalSamplesReceived ?? 0)} samples in 4 s`);
    assert.equal(last.video?.codec, 'VP8');
    assert.ok(fps >= 20, `decoded ${fps.toFixed(1)} fps`);
    assert.ok((last.audio?.totalSamplesReceived ?? 0) - (first.audio?.totalSamplesReceived ?? 0) > 0.8 * 48_000 * 4, 'the voice plays');
  });
});
