/**
 * End to end: a WebSocket voice-agent session fed speech from Node, watched on the viewer page (/view/{id}) in
 * Debian Chromium over WHEP. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import type { ViewerDebug, ViewerStats } from '../../client/debugState.ts';
import { VoiceAgentClient } from '../../loadtest/VoiceAgentClient.ts';
import { readWav } from '../../server/media/wav.ts';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { buildClientBundles } from '../helpers/clientBundle.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const SCREENSHOT = join(ROOT, 'docs/pictures/viewer.png');
const MEASURE_MS = 3_000;
/** The server sends 25 fps; the floor leaves room for a loaded 2-core machine. */
const MIN_FPS = 20;

interface CreatedSession {
  id: string;
  audio: string;
  whep: string;
  view: string;
  codec: string;
}

// Page-side code is passed as strings: this tsconfig has no DOM lib.
type ViewerSnapshot = Omit<ViewerDebug, 'stats'>;
const viewerState = (page: Page): Promise<ViewerSnapshot> =>
  page.evaluate<ViewerSnapshot>('(({ stats, ...rest }) => rest)(window.__viewer)');
const viewerStats = (page: Page): Promise<ViewerStats> => page.evaluate<ViewerStats>('window.__viewer.stats()');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Page init script: play() with sound is refused (NotAllowedError) until the user clicks. Pages Playwright opens
 * already count as user-activated, so Chromium's own --autoplay-policy never refuses here.
 */
const REFUSE_AUTOPLAY_WITH_SOUND = `
  let clicked = false;
  addEventListener('pointerdown', (event) => { if (event.isTrusted) clicked = true; }, true);
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !clicked) return Promise.reject(new DOMException('play() with sound needs a user gesture', 'NotAllowedError'));
    return play.call(this);
  };
`;

describe('viewer page', { timeout: 240_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let agent: VoiceAgentClient | null = null;
  const pageLog: string[] = [];

  const diagnostics = (): string => `page log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`;

  async function openViewer(path: string, viewport = { width: 512, height: 512 }): Promise<Page> {
    const page = await newLoggedPage(browser!, viewport, pageLog);
    await page.goto(`${server!.url}${path}`, { waitUntil: 'load' });
    return page;
  }

  async function createSession(): Promise<CreatedSession> {
    const res = await fetch(`${server!.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'websocket', sampleRate: 16000 }),
    });
    const text = await res.text();
    assert.equal(res.status, 201, `session refused: ${text}`);
    const created = JSON.parse(text) as CreatedSession;
    assert.equal(res.headers.get('location'), `/v1/sessions/${created.id}`);
    return created;
  }

  before(async () => {
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await buildClientBundles();
    server = await startServerProcess();
    browser = await launchChromium(SPEECH);
  });

  after(async () => {
    await agent?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
  });

  test('plays the avatar video and the agent voice, full window, nothing else shown', async () => {
    const session = await createSession();
    assert.equal(session.view, `/view/${session.id}`);

    const page = await openViewer(session.view);
    try {
      await page.waitForFunction("window.__viewer?.state === 'playing'", undefined, { timeout: 60_000, polling: 250 });
    } catch (error) {
      throw new Error(`viewer never played: ${JSON.stringify(await viewerState(page))}\n${diagnostics()}`, { cause: error });
    }

    // The speech starts once the viewer plays, so the measured window is speech, not the idle fill.
    const speech = await readWav(SPEECH); // 16 kHz, the rate the session was created with
    agent = await VoiceAgentClient.attach({ baseUrl: server!.url, sampleRate: 16000 }, { ...session, codec: 'h264' });
    await agent.sendPcm(speech.samples, { chunkMs: 100 });
    await sleep(1_000); // past the jitter buffer's start

    const first = await viewerStats(page);
    const startedAt = Date.now();
    await sleep(MEASURE_MS);
    const last = await viewerStats(page);
    const seconds = (Date.now() - startedAt) / 1000;
    assert.ok(first.video && last.video, `no inbound video stats: ${JSON.stringify(last)}`);
    assert.ok(first.audio && last.audio, `no inbound audio stats: ${JSON.stringify(last)}`);

    const fps = (last.video.framesDecoded - first.video.framesDecoded) / seconds;
    assert.ok(fps >= MIN_FPS, `video decoded at ${fps.toFixed(1)} fps (< ${MIN_FPS})`);
    assert.deepEqual([last.video.frameWidth, last.video.frameHeight], [512, 512]);

    const samples = last.audio.totalSamplesReceived - first.audio.totalSamplesReceived;
    const concealed = last.audio.concealedSamples - first.audio.concealedSamples;
    const energy = last.audio.totalAudioEnergy - first.audio.totalAudioEnergy;
    // Opus at 48 kHz: about 48 000 samples a second are played out, few of them invented by loss concealment.
    assert.ok(samples >= 0.8 * 48_000 * seconds, `only ${samples} audio samples in ${seconds.toFixed(1)} s`);
    assert.ok(concealed / samples < 0.1, `${concealed} of ${samples} audio samples were concealment`);
    // Speech, not silence: jfk.wav's speech sits well above -40 dBFS on average (energy per second 1e-4).
    assert.ok(energy / seconds > 1e-4, `audio energy ${energy.toExponential(2)} in ${seconds.toFixed(1)} s: silence?`);
    assert.equal(last.audio.codec, 'opus');

    const state = await viewerState(page);
    assert.equal(state.mutedByAutoplay, false, 'autoplay with sound is allowed in this browser');
    assert.equal(await page.isHidden('#status'), true, 'status text must be hidden while playing');
    assert.equal(await page.isHidden('#sound'), true, 'no sound overlay when sound plays');
    const videoBox = await page.locator('#avatar').boundingBox();
    assert.deepEqual(videoBox, { x: 0, y: 0, width: 512, height: 512 }, 'video fills the window');
    console.log(
      `viewer: ${fps.toFixed(1)} fps, ${last.video.codec}, audio ${Math.round(samples / seconds)} samples/s, ` +
        `concealed ${((100 * concealed) / samples).toFixed(1)} %, jitter buffer video ${last.video.jitterBufferDelayMs?.toFixed(0)} ms / ` +
        `audio ${last.audio.jitterBufferDelayMs?.toFixed(0)} ms, attempts ${state.attempts}`,
    );

    await page.screenshot({ path: SCREENSHOT });
    const { channels } = await sharp(SCREENSHOT).stats();
    const meanLevel = channels.slice(0, 3).reduce((sum, c) => sum + c.mean, 0) / 3;
    assert.ok(meanLevel > 30, `the screenshot is nearly black (mean level ${meanLevel.toFixed(1)})`);

    // Ending the session ends playback; the page goes back to looking for it.
    const deleted = await fetch(`${server!.url}/v1/sessions/${session.id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    await page.waitForFunction("window.__viewer?.state !== 'playing'", undefined, { timeout: 30_000, polling: 250 });
    await page.waitForFunction("window.__viewer?.state === 'waiting'", undefined, { timeout: 30_000, polling: 250 });
    assert.equal(await page.isVisible('#status'), true, 'status text shows while not playing');
    await page.close();
  });

  test('when autoplay with sound is refused it plays muted with a "click for sound" overlay; a click turns sound on', async () => {
    const session = await createSession();
    // A play() that refuses sound until the user has clicked, as a browser with the default autoplay policy does.
    const page = await browser!.newPage({ viewport: { width: 512, height: 512 } });
    page.on('pageerror', (error) => pageLog.push(`[pageerror] ${error.message}`));
    await page.addInitScript(REFUSE_AUTOPLAY_WITH_SOUND);
    try {
      await page.goto(`${server!.url}${session.view}`, { waitUntil: 'load' });
      await page.waitForFunction("window.__viewer?.state === 'playing'", undefined, { timeout: 60_000, polling: 250 });
      assert.equal((await viewerState(page)).mutedByAutoplay, true);
      assert.equal(await page.evaluate<boolean>("document.querySelector('#avatar').muted"), true);
      assert.equal(await page.evaluate<boolean>("document.querySelector('#avatar').paused"), false, 'plays muted meanwhile');
      assert.equal(await page.isVisible('#sound'), true);
      assert.equal(await page.textContent('#sound'), 'click for sound');

      await page.click('#sound');
      assert.equal((await viewerState(page)).mutedByAutoplay, false);
      assert.equal(await page.evaluate<boolean>("document.querySelector('#avatar').muted"), false);
      assert.equal(await page.isHidden('#sound'), true);
      await page.waitForFunction("!document.querySelector('#avatar').paused", undefined, { timeout: 5_000 });
    } finally {
      await page.close();
      await fetch(`${server!.url}/v1/sessions/${session.id}`, { method: 'DELETE' });
    }
  });

  test('a session that does not exist (yet) is polled, with a status line', async () => {
    const page = await openViewer('/view/not-a-session');
    await page.waitForFunction('window.__viewer.attempts >= 2', undefined, { timeout: 20_000, polling: 250 });
    const state = await viewerState(page);
    assert.equal(state.state, 'waiting');
    assert.equal(state.sessionId, 'not-a-session');
    assert.match((await page.textContent('#status')) ?? '', /waiting for session not-a-session/);
    await page.close();
  });
});
