/**
 * End to end with third-party browser clients, unchanged: medooze's whip-whep WHIPClient publishes Chromium's fake
 * microphone to /v1/whip; @eyevinn/webrtc-player (WHEP adapter) and whip-whep's WHEPClient watch the session.
 * WHIPClient and WHEPClient post offers without candidates and trickle with PATCH (answered 405), so those two
 * connect through ICE checks alone. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newLoggedPage } from '../helpers/chromium.ts';
import { startServerProcess, stopProcess } from '../helpers/serverProcess.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPEECH = join(ROOT, 'assets/speech/jfk.wav');
const MEASURE_MS = 3_000;
/** Two decoders, an Opus encoder and the server share 2 cores here: a floor well under the 25 fps sent. */
const MIN_FPS = 15;
const HARNESS_PATH = '/__test__/whip-whep-libs.html';
const HARNESS_SCRIPT_PATH = '/__test__/whip-whep-libs.js';

/**
 * The page side, bundled with the libraries by esbuild. Plain JavaScript in a string: this tsconfig has no DOM lib.
 * Each call returns plain data; arguments are written into the evaluated expression (JSON): Playwright evaluates a
 * string as an expression and never calls it with an argument.
 */
const HARNESS_SOURCE = `
import { WHIPClient } from 'whip-whep/whip.js';
import { WHEPClient } from 'whip-whep/whep.js';
import { WebRTCPlayer } from '@eyevinn/webrtc-player';

const held = {};
const errors = [];
window.addEventListener('unhandledrejection', (event) => errors.push(String(event.reason)));

function addVideo(id) {
  const video = document.createElement('video');
  Object.assign(video, { id, autoplay: true, muted: true, playsInline: true, width: 256, height: 256 });
  document.body.append(video);
  return video;
}

window.harness = {
  errors: () => errors.slice(),
  async publish(url) {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    const pc = new RTCPeerConnection();
    for (const track of mic.getAudioTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [mic] });
    const client = new WHIPClient();
    await client.publish(pc, url);
    held.whip = { pc, client, mic };
    return client.resourceURL.toString();
  },
  publisherState: () => held.whip.pc.connectionState,
  async viewWithEyevinn(url) {
    // No STUN server: nothing outside this machine can be reached, and host candidates are enough here.
    const player = new WebRTCPlayer({ video: addVideo('eyevinn'), type: 'whep', iceServers: [] });
    await player.load(new URL(url));
    held.eyevinn = player;
  },
  async viewWithWhepClient(url) {
    const video = addVideo('whep');
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const tracks = [];
    pc.addEventListener('track', (event) => {
      tracks.push(event.track);
      video.srcObject = new MediaStream(tracks);
    });
    const client = new WHEPClient();
    await client.view(pc, url);
    held.whep = { pc, client };
    return client.resourceURL.toString();
  },
  video(id) {
    const video = document.getElementById(id);
    if (!video) return { frames: 0, width: 0, height: 0 };
    return { frames: video.getVideoPlaybackQuality().totalVideoFrames, width: video.videoWidth, height: video.videoHeight };
  },
  stopEyevinn: () => held.eyevinn.unload(),
  stopWhepClient: () => held.whep.client.stop(),
  async stopPublisher() {
    await held.whip.client.stop();
    held.whip.mic.getTracks().forEach((track) => track.stop());
  },
};
`;

interface VideoProgress {
  frames: number;
  width: number;
  height: number;
}

interface SessionJson {
  id: string;
  source?: unknown;
  viewers?: unknown;
  audioPacketsReceived: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `viewers` is a count, or a list of viewers. */
function viewerCount(session: SessionJson): number {
  if (typeof session.viewers === 'number') return session.viewers;
  if (Array.isArray(session.viewers)) return session.viewers.length;
  throw new Error(`session JSON has no viewer count: ${JSON.stringify(session)}`);
}

describe('third-party WHIP/WHEP browser clients', { timeout: 240_000 }, () => {
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageLog: string[] = [];
  /** Trickle requests the libraries made, and the server's answers. */
  const patches: Array<{ url: string; status: number }> = [];
  const diagnostics = (): string => `page log:\n${pageLog.join('\n')}\nserver log:\n${server!.log()}`;

  const getSession = async (id: string): Promise<{ status: number; body: SessionJson | null }> => {
    const res = await fetch(`${server!.url}/v1/sessions/${id}`);
    return { status: res.status, body: res.status === 200 ? ((await res.json()) as SessionJson) : null };
  };
  const sessionCount = async (): Promise<number> => ((await (await fetch(`${server!.url}/v1/sessions`)).json()) as unknown[]).length;

  async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let value = await probe();
    while (!done(value)) {
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms\n${diagnostics()}`);
      await sleep(250);
      value = await probe();
    }
    return value;
  }

  before(async () => {
    const bundle = await build({
      stdin: { contents: HARNESS_SOURCE, resolveDir: ROOT, loader: 'js', sourcefile: 'whip-whep-libs-harness.js' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'warning',
    });
    const script = bundle.outputFiles[0]!.text;
    server = await startServerProcess();
    browser = await launchChromium(SPEECH);
    page = await newLoggedPage(browser, { width: 600, height: 320 }, pageLog);
    page.on('response', (res) => {
      if (res.request().method() === 'PATCH') patches.push({ url: new URL(res.url()).pathname, status: res.status() });
    });
    // Served from the server's own origin (intercepted), so the clients' requests are same-origin like a real page's.
    await page.route(`${server.url}${HARNESS_PATH}`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><meta charset="utf-8"><title>libs</title><body><script src="${HARNESS_SCRIPT_PATH}"></script></body>`,
      }),
    );
    await page.route(`${server.url}${HARNESS_SCRIPT_PATH}`, (route) => route.fulfill({ contentType: 'text/javascript', body: script }));
    await page.goto(`${server.url}${HARNESS_PATH}`, { waitUntil: 'load' });
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (server) await stopProcess(server.child);
  });

  test('WHIPClient publishes the microphone; Eyevinn WebRTCPlayer and WHEPClient play it; each client ends its own resource', async () => {
    const p = page!;
    const sessionsBefore = await sessionCount();

    // ---- publish
    const resource = await p.evaluate<string>(`window.harness.publish(${JSON.stringify(`${server!.url}/v1/whip`)})`);
    const match = /\/v1\/sessions\/([^/]+)$/.exec(new URL(resource).pathname);
    assert.ok(match, `WHIP resource is not a session URL: ${resource}`);
    const id = match[1]!;
    try {
      await p.waitForFunction("window.harness.publisherState() === 'connected'", undefined, { timeout: 30_000, polling: 250 });
    } catch (error) {
      throw new Error(`WHIP publisher never connected: ${await p.evaluate('window.harness.publisherState()')}\n${diagnostics()}`, { cause: error });
    }
    const published = await waitFor('session after WHIP publish', () => getSession(id), (s) => s.status === 200);
    assert.equal(published.body!.source, 'whip');
    assert.equal(await sessionCount(), sessionsBefore + 1);

    // The fake microphone reaches the avatar: Opus packets keep arriving (50 a second).
    const audioBefore = published.body!.audioPacketsReceived;
    const audioAfter = await waitFor(
      'audio packets from the WHIP publisher',
      async () => (await getSession(id)).body!.audioPacketsReceived,
      (n) => n >= audioBefore + 50,
    );
    assert.ok(audioAfter > audioBefore);

    // ---- view with both players
    const whepUrl = `${server!.url}/v1/sessions/${id}/whep`;
    await p.evaluate(`window.harness.viewWithEyevinn(${JSON.stringify(whepUrl)})`);
    const whepResource = await p.evaluate<string>(`window.harness.viewWithWhepClient(${JSON.stringify(whepUrl)})`);
    assert.match(new URL(whepResource).pathname, new RegExp(`^/v1/sessions/${id}/whep/[^/]+$`));

    const video = (which: string): Promise<VideoProgress> => p.evaluate<VideoProgress>(`window.harness.video(${JSON.stringify(which)})`);
    for (const which of ['eyevinn', 'whep']) {
      await waitFor(`first frames in the ${which} player`, () => video(which), (v) => v.frames > 0, 60_000);
    }
    const first = { eyevinn: await video('eyevinn'), whep: await video('whep') };
    const startedAt = Date.now();
    const audioWhileViewing = (await getSession(id)).body!.audioPacketsReceived;
    await sleep(MEASURE_MS);
    const seconds = (Date.now() - startedAt) / 1000;
    for (const which of ['eyevinn', 'whep'] as const) {
      const last = await video(which);
      const fps = (last.frames - first[which].frames) / seconds;
      console.log(`${which} player: ${fps.toFixed(1)} fps, ${last.width}x${last.height}`);
      assert.ok(fps >= MIN_FPS, `${which} player decoded ${fps.toFixed(1)} fps (< ${MIN_FPS})`);
      assert.deepEqual([last.width, last.height], [512, 512]);
    }
    const viewing = (await getSession(id)).body!;
    assert.equal(viewerCount(viewing), 2);
    assert.ok(viewing.audioPacketsReceived > audioWhileViewing, 'the publisher keeps driving the avatar while it is watched');

    // ---- each client's own stop
    await p.evaluate('window.harness.stopEyevinn()');
    await waitFor('viewers after the Eyevinn player unloads', async () => viewerCount((await getSession(id)).body!), (n) => n === 1);
    await p.evaluate('window.harness.stopWhepClient()');
    await waitFor('viewers after WHEPClient.stop()', async () => viewerCount((await getSession(id)).body!), (n) => n === 0);
    await p.evaluate('window.harness.stopPublisher()');
    await waitFor('session after WHIPClient.stop()', async () => (await getSession(id)).status, (status) => status === 404);
    assert.equal(await sessionCount(), sessionsBefore);

    // Both medooze clients trickled to their resources and got 405, which they accept: no unhandled rejection.
    const patched = new Set(patches.map((r) => r.url));
    assert.ok(patched.has(`/v1/sessions/${id}`), `WHIPClient sent no PATCH: ${JSON.stringify(patches)}`);
    assert.ok(patched.has(new URL(whepResource).pathname), `WHEPClient sent no PATCH: ${JSON.stringify(patches)}`);
    assert.deepEqual([...new Set(patches.map((r) => r.status))], [405]);
    assert.deepEqual(await p.evaluate<string[]>('window.harness.errors()'), []);
  });
});
