import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  audioLevels,
  audioOnsets,
  audioSilentAt,
  changedShare,
  cropLuma,
  linearSlope,
  mouthBox,
  mouthOnsets,
  mouthOpening,
  mouthRestReference,
  offsetStats,
  pairOnsets,
  restFrom,
  type MouthSample,
} from '../../loadtest/avSync.ts';
import { burstSequence, trimSilence } from '../../loadtest/burstSpeech.ts';
import { ntpToUnixMs, RtpNtpClock, rtpDelta } from '../../loadtest/rtpNtpClock.ts';
import { StreamingVideoDecoder, type DecodedLuma } from '../../loadtest/videoLumaDecoder.ts';
import { LibavVideoEncoder } from '../../server/media/LibavVideoEncoder.ts';

const RATE = 48_000;
const PACKET = 960;

/** 20 ms Int16 packets of `signal` starting at RTP `firstRtp` (wrapping at 2^32). */
function packetize(signal: Float32Array, firstRtp: number): { rtpTimestamp: number; pcm: Int16Array; arrivalMs: number }[] {
  const out = [];
  for (let at = 0; at < signal.length; at += PACKET) {
    const pcm = new Int16Array(PACKET);
    for (let i = 0; i < PACKET && at + i < signal.length; i++) pcm[i] = Math.round(signal[at + i]! * 32767);
    out.push({ rtpTimestamp: (firstRtp + at) >>> 0, pcm, arrivalMs: (at * 1000) / RATE });
  }
  return out;
}

/** Silence with 200 ms noise-like bursts starting at `onsets` (samples), plus faint codec-like noise. */
function burstSignal(length: number, onsets: number[], amplitude = 0.3): Float32Array {
  const x = new Float32Array(length);
  let seed = 7;
  const rnd = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  for (let i = 0; i < length; i++) x[i] = 0.0005 * rnd();
  for (const o of onsets) for (let i = 0; i < 9600 && o + i < length; i++) x[o + i] = amplitude * Math.sin((2 * Math.PI * 220 * i) / RATE) + 0.05 * rnd();
  return x;
}

test('audio onsets: found within 1 ms of each burst start, across an RTP wrap, packets in any order', () => {
  const onsets = [24_000 + 337, 72_000 + 901, 120_000 + 5];
  const firstRtp = 2 ** 32 - 50_000; // wraps during the second burst
  const packets = packetize(burstSignal(160_000, onsets), firstRtp);
  packets.reverse();
  const levels = audioLevels(packets);
  assert.equal(levels.firstRtp, firstRtp);
  const found = audioOnsets(levels);
  assert.equal(found.length, 3);
  for (const [i, rtp] of found.entries()) {
    const errorSamples = rtpDelta((firstRtp + onsets[i]!) >>> 0, rtp);
    assert.ok(Math.abs(errorSamples) < 48, `onset ${i} off by ${errorSamples} samples`);
  }
});

test('audio onsets: a burst without enough silence before it is not a new onset; a gap in the packets stays silent', () => {
  const onsets = [24_000, 24_000 + 9600 + 4800]; // second starts 100 ms after the first ends
  const packets = packetize(burstSignal(96_000, onsets), 1000).filter((_, i) => i !== 70); // one lost packet in the silence
  assert.equal(audioOnsets(audioLevels(packets), { minSilenceMs: 300 }).length, 1);
  assert.equal(audioOnsets(audioLevels(packets), { minSilenceMs: 50 }).length, 2);
  assert.deepEqual(audioOnsets(audioLevels(packetize(new Float32Array(48_000), 0))), [], 'silence has no onsets');
});

test('audioSilentAt: the end of the last loud sample arriving after the clear', () => {
  const loud = new Int16Array(960).fill(8000);
  const tail = new Int16Array(960);
  tail.fill(8000, 0, 480); // loud for the first 10 ms only
  const quiet = new Int16Array(960);
  const packets = [
    { arrivalMs: 0, pcm: loud },
    { arrivalMs: 20, pcm: loud },
    { arrivalMs: 40, pcm: tail },
    { arrivalMs: 60, pcm: quiet },
  ];
  assert.equal(audioSilentAt(packets, 25, 0.05), 50);
  assert.equal(audioSilentAt(packets, 70, 0.05), 70, 'already silent');
});

test('RTP -> NTP: the median of the nearest sender reports, robust to one late report and to the RTP wrap', () => {
  const clock = new RtpNtpClock(90_000);
  assert.equal(clock.toNtpMs(0), null);
  const base = 2 ** 32 - 90_000 * 3; // wraps after 3 s
  for (let k = 0; k < 10; k++) {
    const late = k === 4 ? 35 : 0; // one report stamped 35 ms late by a busy sender
    clock.addReport({ ntpMs: 1_700_000_000_000 + k * 1000 + late, rtpTimestamp: (base + k * 90_000) >>> 0, arrivalMs: 0 });
  }
  const at = (ms: number): number => (base + Math.round(ms * 90)) >>> 0;
  assert.ok(Math.abs(clock.toNtpMs(at(4000))! - (1_700_000_000_000 + 4000)) < 1e-6);
  assert.ok(Math.abs(clock.toNtpMs(at(5500))! - (1_700_000_000_000 + 5500)) < 1e-6);
  assert.ok(Math.abs(clock.toNtpMs(at(-200))! - (1_700_000_000_000 - 200)) < 1e-6, 'before the first report');
  // 2^32 + 0.5 s in NTP fixed point.
  const ntp = ((2_208_988_800n + 1_700_000_000n) << 32n) | 0x8000_0000n;
  assert.equal(ntpToUnixMs(ntp), 1_700_000_000_500);
});

/** A 64x48 luma picture of a face-less grey patch with a dark ellipse `open` (0..1) high at (32, 24). */
function mouthPicture(open: number, shiftX = 0): { luma: Uint8Array; stride: number } {
  const w = 64;
  const luma = new Uint8Array(w * 48);
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < w; x++) {
      const lipLine = Math.abs(y - 24) < 1 && Math.abs(x - 32 - shiftX) < 14;
      const inside = open > 0 && ((x - 32 - shiftX) / 12) ** 2 + ((y - 24) / (8 * open)) ** 2 < 1;
      luma[y * w + x] = inside ? 25 : lipLine ? 110 : 170 + ((x + y) % 7);
    }
  }
  return { luma, stride: w };
}

test('mouth measure: dark cavity share grows with the opening, ignores a head sway of a few pixels', () => {
  const landmarks = Array.from({ length: 468 }, () => [32, 24]);
  for (const [id, x, y] of [[13, 32, 20], [14, 32, 28], [78, 20, 24], [308, 44, 24], [0, 32, 16], [17, 32, 32], [61, 18, 24], [291, 46, 24]] as const) {
    landmarks[id] = [x, y];
  }
  const box = mouthBox(landmarks, 64, 48, 4);
  assert.deepEqual(box, { x0: 14, y0: 12, x1: 50, y1: 36 });
  assert.deepEqual(mouthBox(landmarks, 40, 30, 20), { x0: 0, y0: 0, x1: 40, y1: 30 }, 'clamped to the frame');
  const rest = [0, 1, -1].map((s) => cropLuma(mouthPicture(0, s), box));
  const ref = mouthRestReference(rest);
  assert.ok(ref.darkLevel < 110 && ref.darkLevel > 25, `dark level ${ref.darkLevel}`);
  assert.equal(mouthOpening(cropLuma(mouthPicture(0, 3), box), ref), 0, 'sway is not opening');
  const half = mouthOpening(cropLuma(mouthPicture(0.5), box), ref);
  const full = mouthOpening(cropLuma(mouthPicture(1), box), ref);
  assert.ok(half > 0.05 && full > 1.8 * half, `half ${half}, full ${full}`);
  assert.equal(changedShare(rest[0]!, rest[0]!), 0);
  assert.ok(changedShare(rest[0]!, cropLuma(mouthPicture(1), box)) > 0.2);
  assert.throws(() => mouthBox([[1, 2]], 64, 48), /lip points/);
});

/** 25 fps samples from `t0`: the opening as a function of time. */
function series(t0: number, seconds: number, open: (t: number) => number): MouthSample[] {
  const out: MouthSample[] = [];
  for (let t = t0; t < t0 + seconds * 1000; t += 40) out.push({ t, open: open(t), change: 0 });
  return out;
}

test('mouth onsets: interpolated threshold crossings after a rest, slow creeps counted once', () => {
  // Opens linearly over 80 ms from each start, holds 300 ms, closes; rest 0.002, open 0.3.
  const starts = [1010, 2030, 3050, 4070];
  const shape = (t: number): number => {
    for (const s of starts) {
      if (t >= s && t < s + 80) return 0.002 + ((t - s) / 80) * 0.298;
      if (t >= s + 80 && t < s + 380) return 0.3;
    }
    return 0.002;
  };
  const samples = series(0, 5, shape);
  const found = mouthOnsets(samples, { relativeThreshold: 0.2 });
  assert.equal(found.length, starts.length);
  // The crossing of rest + 20% is 16 ms after each start (linear between frames straddling it).
  for (const [i, t] of found.entries()) assert.ok(Math.abs(t - (starts[i]! + 16)) < 10, `onset ${i}: ${t} vs ${starts[i]! + 16}`);
  // A mouth that creeps (two frames between half-threshold and threshold) is still one onset.
  const creep = series(0, 2, (t) => (t < 1000 ? 0 : t < 1080 ? 0.05 : t < 1400 ? 0.3 : 0));
  assert.equal(mouthOnsets(creep, { relativeThreshold: 0.3 }).length, 1);
  // Re-opening 120 ms after closing is not a new onset.
  const flutter = series(0, 3, (t) => (t >= 1000 && t < 1300) || (t >= 1420 && t < 1700) ? 0.3 : 0);
  assert.equal(mouthOnsets(flutter).length, 1);
});

test('restFrom: the first closed frame that the following frames no longer change', () => {
  const samples: MouthSample[] = [
    { t: 0, open: 0.3, change: 0.2 },
    { t: 40, open: 0.1, change: 0.1 },
    { t: 80, open: 0.0, change: 0.05 }, // closed; the next frame is the same
    { t: 120, open: 0.0, change: 0.001 },
    { t: 160, open: 0.0, change: 0.0 },
  ];
  assert.equal(restFrom(samples, 0, { maxOpen: 0.01 }), 80);
  assert.equal(restFrom(samples, 130, { maxOpen: 0.01 }), 160);
  const stillMoving = samples.map((s) => (s.t === 120 ? { ...s, change: 0.05 } : s)); // closed, but the lips still move
  assert.equal(restFrom(stillMoving, 0, { maxOpen: 0.01 }), 120);
  assert.equal(restFrom([...samples, { t: 200, open: 0.2, change: 0.1 }], 0, { maxOpen: 0.01 }), null);
  // A frame three intervals after the last one carries three intervals of head motion: still, per interval.
  const gap: MouthSample[] = [
    { t: 0, open: 0.3, change: 0.2 },
    { t: 40, open: 0.0, change: 0.1 },
    { t: 160, open: 0.0, change: 0.012 },
    { t: 200, open: 0.0, change: 0.001 },
  ];
  assert.equal(restFrom(gap, 0, { maxOpen: 0.01 }), 40);
  assert.equal(restFrom(gap.map((s) => (s.t === 160 ? { ...s, change: 0.05 } : s)), 0, { maxOpen: 0.01 }), 160);
});

test('pairing and statistics: each sound with the next mouth onset in the window; drift as a slope', () => {
  const audio = [1000, 2000, 3000, 4000];
  const mouth = [940, 2030, 3300 /* too late */, 3990, 5000];
  const { pairs, unmatchedAudio } = pairOnsets(audio, mouth, { earliestMs: -100, latestMs: 200 });
  assert.deepEqual(pairs.map((p) => p.offsetMs), [-60, 30, -10]);
  assert.equal(unmatchedAudio, 1);
  const stats = offsetStats(pairs.map((p) => p.offsetMs))!;
  assert.equal(stats.count, 3);
  assert.ok(Math.abs(stats.mean - -40 / 3) < 1e-9);
  assert.ok(stats.p95Abs > 30 && stats.p95Abs <= 60);
  assert.equal(offsetStats([]), null);
  assert.equal(linearSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
  assert.equal(linearSlope([{ x: 1, y: 1 }]), null);
});

test('end to end on synthetic streams: audio and mouth on separate RTP clocks, a 30 ms lag recovered through the sender reports', () => {
  const ntp0 = 1_700_000_000_000;
  const audioBase = 123_456;
  const videoBase = 4_000_000_000;
  const audioClock = new RtpNtpClock(48_000);
  const videoClock = new RtpNtpClock(90_000);
  for (let k = 0; k < 8; k++) {
    audioClock.addReport({ ntpMs: ntp0 + k * 1000, rtpTimestamp: (audioBase + k * 48_000) >>> 0, arrivalMs: 0 });
    videoClock.addReport({ ntpMs: ntp0 + k * 1000 + 3, rtpTimestamp: (videoBase + k * 90_000 + 270) >>> 0, arrivalMs: 0 }); // stamped 3 ms after its RTP time
  }
  const onsetsMs = [700, 1900, 3100, 4300, 5500];
  const audio = packetize(burstSignal(7 * 48_000, onsetsMs.map((ms) => ms * 48)), audioBase);
  const audioNtp = audioOnsets(audioLevels(audio)).map((rtp) => audioClock.toNtpMs(rtp)!);
  const mouth: MouthSample[] = [];
  for (let k = 0; k < 7 * 25; k++) {
    const ms = k * 40;
    const open = onsetsMs.some((o) => ms >= o + 30 && ms < o + 330) ? 0.3 : 0.001;
    mouth.push({ t: videoClock.toNtpMs((videoBase + ms * 90) >>> 0)!, open, change: 0 });
  }
  const { pairs } = pairOnsets(audioNtp, mouthOnsets(mouth));
  const stats = offsetStats(pairs.map((p) => p.offsetMs))!;
  assert.equal(stats.count, onsetsMs.length);
  // The mouth opens on the first frame at or after onset + 30 ms: within one frame (40 ms) after it, minus the 20% crossing interpolation.
  assert.ok(stats.min >= 30 - 32 - 1 && stats.max <= 30 + 40, JSON.stringify(stats));
});

test('burst sequence: bursts at the stated onsets, silence between; trimSilence cuts quiet ends', () => {
  const burst = new Float32Array(480).fill(0.5);
  const track = burstSequence(burst, { sampleRate: 48_000, count: 3, gapMs: 100, leadMs: 50, tailMs: 20 });
  assert.deepEqual(track.onsetsMs, [50, 160, 270]);
  assert.equal(track.pcm.length, 2400 + 3 * 480 + 2 * 4800 + 960);
  assert.equal(track.pcm[2399], 0);
  assert.equal(track.pcm[2400], 0.5);
  assert.deepEqual(Array.from(trimSilence(Float32Array.from([0, 0.001, 0.2, -0.3, 0.002, 0]), 0.01)), [Float32Array.from([0.2])[0], Float32Array.from([-0.3])[0]]);
});

test('streaming decoder: every output carries the RTP timestamp of its own input despite the decoder holding frames back', { timeout: 30_000 }, async () => {
  for (const codec of ['h264', 'vp8'] as const) {
    const W = 64;
    const H = 48;
    const encoder = new LibavVideoEncoder({ codec, width: W, height: H, fps: 25, bitrateKbps: 800, keyframeIntervalFrames: 100 });
    const decoded: DecodedLuma[] = [];
    const decoder = new StreamingVideoDecoder(codec, (p) => decoded.push(p));
    const rtpOf = (k: number): number => (4_294_960_000 + k * 3600) >>> 0; // wraps
    for (let k = 0; k < 12; k++) {
      const rgba = new Uint8Array(W * H * 4);
      const grey = 20 + k * 18; // each frame's brightness tells which input it was
      for (let i = 0; i < W * H; i++) rgba.set([grey, grey, grey, 255], i * 4);
      const out = await encoder.encode(rgba, k * 40_000);
      if (k === 0) assert.ok(out.keyframe);
      // A delta frame before the first keyframe would be skipped; here the first is the keyframe.
      assert.ok(decoder.decode({ data: Buffer.from(out.data), mimeType: codec === 'vp8' ? 'video/VP8' : 'video/H264', keyframe: out.keyframe, rtpTimestamp: rtpOf(k), arrivalMs: k }));
    }
    await decoder.flush();
    decoder.close();
    encoder.close();
    assert.equal(decoder.error, null);
    assert.equal(decoded.length, 12, codec);
    for (const p of decoded) {
      const k = Math.round(p.arrivalMs);
      assert.equal(p.rtpTimestamp, rtpOf(k));
      const mean = p.luma.reduce((s, v) => s + v, 0) / p.luma.length;
      assert.ok(Math.abs(mean - (16 + ((20 + k * 18) * 219) / 255)) < 12, `${codec} frame ${k}: luma ${mean.toFixed(1)}`);
    }
  }
});

test('viewer cost: the CPU added per viewer, scaled to the larger count, against the session render + encode', async () => {
  const { viewerCost } = await import('../../loadtest/avSyncSoak.ts');
  const run = (viewers: number, cpu: number | null, native: number) => ({
    viewers,
    serverCpuMeanPct: cpu,
    sendCpuPct: 0.1 + 0.09 * (viewers - 1),
    renderEncodeMs: 8,
    fanout: { native, werift: 0 },
    windows: [{ fps: 25 }] as never,
  });
  const c = viewerCost([run(1, 27, 1), run(10, 28.8, 10)]);
  assert.ok(c);
  assert.equal(c.perViewerPct, 0.2);
  assert.equal(c.viewersPct, 2);
  assert.equal(c.renderEncodePct, 20); // 8 ms x 25 fps = 200 ms a second
  assert.equal(c.ofRenderEncodePct, 10);
  assert.equal(c.path, 'native');
  assert.equal(c.sendingPct, 0.9); // 0.09 a viewer, for 10
  assert.equal(c.sendingOfRenderEncodePct, 4.5);
  assert.equal(viewerCost([run(1, 27, 1)]), null, 'one run says nothing');
  assert.equal(viewerCost([run(1, 27, 1), run(10, null, 10)]), null, 'a run without CPU samples says nothing');
});
