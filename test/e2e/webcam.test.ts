/**
 * A webcam drives the portrait: Chromium's fake camera plays a real driving video (../shared/media/real/driving), the
 * demo page measures it with MediaPipe and sends face samples; the avatar video the page receives is recorded and
 * measured by an independent FaceLandmarker (eval/measure) against the driver. Needs /usr/bin/chromium and ffmpeg.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { AvatarDebug } from '../../client/debugState.ts';
import { FaceMeasurer } from '../../eval/measure/FaceMeasurer.ts';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { buildClientBundles } from '../helpers/clientBundle.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';
import { alignLooped, faceSeriesOf, type FaceSeries } from '../../eval/reenact/faceSeries.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const DRIVER = join(ROOT, '../shared/media/real/driving/LivePortrait__d3.mp4');
const OUT_DIR = join(ROOT, 'test-output');
const RECORD_MS = 14_000;
const SIDE = 360;

describe('webcam drives the portrait (demo page, Chromium fake camera)', { timeout: 300_000, skip: existsSync(DRIVER) ? false : `missing ${DRIVER}` }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  let tmp = '';
  let driver: FaceSeries = [];
  const pageLog: string[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'e2e-webcam-'));
    await mkdir(OUT_DIR, { recursive: true });
    const y4m = join(tmp, 'driver.y4m');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', DRIVER, '-vf', `fps=25,scale=${SIDE}:${SIDE}:force_original_aspect_ratio=increase,crop=${SIDE}:${SIDE}`, '-pix_fmt', 'yuv420p', '-an', y4m]);
    const measurer = await FaceMeasurer.open();
    try {
      driver = faceSeriesOf((await measurer.measureVideo(y4m, 25)).frames);
    } finally {
      await measurer.close();
    }
    await buildClientBundles();
    server = await startServerProcess();
    browser = await launchChromium(SPEECH, y4m);
    page = await newLoggedPage(browser, { width: 700, height: 1000 }, pageLog);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('head yaw and jaw of the avatar follow the driver; camera -> avatar latency p95 <= 150 ms', async () => {
    const p = page!;
    const diagnostics = () => `page log:\n${pageLog.slice(-30).join('\n')}\nserver log:\n${server!.log()}`;
    await p.goto(server!.url, { waitUntil: 'load' });
    await p.check('#camera');
    await p.click('#start');
    await p.waitForFunction("['live', 'error'].includes(window.__avatar.state)", undefined, { timeout: 90_000, polling: 250 }).catch((err: unknown) => {
      throw new Error(`page never went live\n${diagnostics()}`, { cause: err });
    });
    const live = await p.evaluate<AvatarDebug>('window.__avatar');
    assert.equal(live.state, 'live', `page error: ${live.error}\n${diagnostics()}`);
    await p.waitForFunction('window.__avatar.stats.face && window.__avatar.stats.face.found', undefined, { timeout: 30_000, polling: 250 }).catch((err: unknown) => {
      throw new Error(`the page never found the face\n${diagnostics()}`, { cause: err });
    });

    // Record what the page receives, as a viewer sees it.
    const b64 = await p.evaluate<string>(`(async () => {
      const stream = new MediaStream(document.querySelector('#avatar').srcObject.getVideoTracks());
      const recorder = new MediaRecorder(stream, { mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 4000000 });
      const chunks = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      const done = new Promise((r) => (recorder.onstop = r));
      recorder.start(1000);
      await new Promise((r) => setTimeout(r, ${RECORD_MS}));
      recorder.stop();
      await done;
      const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      return btoa(s);
    })()`);
    const stats = (await p.evaluate<AvatarDebug>('window.__avatar')).stats;
    const sessionId = (await p.evaluate<AvatarDebug>('window.__avatar')).sessionId;
    const session = (await (await fetch(`${server!.url}/v1/sessions/${sessionId}`)).json()) as { faceMessages: number; faceMessagesRefused: number };
    await p.click('#stop');

    const webm = join(tmp, 'avatar.webm');
    await writeFile(webm, Buffer.from(b64, 'base64'));
    await writeFile(join(OUT_DIR, 'e2e-webcam-avatar.webm'), Buffer.from(b64, 'base64'));
    const measurer = await FaceMeasurer.open();
    let avatar: FaceSeries;
    try {
      avatar = faceSeriesOf((await measurer.measureVideo(webm, 25)).frames);
    } finally {
      await measurer.close();
    }
    const found = avatar.filter((f) => f !== null).length;
    const fit = alignLooped(driver, avatar);
    console.log(
      `webcam e2e: ${session.faceMessages} face samples (${session.faceMessagesRefused} refused), page tracker ${JSON.stringify(stats.face)}; ` +
        `avatar frames ${avatar.length}, face in ${found}; jaw r ${fit.jawR.toFixed(3)}, yaw r ${fit.yawR.toFixed(3)}, yaw RMS ${fit.yawRmsDeg.toFixed(2)} deg ` +
        `(driver yaw std ${fit.driverYawStd.toFixed(1)}), lag ${fit.lag} frames`,
    );
    assert.ok(session.faceMessages > 100, `${session.faceMessages} face samples reached the server`);
    assert.equal(session.faceMessagesRefused, 0);
    assert.ok(found >= avatar.length * 0.95, `face found in ${found} of ${avatar.length} avatar frames`);
    assert.ok(fit.jawR >= 0.8, `jaw correlation ${fit.jawR.toFixed(3)} < 0.8`);
    assert.ok(fit.yawRmsDeg <= 3, `yaw RMS ${fit.yawRmsDeg.toFixed(2)} deg > 3`);
    const latency = stats.face?.latencyMs;
    assert.ok(latency, 'camera -> avatar latency measured');
    assert.ok(latency.p95 <= 150, `camera -> avatar latency p95 ${latency.p95.toFixed(0)} ms > 150 (p50 ${latency.p50.toFixed(0)})`);
  });
});
