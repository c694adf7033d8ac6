import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { measuredFps } from '../helpers/frameRate.ts';
import { speech48k } from '../helpers/media.ts';
import { makeOffer } from '../helpers/offer.ts';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url);
const FPS = 25;

/** Fetch and return status + parsed JSON error reason. */
async function call(url: string, init: RequestInit): Promise<{ status: number; error: string; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let error = text;
  try {
    error = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    /* not JSON */
  }
  return { status: res.status, error, headers: res.headers };
}

describe('bad input gets a clear 4xx and a healthy session keeps streaming', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let healthy: AvatarClient;
  let validOffer: string;

  before(async () => {
    server = await startServer(
      loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { maxBytes: 2_000_000, cacheDir: '' }, sessions: { max: 3 } }),
    );
    healthy = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 10 }), loop: true, codec: 'both' });
    await healthy.connect();
    await healthy.waitForConnected();
    await healthy.waitForFrames(25, 10_000);
    validOffer = await makeOffer();
  });
  after(async () => {
    await healthy?.close();
    await server?.close();
  });

  const sdpCases: [string, string, string | undefined, number, RegExp][] = [
    ['empty SDP', '', 'application/sdp', 400, /empty SDP/],
    ['not SDP at all', 'hello', 'application/sdp', 400, /v=0/],
    ['wrong content type', 'v=0', 'text/plain', 415, /application\/sdp/],
    ['garbage lines', 'v=0\r\nthis is not sdp\r\n', 'application/sdp', 400, /bad line/],
    ['SDP over the size limit', `v=0\r\n${'a=x\r\n'.repeat(20000)}`, 'application/sdp', 413, /larger than/],
  ];
  for (const [name, body, type, status, reason] of sdpCases) {
    test(`POST /v1/sessions with ${name} -> ${status}`, async () => {
      const r = await call(`${server.url}/v1/sessions`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
      assert.equal(r.status, status);
      assert.match(r.error, reason);
      assert.ok(!r.error.includes('\n'), 'one-line reason');
    });
  }

  test('an offer without audio -> 422 naming the problem', async () => {
    const offer = validOffer.replace(/m=audio[\s\S]*?(?=m=video)/, '');
    assert.ok(offer.includes('m=video') && !offer.includes('m=audio'));
    const r = await call(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
    assert.equal(r.status, 422);
    assert.match(r.error, /no audio/);
  });

  test('an unknown reference id -> 404; a path-like id -> 404 without touching disk', async () => {
    for (const id of ['f'.repeat(64), '../../etc/passwd', 'nope']) {
      const r = await call(`${server.url}/v1/sessions?reference=${encodeURIComponent(id)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp' },
        body: validOffer,
      });
      assert.equal(r.status, 404, id);
      assert.match(r.error, /unknown reference/);
    }
  });

  test('image uploads: not an image, truncated, wrong type, too large, no face -> 4xx with reasons', async () => {
    const png = await readFile(PORTRAIT);
    const post = (body: Uint8Array, type = 'image/png') =>
      call(`${server.url}/v1/references`, { method: 'POST', headers: { 'content-type': type }, body });
    let r = await post(new TextEncoder().encode('definitely not a picture'));
    assert.equal(r.status, 422);
    assert.match(r.error, /image/i);
    r = await post(png.subarray(0, 2000));
    assert.equal(r.status, 422, `truncated: ${r.error}`);
    r = await post(png, 'text/plain');
    assert.equal(r.status, 415);
    r = await post(new Uint8Array(0));
    assert.equal(r.status, 422);
    const noise = new Uint8Array(1600 * 1600 * 3).map(() => Math.floor(Math.random() * 256));
    const big = await sharp(noise, { raw: { width: 1600, height: 1600, channels: 3 } }).png().toBuffer();
    assert.ok(big.length > 2_000_000, `noise PNG is ${big.length} bytes`);
    r = await post(big);
    assert.equal(r.status, 413);
    const blank = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080' } }).png().toBuffer();
    r = await post(blank);
    assert.equal(r.status, 422);
    assert.match(r.error, /face/);
  });

  test('unknown session -> 404; bad control body -> 400', async () => {
    const r = await call(`${server.url}/v1/sessions/does-not-exist`, { method: 'DELETE' });
    assert.equal(r.status, 404);
    const c = await call(`${server.url}/v1/sessions/${healthy.id}/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'dance' }),
    });
    assert.equal(c.status, 400);
    assert.match(c.error, /unknown control message type/);
  });

  test('the healthy session kept its frame rate through all of it', async () => {
    const fps = await measuredFps(() => healthy.getStats().frames);
    assert.ok(Math.abs(fps - FPS) <= FPS * 0.1, `healthy session at ${fps.toFixed(1)} fps`);
    assert.equal(healthy.connectionState, 'connected');
  });
});
