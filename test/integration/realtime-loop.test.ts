import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { boxDiff, darkShare, decodeFrames, landmarkBox, speech48k } from '../helpers/media.ts';

const FPS = 25;
/** Outer lip contour ids (MediaPipe): the mouth region of the portrait. */
const LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409];
/** Inner lip contour ids: the opening between the lips. */
const INNER_LIPS = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415];
const SILENCE_AT_S = 3.0;
const SILENCE_S = 1.2;

describe('realtime loop: werift client <-> server over loopback', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let landmarks: number[][];

  before(async () => {
    server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' } }));
    const res = await fetch(`${server.url}/v1/references/default`);
    assert.equal(res.status, 200);
    landmarks = ((await res.json()) as { landmarks: number[][] }).landmarks;
  });
  after(async () => {
    await server?.close();
  });

  async function runSession(codec: 'h264' | 'vp8', audio: Float32Array, seconds: number) {
    const client = new AvatarClient({ baseUrl: server.url, codec: codec === 'h264' ? 'both' : 'vp8', audio, keepFrames: true });
    const events: { index: number; audioTimeMs: number; mouthOpen: number }[] = [];
    await client.connect();
    const session = server.sessions.get(client.id!);
    session.on('frame', (f) => events.push(f));
    await client.waitForConnected(10_000);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const serverStats = session.stats();
    const clientStats = client.getStats();
    await client.close();
    return { client, events, serverStats, clientStats };
  }

  test('H.264: frames of the configured size and rate; the mouth moves with speech and rests in silence; metadata on the data channel', async (t) => {
    const audio = await speech48k({ seconds: 7, silenceAtS: SILENCE_AT_S, silenceS: SILENCE_S });
    let run = await runSession('h264', audio, 7.5);
    // A sender whose timer stalls past 200 ms skips that audio (as a real microphone loses it) and the server's clock
    // runs on without it, so the speech after the stall shows earlier than this test's schedule says: run again.
    if (run.clientStats.audioPacketsSkipped > 0) {
      t.diagnostic(`the test's sender stalled and skipped ${run.clientStats.audioPacketsSkipped} packets; running the session again`);
      run = await runSession('h264', audio, 7.5);
    }
    const { client, events, serverStats, clientStats } = run;
    assert.equal(clientStats.audioPacketsSkipped, 0, 'the test sender kept its schedule (this machine stalled it twice)');
    assert.equal(clientStats.videoCodec?.toLowerCase(), 'video/h264');

    // Frame rate within 10% of config, measured on arrival after the first second.
    const arrivals = client.frames.map((f) => f.arrivalMs);
    const t0 = arrivals[0]! + 1000;
    const t1 = arrivals.at(-1)!;
    const fps = (arrivals.filter((t) => t >= t0).length - 1) / ((t1 - t0) / 1000);
    assert.ok(Math.abs(fps - FPS) <= FPS * 0.1, `received ${fps.toFixed(1)} fps, want ${FPS} +-10%`);

    // Metadata arrived for (almost) every frame, with a measured latency.
    assert.ok(clientStats.frameMessages >= client.frames.length * 0.9, `${clientStats.frameMessages} frame messages for ${client.frames.length} frames`);
    assert.ok(clientStats.latency && clientStats.latency.count > 50 && clientStats.latency.p50 > 0, 'latency reported per frame');

    const decoded = await decodeFrames(client.frames, 'h264');
    assert.ok(decoded.length > 100, `decoded ${decoded.length} frames`);
    for (const d of decoded) assert.deepEqual([d.width, d.height], [512, 512]);

    // Map each decoded frame to the audio it shows; the client's audio starts at firstAudioMediaMs of the media clock.
    const offsetMs = serverStats.firstAudioMediaMs ?? 0;
    const rtp0 = Math.min(...decoded.map((d) => d.rtpTimestamp));
    const audio0 = Math.min(...events.map((e) => e.audioTimeMs));
    const clientTimeMs = (d: { rtpTimestamp: number }) => audio0 + (d.rtpTimestamp - rtp0) / 90 - offsetMs;
    const mouth = landmarkBox(landmarks, LIPS, 6);
    const activity = (fromMs: number, toMs: number) => {
      const diffs: number[] = [];
      for (let i = 1; i < decoded.length; i++) {
        const t = clientTimeMs(decoded[i]!);
        if (t >= fromMs && t < toMs) diffs.push(boxDiff(decoded[i]!, decoded[i - 1]!, mouth));
      }
      assert.ok(diffs.length >= 10, `enough frames in [${fromMs}, ${toMs}) ms: ${diffs.length}`);
      return diffs.reduce((a, b) => a + b, 0) / diffs.length;
    };
    // The open mouth shows a dark cavity: its share of the inner-mouth box tells open from closed, whatever the head's idle sway.
    const inner = landmarkBox(landmarks, INNER_LIPS, 3);
    const cavity = (fromMs: number, toMs: number) => {
      const xs = decoded.filter((d) => clientTimeMs(d) >= fromMs && clientTimeMs(d) < toMs).map((d) => darkShare(d, inner, 70));
      assert.ok(xs.length >= 10, `enough frames in [${fromMs}, ${toMs}) ms: ${xs.length}`);
      return { max: Math.max(...xs), min: Math.min(...xs) };
    };
    const speech = activity(300, SILENCE_AT_S * 1000);
    const silence = activity((SILENCE_AT_S + 0.3) * 1000, (SILENCE_AT_S + SILENCE_S - 0.25) * 1000);
    const speechAgain = activity((SILENCE_AT_S + SILENCE_S) * 1000, 6800);
    const quiet = cavity((SILENCE_AT_S + 0.3) * 1000, (SILENCE_AT_S + SILENCE_S - 0.25) * 1000);
    const talking = cavity(300, SILENCE_AT_S * 1000);
    assert.ok(quiet.max - quiet.min < 0.03, `mouth at rest in silence: dark share ${quiet.min.toFixed(3)}..${quiet.max.toFixed(3)}`);
    assert.ok(talking.max > 2 * quiet.max && talking.max > quiet.max + 0.04, `mouth opens in speech: dark share up to ${talking.max.toFixed(3)} vs ${quiet.max.toFixed(3)} at rest`);
    assert.ok(speech > 3 * silence, `mouth region changes more in speech: ${speech.toFixed(2)} vs silence ${silence.toFixed(2)}`);
    assert.ok(speechAgain > 3 * silence, `and again after the pause: ${speechAgain.toFixed(2)}`);

    // The same from the motion stage's own numbers.
    const open = (from: number, to: number) => {
      const xs = events.filter((e) => e.audioTimeMs - offsetMs >= from && e.audioTimeMs - offsetMs < to);
      const peak = xs.reduce((a, b) => (b.mouthOpen > a.mouthOpen ? b : a));
      return { max: peak.mouthOpen, atMs: peak.audioTimeMs - offsetMs, n: xs.length };
    };
    // The mouth may start opening up to ~200 ms before speech resumes (anticipation, as real speakers do).
    const silent = open((SILENCE_AT_S + 0.3) * 1000, (SILENCE_AT_S + SILENCE_S - 0.25) * 1000);
    assert.ok(silent.max < 0.05, `mouth closed in silence: ${JSON.stringify(silent)} (offset ${offsetMs} ms, stats ${JSON.stringify(serverStats)})`);
    assert.ok(open(300, SILENCE_AT_S * 1000).max > 0.3, 'mouth opens in speech');
  });

  test('VP8 when the offer has no H.264', async () => {
    const audio = await speech48k({ seconds: 4 });
    const { client, clientStats } = await runSession('vp8', audio, 3);
    assert.equal(clientStats.videoCodec?.toLowerCase(), 'video/vp8');
    const decoded = await decodeFrames(client.frames, 'vp8');
    assert.ok(decoded.length >= 40, `decoded ${decoded.length} VP8 frames`);
    for (const d of decoded) assert.deepEqual([d.width, d.height], [512, 512]);
  });
});

test('ending a call leaves no UDP socket open (werift BUNDLE transports are stopped too)', { timeout: 60_000 }, async () => {
  const udpPorts = () =>
    (process as unknown as { _getActiveHandles(): { constructor: { name: string }; address?: () => { port?: number } }[] })
      ._getActiveHandles()
      .filter((h) => h.constructor.name === 'Socket' && typeof h.address === 'function' && h.address()?.port !== undefined).length;
  const before = udpPorts();
  const server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' } }));
  const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 3 }), codec: 'both' });
  await client.connect();
  await client.waitForConnected();
  await client.waitForFrames(5);
  assert.ok(udpPorts() > before, 'ICE sockets were open during the call');
  await client.close();
  await server.close();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(udpPorts(), before);
});

test('a PLI from the peer gets a keyframe at once (read from the DTLS transport: werift may route PLI to the receiver)', { timeout: 60_000 }, async () => {
  const server = await startServer(
    loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' }, video: { keyframeIntervalS: 60 } }),
  );
  const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 10 }), codec: 'both', keepFrames: true });
  try {
    await client.connect();
    await client.waitForConnected();
    await client.waitForFrames(30);
    const keyframes = () => client.frames.filter((f) => f.keyframe).length;
    assert.equal(keyframes(), 1, 'only the first frame is a keyframe with a 60 s interval');
    const before = client.frames.length;
    assert.ok(client.requestKeyframe());
    await client.waitForFrames(before + 10);
    const after = client.frames.slice(before);
    const first = after.findIndex((f) => f.keyframe);
    assert.ok(first >= 0 && first <= 5, `a keyframe within 5 frames of the PLI (got index ${first})`);
    assert.equal(keyframes(), 2);
  } finally {
    await client.close();
    await server.close();
  }
});
