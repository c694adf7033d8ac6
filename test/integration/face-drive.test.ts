/**
 * Face samples on the "face" data channel drive the avatar (werift client <-> server): the mouth follows the sent jaw,
 * each frame echoes the timestamp of the sample it shows, motion edits apply, and bad or flooding messages are refused
 * and counted while the session keeps streaming.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient, type ServerMessage } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { pearson } from '../../eval/scoring.ts';
import { measuredFps } from '../helpers/frameRate.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A face sample with the jaw at `open` (inner-lip gap / mouth width) and the head turned `yaw` degrees. */
function sample(open: number, yaw: number, t: number): Record<string, unknown> {
  const bs = new Array<number>(52).fill(0);
  return { type: 'face', pose: [yaw, 0, 0], open, bs, t };
}

describe('a live face drives the avatar over the "face" data channel', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let client: AvatarClient;
  const messages: ServerMessage[] = [];

  before(async () => {
    server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' } }));
    // Silence: whatever moves the mouth comes from the face.
    client = new AvatarClient({ baseUrl: server.url, audio: new Float32Array(48000 * 2), loop: true, faceChannel: true, onMessage: (m) => messages.push(m) });
    await client.connect();
    await client.waitForConnected();
    await client.waitForFrames(25, 10_000);
  });
  after(async () => {
    await client?.close();
    await server?.close();
  });

  test('the mouth follows the sent jaw and each frame echoes the sample it shows (faceT)', async () => {
    const session = server.sessions.get(client.id!);
    const shown: { at: number; mouthOpen: number }[] = [];
    session.on('frame', (f) => shown.push({ at: performance.now(), mouthOpen: f.mouthOpen }));
    const sent: { at: number; open: number }[] = [];
    const t0 = performance.now();
    for (let k = 0; k < 100; k++) {
      // 0.8 Hz open-close, as speech-rate jaw motion.
      const open = 0.22 * (0.5 - 0.5 * Math.cos((2 * Math.PI * k) / 30));
      assert.ok(client.sendFace(sample(open, 10 * Math.sin(k / 10), Date.now())));
      sent.push({ at: performance.now(), open });
      await sleep(Math.max(0, t0 + (k + 1) * 40 - performance.now()));
    }
    await sleep(300);
    // Pair each frame with the newest sample sent before it went out.
    const pairs = shown
      .filter((f) => f.at > sent[5]!.at && f.at < sent.at(-1)!.at)
      .map((f) => ({ shown: f.mouthOpen, sent: [...sent].reverse().find((s) => s.at <= f.at)!.open }));
    const r = pearson(pairs.map((p) => p.sent), pairs.map((p) => p.shown));
    assert.ok(pairs.length > 60, `${pairs.length} frames while the face drove (${JSON.stringify(session.stats())})`);
    assert.ok(r > 0.8, `mouth opening follows the sent jaw: r ${r.toFixed(3)}`);
    const echoed = messages.filter((m) => m.type === 'frame' && typeof (m as { faceT?: unknown }).faceT === 'number');
    assert.ok(echoed.length > 60, `${echoed.length} frame messages carried faceT`);
    assert.equal(session.stats().faceMessages, 100);
  });

  test('without samples the motion glides back to the voice (a closed mouth here: silence)', async () => {
    client.sendFace(sample(0.3, 0, Date.now()));
    await sleep(100);
    client.sendFace({ type: 'face', lost: true });
    await sleep(800);
    const session = server.sessions.get(client.id!);
    const shown: number[] = [];
    const onFrame = (f: { mouthOpen: number }) => shown.push(f.mouthOpen);
    session.on('frame', onFrame);
    await sleep(500);
    session.off('frame', onFrame);
    assert.ok(shown.length > 5 && Math.max(...shown) < 0.1, `mouth at rest after the face was lost: ${shown.map((v) => v.toFixed(2)).join(' ')}`);
  });

  test('motion edits: a jaw edit opens the mouth on top of silence, and a pose template is accepted', async () => {
    const session = server.sessions.get(client.id!);
    assert.ok(client.send({ type: 'edit', jaw: 0.6, rampMs: 0 }));
    assert.ok(client.send({ type: 'poseTemplate', loop: true, keyframes: [[0, 0, 0, 0], [500, 10, 0, 0], [1000, 0, 0, 0]] }));
    await sleep(400);
    const shown: number[] = [];
    const onFrame = (f: { mouthOpen: number }) => shown.push(f.mouthOpen);
    session.on('frame', onFrame);
    await sleep(500);
    session.off('frame', onFrame);
    assert.ok(Math.min(...shown) > 0.3, `jaw edit shows: ${shown.map((v) => v.toFixed(2)).join(' ')}`);
    assert.ok(client.send({ type: 'edit', jaw: 0, rampMs: 0 }));
    assert.ok(client.send({ type: 'poseTemplate', reset: true }));
    const errors = messages.filter((m) => m.type === 'error');
    assert.deepEqual(errors, [], 'valid edits raise no error');
  });

  test('wrong lengths, non-finite and out-of-range values and a flood are refused and counted; the session streams on', async () => {
    const session = server.sessions.get(client.id!);
    const before = session.stats().faceMessagesRefused;
    const good = sample(0.1, 0, Date.now());
    const bad = [
      { ...good, bs: new Array(51).fill(0) },
      { ...good, pose: [0, 0] },
      '{"type":"face","pose":[0,0,0],"open":NaN,"bs":[]}',
      { ...good, open: null },
      { ...good, pose: [120, 0, 0] },
      { ...good, bs: [...new Array(51).fill(0), 7] },
      { ...good, t: 'now' },
      'not json',
    ];
    for (const b of bad) {
      client.sendFace(b);
      await sleep(30);
    }
    await sleep(300);
    assert.equal(session.stats().faceMessagesRefused - before, bad.length, 'each bad message refused and counted');
    const refusedBeforeFlood = session.stats().faceMessagesRefused;
    const acceptedBeforeFlood = session.stats().faceMessages;
    const floodStart = performance.now();
    for (let i = 0; i < 400; i++) client.sendFace(good);
    await sleep(500);
    const floodS = (performance.now() - floodStart) / 1000;
    // The channel drops what it cannot deliver (no retransmits); of what arrives, the bucket passes 60 plus 60/s.
    const refused = session.stats().faceMessagesRefused - refusedBeforeFlood;
    const accepted = session.stats().faceMessages - acceptedBeforeFlood;
    assert.ok(accepted + refused > 100, `${accepted + refused} of 400 flooded samples arrived`);
    assert.ok(accepted <= 60 + 60 * floodS + 1, `a flood: ${accepted} accepted, ${refused} refused (limit 60/s, burst 60)`);
    assert.ok(refused > 0);
    const errors = messages.filter((m) => m.type === 'error').map((m) => String((m as { message?: unknown }).message));
    assert.ok(errors.some((e) => /face\.bs/.test(e)), `errors name the field: ${errors.join(' | ')}`);
    assert.ok(errors.some((e) => /too many face messages/.test(e)), 'the flood is reported');
    const fps = await measuredFps(() => client.getStats().frames, 2000);
    assert.ok(fps >= 23, `the session streams on at ${fps.toFixed(1)} fps`);
  });
});
