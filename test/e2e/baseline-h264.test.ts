/**
 * Chromium offering only Constrained Baseline H.264 (what Firefox with OpenH264, Safari and many SDKs offer) gets
 * H.264, not VP8, and decodes it at full rate. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const PAGE_PATH = '/__test__/baseline.html';
const MEASURE_MS = 3_000;
/** One decoder and the server share 2 cores here; the server sends 25 fps. */
const MIN_FPS = 22;

/** Page side, plain JavaScript (this tsconfig has no DOM lib): a caller whose video offer is CBP H.264 only. */
const CALL = `(async () => {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  const pc = new RTCPeerConnection();
  pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [mic] });
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  const cbp = RTCRtpReceiver.getCapabilities('video').codecs.filter(
    (c) => c.mimeType === 'video/H264' && /profile-level-id=42e01f/.test(c.sdpFmtpLine || '') && /packetization-mode=1/.test(c.sdpFmtpLine || ''),
  );
  if (cbp.length === 0) throw new Error('this Chromium has no Constrained Baseline H.264 decoder');
  transceiver.setCodecPreferences(cbp);
  const video = document.createElement('video');
  Object.assign(video, { muted: true, autoplay: true, playsInline: true });
  document.body.append(video);
  pc.addEventListener('track', (e) => { if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]); });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') done();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
    setTimeout(done, 3000);
  });
  const res = await fetch('/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error('session refused: ' + res.status + ' ' + (await res.text()));
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  window.call = { pc, video, location: res.headers.get('location') };
  return { offer: pc.localDescription.sdp, answer: pc.remoteDescription.sdp };
})()`;

const PROGRESS = `(async () => {
  const { pc, video } = window.call;
  let codec = null;
  let decoder = null;
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      decoder = s.decoderImplementation || null;
      const c = stats.get(s.codecId);
      if (c) codec = { mimeType: c.mimeType, fmtp: c.sdpFmtpLine || '' };
    }
  });
  return { frames: video.getVideoPlaybackQuality().totalVideoFrames, width: video.videoWidth, height: video.videoHeight, codec, decoder };
})()`;

interface Progress {
  frames: number;
  width: number;
  height: number;
  codec: { mimeType: string; fmtp: string } | null;
  decoder: string | null;
}

describe('Chromium with a Constrained-Baseline-only offer', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageLog: string[] = [];

  before(async () => {
    server = await startServerProcess();
    browser = await launchChromium(SPEECH);
    page = await newLoggedPage(browser, { width: 600, height: 600 }, pageLog);
    await page.route(`${server.url}${PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>baseline</title><body></body>' }));
    await page.goto(`${server.url}${PAGE_PATH}`, { waitUntil: 'load' });
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
  });

  test('gets H.264 (42e01f), decodes it at 25 fps, 512x512', async () => {
    const p = page!;
    const diagnostics = () => `page log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`;
    const { offer, answer } = await p.evaluate<{ offer: string; answer: string }>(CALL);
    assert.doesNotMatch(offer, /VP8|VP9|AV1/, 'the offer has H.264 only');
    assert.doesNotMatch(offer, /profile-level-id=(64|4d)/, 'and only baseline profiles');
    assert.match(answer, /a=rtpmap:\d+ H264\/90000/);
    assert.match(answer, /profile-level-id=42e01f/);
    await p.waitForFunction('window.call.video.getVideoPlaybackQuality().totalVideoFrames > 0', undefined, { timeout: 30_000, polling: 250 }).catch((err: unknown) => {
      throw new Error(`no frame decoded\n${diagnostics()}`, { cause: err });
    });
    const first = await p.evaluate<Progress>(PROGRESS);
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const last = await p.evaluate<Progress>(PROGRESS);
    const fps = (last.frames - first.frames) / ((Date.now() - startedAt) / 1000);
    console.log(`baseline-only Chromium: ${fps.toFixed(1)} fps, ${last.width}x${last.height}, ${JSON.stringify(last.codec)}, decoder ${last.decoder}`);
    assert.equal(last.codec?.mimeType, 'video/H264');
    assert.match(last.codec?.fmtp ?? '', /profile-level-id=42e01f/);
    assert.deepEqual([last.width, last.height], [512, 512]);
    assert.ok(fps >= MIN_FPS, `decoded ${fps.toFixed(1)} fps (< ${MIN_FPS})\n${diagnostics()}`);
    await p.evaluate(`(async () => { window.call.pc.close(); await fetch(window.call.location, { method: 'DELETE' }); })()`);
  });
});
