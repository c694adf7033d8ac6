import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalLandmarks } from '../helpers/canonicalFace.ts';
import { pushInRandomChunks } from '../helpers/motionStreaming.ts';
import { decodeWav } from '../../server/media/wav.ts';
import { readFileSync } from 'node:fs';
import { Audio2Landmarks, mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';
import type { MotionFrame } from '../../engines/types.ts';

const FPS = 25;
const JFK = new URL('../../assets/speech/jfk.wav', import.meta.url);

/** Mono samples of a WAV file, through the project's reader. */
const readWav16 = (url: URL): Float32Array => decodeWav(readFileSync(url)).samples;

/** The frontal canonical face at 20 px/cm in a 512x512 frame. */
const reference = (): Float32Array => canonicalLandmarks();

function make(seed = 1): Audio2Landmarks {
  return new Audio2Landmarks({ fps: FPS, width: 512, height: 512, referenceLandmarks: reference(), seed });
}

function run(a: Audio2Landmarks, audio: Float32Array, chunk = 320): MotionFrame[] {
  const out: MotionFrame[] = [];
  for (let at = 0; at < audio.length; at += chunk) out.push(...a.push(audio.subarray(at, at + chunk)));
  return out;
}

const jfk = readWav16(JFK);

test('on jfk.wav the mouth is clearly more open during speech than during its pauses', () => {
  const frames = run(make(), jfk);
  const spf = 16000 / FPS;
  const energy = frames.map((f) => {
    let s = 0;
    for (let i = f.index * spf; i < (f.index + 1) * spf && i < jfk.length; i++) s += jfk[i]! ** 2;
    return 10 * Math.log10(s / spf + 1e-12);
  });
  const peak = Math.max(...energy);
  // Pause: this frame and 4 frames (160 ms) either side far below the peak. Speech: near the peak.
  const quiet = (k: number): boolean => energy.slice(Math.max(0, k - 4), k + 5).every((e) => e < peak - 22);
  const pause = frames.filter((_, k) => quiet(k));
  const speech = frames.filter((_, k) => energy[k]! > peak - 12);
  assert.ok(pause.length > 25 && speech.length > 40, `pause ${pause.length} speech ${speech.length}`);
  const mean = (fs: MotionFrame[]): number => fs.reduce((s, f) => s + mouthOpening(f.landmarks), 0) / fs.length;
  const ms = mean(speech);
  const mp = mean(pause);
  assert.ok(ms > 0.08, `speech opening ${ms}`);
  assert.ok(mp < 0.01, `pause opening ${mp}`);
  assert.ok(ms > 8 * mp);
  for (const f of frames) assert.ok(f.mouthOpen >= 0 && f.mouthOpen <= 1 && f.blink >= 0 && f.blink <= 1);
});

test('during 1 s of digital silence the mouth is closed and steady', () => {
  const frames = run(make(), new Float32Array(16000));
  assert.ok(frames.length >= 23);
  for (const f of frames) {
    assert.equal(f.mouthOpen, 0);
    assert.ok(mouthOpening(f.landmarks) < 0.01, `opening ${mouthOpening(f.landmarks)}`);
  }
  const o = frames.map((f) => mouthOpening(f.landmarks));
  assert.ok(Math.max(...o) - Math.min(...o) < 1e-3);
});

test('each frame is emitted once, in order, exactly when its audio plus lookahead has arrived', async () => {
  const a = make();
  assert.ok(a.lookaheadMs > 0 && a.lookaheadMs <= 80, `lookahead ${a.lookaheadMs}`);
  await pushInRandomChunks(jfk.subarray(0, 48000), a, FPS);
});

test('clear() returns the frames whose audio had arrived, the mouth gliding shut in them, and keeps frames on the media clock', () => {
  const a = make();
  const before = run(a, jfk.subarray(0, 16000 * 1.2));
  const last = before[before.length - 1]!;
  assert.ok(last.mouthOpen > 0.3, `mouth should be open before clear (${last.mouthOpen})`);
  const now = a.clear();
  // 1.2 s had arrived: the frames up to 1200 ms are shown at once, without waiting for new audio's lookahead.
  assert.deepEqual(
    now.map((f) => f.index),
    Array.from({ length: 1200 / (1000 / FPS) - last.index - 1 }, (_, i) => last.index + 1 + i),
  );
  assert.ok(now.length >= 2, `${now.length} frames to glide in`);
  assert.ok(now[0]!.mouthOpen > 0 && now[0]!.mouthOpen < last.mouthOpen, 'the mouth glides, it does not jump');
  assert.equal(now.at(-1)!.mouthOpen, 0);
  assert.ok(mouthOpening(now.at(-1)!.landmarks) < 0.01, 'at rest in the last of them');
  assert.deepEqual(now.at(-1)!.pose, last.pose, 'the head holds still meanwhile');
  const after = run(a, new Float32Array(8000));
  // Then frame 30 (1200 ms); the frames whose audio was dropped are not re-timed, so a clear never shifts later
  // frames off their audio (before, each clear added ~80 ms of latency).
  assert.equal(after[0]!.index, 1200 / (1000 / FPS));
  assert.equal(after[0]!.audioTimeMs, 1200);
  for (const f of after) {
    assert.equal(f.mouthOpen, 0, `frame ${f.index}`);
    assert.ok(mouthOpening(f.landmarks) < 0.01);
  }
  const second = run(a, new Float32Array(16000 * 0.5));
  const again = a.clear();
  const third = run(a, new Float32Array(16000 * 0.5));
  assert.equal(again.at(-1)?.index ?? second.at(-1)!.index, third[0]!.index - 1, 'no index is skipped or repeated');
  assert.equal(third[0]!.index, Math.ceil((1200 + 500 + 500) / (1000 / FPS)), `after a second clear too (last before it: ${second.at(-1)!.index})`);
});

test('same seed gives identical output; different seeds blink differently', () => {
  const audio = jfk.subarray(0, 16000 * 8);
  const a = run(make(11), audio);
  const b = run(make(11), audio);
  assert.equal(a.length, b.length);
  a.forEach((f, i) => assert.deepEqual(f, b[i]));
  const blinks = (fs: MotionFrame[]): number[] => fs.filter((f, i) => f.blink > 0.5 && !(fs[i - 1]!.blink > 0.5)).map((f) => f.index);
  const c = run(make(12), audio);
  assert.ok(blinks(a).length >= 1 && blinks(c).length >= 1, 'expected blinks in 8 s');
  assert.notDeepEqual(blinks(a), blinks(c));
  // Blinks are 2-6 s apart (a double blink 0.35 s apart is the exception).
  const bs = blinks(a);
  for (let i = 1; i < bs.length; i++) {
    const dt = (bs[i]! - bs[i - 1]!) / FPS;
    assert.ok((dt > 0.25 && dt < 0.5) || (dt >= 1.9 && dt <= 6.1), `blink gap ${dt}`);
  }
});

test('NaN and Inf audio never reach the landmarks', () => {
  const audio = jfk.slice(0, 16000);
  for (let i = 0; i < audio.length; i += 3) audio[i] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
  const frames = run(make(), audio);
  assert.ok(frames.length > 20);
  for (const f of frames) {
    assert.ok(f.landmarks.every(Number.isFinite));
    assert.ok(Number.isFinite(f.mouthOpen) && Number.isFinite(f.pose.yawDeg));
  }
  const nan = run(make(), new Float32Array(8000).fill(Number.NaN));
  for (const f of nan) assert.ok(f.landmarks.every(Number.isFinite));
});

test('expression scale 0 keeps the mouth closed and a pose override turns the head', () => {
  const a = make();
  a.setExpressionScale(0);
  a.setPoseOverride({ yaw: 20, pitch: 0, roll: 0 });
  const frames = run(a, jfk.subarray(0, 16000 * 1.5));
  for (const f of frames) assert.ok(mouthOpening(f.landmarks) < 0.01);
  const plain = run(make(), jfk.subarray(0, 16000 * 1.5));
  const k = frames.length - 1;
  assert.ok(frames[k]!.pose.yawDeg - plain[k]!.pose.yawDeg > 19.9);
  assert.ok(frames[k]!.landmarks[2 * 4]! - plain[k]!.landmarks[2 * 4]! > 20, 'nose moves to the image right');
  a.setExpressionScale(5); // clamped to 2
  a.setPoseOverride(null);
  assert.ok(run(a, jfk.subarray(16000 * 1.5, 16000 * 2.5)).every((f) => f.mouthOpen <= 1 && Math.abs(f.pose.yawDeg) < 10));
});
