import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalLandmarks } from '../helpers/canonicalFace.ts';
import { pushInRandomChunks } from '../helpers/motionStreaming.ts';
import { decodeWav } from '../../server/media/wav.ts';
import { mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';
import { createMotionStage, DEFAULT_AUDIO2MOUTH_PATH } from '../../engines/motion/createMotionStage.ts';
import { FaceRig } from '../../engines/motion/FaceRig.ts';
import { MouthCalibration } from '../../engines/motion/MouthCalibration.ts';
import { OnnxAudio2Mouth } from '../../engines/motion/OnnxAudio2Mouth.ts';
import type { MotionFrame } from '../../engines/types.ts';

const T = { timeout: 60000 };
const FPS = 25;
const jfk = decodeWav(readFileSync(new URL('../../assets/speech/jfk.wav', import.meta.url))).samples;

/** jfk's first 3 s, 2 s of silence, then 2 more seconds of speech. */
function speechWithPause(): { pcm: Float32Array; pause: [number, number] } {
  const a = jfk.subarray(0, 48000);
  const b = jfk.subarray(48000, 80000);
  const pcm = new Float32Array(a.length + 32000 + b.length);
  pcm.set(a);
  pcm.set(b, a.length + 32000);
  return { pcm, pause: [3000, 5000] };
}

const openings = (frames: MotionFrame[]): number[] => frames.map((f) => mouthOpening(f.landmarks));
const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);

test('the learned mouth streams each frame once, exactly at a lookahead of at most 80 ms, whatever the chunking', T, async () => {
  const base = { fps: FPS, width: 512, height: 512, referenceLandmarks: canonicalLandmarks(), seed: 2, engine: { audio2mesh: 'learned' as const } };
  const a = await createMotionStage(base);
  const b = await createMotionStage(base);
  try {
    assert.ok(a.lookaheadMs > 0 && a.lookaheadMs <= 80, `lookahead ${a.lookaheadMs}`);
    const { pcm } = speechWithPause();
    const { frames } = await pushInRandomChunks(pcm, a, FPS);
    const whole = await b.push(pcm);
    assert.equal(whole.length, frames.length);
    for (let k = 0; k < frames.length; k++) {
      for (let i = 0; i < frames[k]!.landmarks.length; i++) assert.ok(Math.abs(frames[k]!.landmarks[i]! - whole[k]!.landmarks[i]!) < 1e-3, `frame ${k} value ${i}`);
    }
    assert.match(JSON.stringify(a.toJSON()), /"mouth":\{"runs"/);
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
  }
});

test('the learned mouth moves with speech, rests in a pause and opens no wider than people speak', T, async () => {
  const stage = await createMotionStage({ fps: FPS, width: 512, height: 512, referenceLandmarks: canonicalLandmarks(), engine: { audio2mesh: 'learned' } });
  try {
    const { pcm, pause } = speechWithPause();
    const frames = await stage.push(pcm);
    const open = openings(frames);
    const at = (ms: number): number => Math.round(ms / (1000 / FPS));
    const speech = open.slice(at(300), at(2900));
    // Real speakers keep the mouth moving through short pauses: the gate closes it from 400 to 800 ms into one.
    const silent = open.slice(at(pause[0] + 900), at(pause[1] - 200));
    const sd = (v: number[]): number => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
    assert.ok(sd(speech) > 0.03, `the mouth moves in speech (sd ${sd(speech).toFixed(3)})`);
    assert.ok(mean(silent) < mean(speech) - 0.04, `rests in the pause (${mean(silent).toFixed(3)} vs ${mean(speech).toFixed(3)})`);
    assert.ok(sd(silent) < 0.02, `still in the pause (sd ${sd(silent).toFixed(3)})`);
    assert.ok(Math.max(...open) < 0.6, `never wider than real speakers (max ${Math.max(...open).toFixed(3)})`);
  } finally {
    await stage.dispose();
  }
});

test('the opening is relative to each portrait: a face twice as large opens to the same ratio', T, async () => {
  const small = canonicalLandmarks();
  const large = Float32Array.from(small, (v) => 256 + (v - 256) * 1.6);
  const run = async (lm: Float32Array): Promise<number[]> => {
    const s = await createMotionStage({ fps: FPS, width: 512, height: 512, referenceLandmarks: lm, engine: { audio2mesh: 'learned' } });
    try {
      return openings(await s.push(jfk.subarray(0, 64000)));
    } finally {
      await s.dispose();
    }
  };
  const [a, b] = await Promise.all([run(small), run(large)]);
  assert.equal(a.length, b.length);
  for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 0.02, `frame ${k}: ${a[k]} vs ${b[k]}`);
});

test('clear shows the learned mouth gliding to rest at once, and new frames start at rest', T, async () => {
  const stage = await createMotionStage({ fps: FPS, width: 512, height: 512, referenceLandmarks: canonicalLandmarks(), engine: { audio2mesh: 'learned' } });
  try {
    const before = await stage.push(jfk.subarray(0, 40000));
    const rest = openings(before.slice(0, 1))[0]!;
    const now = stage.clear();
    assert.ok(now.length >= 2, `${now.length} frames shown at once`);
    assert.equal(now[0]!.index, before.at(-1)!.index + 1);
    assert.ok(openings(now.slice(-1))[0]! < rest + 0.03, 'at rest in the last of them');
    const after = await stage.push(new Float32Array(8000));
    assert.ok(after.length >= 5);
    assert.equal(after[0]!.index, now.at(-1)!.index + 1);
    for (const o of openings(after)) assert.ok(o < rest + 0.03, `at rest after the clear (${o.toFixed(3)} vs ${rest.toFixed(3)})`);
  } finally {
    await stage.dispose();
  }
});

test('MouthCalibration inverts the rig opening curve and keeps rounding and spreading apart', () => {
  const rig = new FaceRig(canonicalLandmarks());
  const cal = new MouthCalibration(rig);
  assert.equal(cal.jawFor(cal.restOpening - 0.01), 0);
  assert.ok(cal.roundLog < 0 && cal.stretchLog > 0);
  const c = new Float32Array(10);
  const l = new Float32Array(936);
  for (const target of [0.05, 0.15, 0.3]) {
    c.fill(0);
    cal.coefficients(target, 0, c);
    rig.landmarks(c, { pitchDeg: 0, yawDeg: 0, rollDeg: 0, tx: 0, ty: 0, tz: 0 }, l);
    assert.ok(Math.abs(mouthOpening(l) - target) < 0.01, `opening ${mouthOpening(l)} for ${target}`);
  }
  cal.coefficients(0.1, -0.1, c);
  assert.ok(c[1]! > 0 && c[2] === 0, 'a narrower mouth rounds');
  cal.coefficients(0.1, 0.1, c);
  assert.ok(c[2]! > 0 && c[1] === 0, 'a wider mouth spreads');
});

test('a learned mouth model without its description, or with one that does not match, is refused with the file named', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audio2mouth-'));
  try {
    const onnx = join(dir, 'm.onnx');
    copyFileSync(DEFAULT_AUDIO2MOUTH_PATH, onnx);
    await assert.rejects(OnnxAudio2Mouth.create(onnx), /description is missing or invalid \[file:.*m\.json\]/);
    const info = JSON.parse(readFileSync(DEFAULT_AUDIO2MOUTH_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, number>;
    writeFileSync(join(dir, 'm.json'), JSON.stringify({ ...info, pastFrames: info['pastFrames']! + 3 }));
    await assert.rejects(OnnxAudio2Mouth.create(onnx), /does not match its description \[file:.*m\.onnx\]: input 'window' frames: expected/);
    writeFileSync(join(dir, 'm.json'), JSON.stringify({ ...info, futureFrames: 'x' }));
    await assert.rejects(OnnxAudio2Mouth.create(onnx), /futureFrames must be an integer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
