/**
 * Clients that offer only Constrained Baseline H.264 (Firefox with OpenH264, Safari's defaults, werift's and many
 * SDKs' defaults) get a real Constrained Baseline stream at full rate, and VP8-only clients get libav's realtime VP8.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import type { VideoCodecChoice } from '../../loadtest/clientPeer.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { h264StreamShape } from '../helpers/h264.ts';
import { decodeFrames, speech48k } from '../helpers/media.ts';

describe('every client gets a stream it decodes at the cost of H.264', { timeout: 120_000 }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' } }));
  });
  after(async () => {
    await server?.close();
  });

  async function receive(codec: VideoCodecChoice, seconds: number) {
    const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: seconds + 1 }), codec, keepFrames: true });
    await client.connect();
    const session = server.sessions.get(client.id!);
    await client.waitForConnected(10_000);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const serverStats = session.stats();
    const answer = client.answerSdp ?? '';
    await client.close();
    const arrivals = client.frames.map((f) => f.arrivalMs);
    const t0 = arrivals[0]! + 1000;
    const fps = (arrivals.filter((t) => t >= t0).length - 1) / ((arrivals.at(-1)! - t0) / 1000);
    return { client, serverStats, answer, fps };
  }

  test('a baseline-only H.264 offer is answered with 42e01f and gets Constrained Baseline (profile_idc 66, constraint_set1, CAVLC) at 25 fps', async () => {
    const { client, answer, fps } = await receive('baseline', 4);
    assert.match(answer, /a=rtpmap:\d+ H264\/90000/);
    assert.match(answer, /profile-level-id=42e01f/);
    assert.doesNotMatch(answer, /VP8/);
    const keyframes = client.frames.filter((f) => f.keyframe);
    assert.ok(keyframes.length >= 1, 'a keyframe arrived');
    for (const key of keyframes) {
      const shape = h264StreamShape(key.data);
      assert.deepEqual([shape.profileIdc, shape.constraintSet1, shape.cabac], [66, true, false], `SPS/PPS ${JSON.stringify(shape)}`);
    }
    const decoded = await decodeFrames(client.frames, 'h264');
    assert.ok(decoded.length >= client.frames.length - 2, `decoded ${decoded.length} of ${client.frames.length} frames`);
    for (const d of decoded) assert.deepEqual([d.width, d.height], [512, 512]);
    assert.ok(fps >= 24, `received ${fps.toFixed(1)} fps`);
  });

  test('a VP8-only offer gets VP8 from libav at 25 fps, decodable throughout', async () => {
    const { client, serverStats, fps } = await receive('vp8', 4);
    assert.equal(client.getStats().videoCodec?.toLowerCase(), 'video/vp8');
    const decoded = await decodeFrames(client.frames, 'vp8');
    assert.ok(decoded.length >= client.frames.length - 2, `decoded ${decoded.length} of ${client.frames.length} frames`);
    assert.ok(fps >= 24, `received ${fps.toFixed(1)} fps`);
    assert.ok(serverStats.framesSent > 75, `${serverStats.framesSent} frames sent`);
  });
});
