import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalLandmarks } from '../helpers/canonicalFace.ts';
import { pushInRandomChunks } from '../helpers/motionStreaming.ts';
import { decodeWav } from '../../server/media/wav.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMotionStage, validateMotionModels } from '../../engines/motion/createMotionStage.ts';
import { EmbeddedMotionStage } from '../../engines/motion/MotionStage.ts';
import { OnnxAudio2Mesh } from '../../engines/motion/OnnxAudio2Mesh.ts';
import { OnnxAudio2Pose } from '../../engines/motion/OnnxAudio2Pose.ts';
import { GraphBuilder } from '../../engines/onnx/graphBuilder.ts';
import { buildTinyAudio2Mesh, buildTinyAudio2Pose, tinyAudio2MeshReference, tinyAudio2PoseReference, writeTinyAudioGraphs } from '../../tools/make-audio-test-graphs.ts';

const T = { timeout: 30000 };
const FPS = 25;

function randomFeatures(frames: number, dim: number, seed = 5): Float32Array {
  let s = seed;
  return Float32Array.from({ length: frames * dim }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1);
}

function close(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** The frontal canonical face at 20 px/cm in a 512x512 frame. */
const reference = (): Float32Array => canonicalLandmarks();

/** Mono samples of a WAV file, through the project's reader. */
const readWav16 = (url: URL): Float32Array => decodeWav(readFileSync(url)).samples;
const jfk = readWav16(new URL('../../assets/speech/jfk.wav', import.meta.url));

test('OnnxAudio2Mesh reproduces two linear layers computed in plain TS', T, async () => {
  const g = buildTinyAudio2Mesh({ dim: 24, hidden: 12 });
  const m = await OnnxAudio2Mesh.create(g.bytes, { label: 'tiny-mesh' });
  try {
    assert.equal(m.featureDim, 24);
    const x = randomFeatures(7, 24);
    close(await m.run(x, 7), tinyAudio2MeshReference(g.weights, x, 7), 'offsets');
  } finally {
    await m.dispose();
  }
});

test('OnnxAudio2Pose streamed in pieces over its causal window equals the whole-sequence output', T, async () => {
  const g = buildTinyAudio2Pose({ dim: 16, kernel: 5 });
  const p = await OnnxAudio2Pose.create(g.bytes, { contextFrames: 4 });
  try {
    const frames = 40;
    const x = randomFeatures(frames, 16, 9);
    const want = tinyAudio2PoseReference(g.weights, x, frames);
    const got = new Float32Array(frames * 6);
    for (let at = 0, n = 1; at < frames; at += n, n = (n % 5) + 1) {
      const m = Math.min(n, frames - at);
      got.set(await p.run(x.subarray(at * 16, (at + m) * 16), m), at * 6);
    }
    close(got, want, 'pose');
  } finally {
    await p.dispose();
  }
});

test('the rule-based mouth is the embedded stage; a wav2vec + ONNX stage emits each frame once, exactly at its lookahead', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'motion-onnx-'));
  const paths = writeTinyAudioGraphs(dir, { dim: 32 });
  const base = { fps: FPS, width: 512, height: 512, referenceLandmarks: reference(), seed: 3 };
  const embedded = await createMotionStage({ ...base, engine: { audio2mesh: 'embedded' } });
  assert.ok(embedded instanceof EmbeddedMotionStage);
  await embedded.dispose();
  const stage = await createMotionStage({
    ...base,
    engine: { features: 'wav2vec', audio2mesh: 'onnx', audio2pose: 'onnx', wav2vecPath: paths.wav2vec, audio2meshPath: paths.audio2mesh, audio2posePath: paths.audio2pose, wav2vecLeftContextMs: 400 },
  });
  try {
    assert.ok(stage.lookaheadMs > 0 && stage.lookaheadMs <= 80, `lookahead ${stage.lookaheadMs}`);
    const { frames, received } = await pushInRandomChunks(jfk.subarray(0, 48000), stage, FPS);
    for (const f of frames) {
      assert.ok(f.landmarks.every(Number.isFinite));
      assert.ok(f.mouthOpen >= 0 && f.mouthOpen <= 1 && f.blink >= 0 && f.blink <= 1);
    }
    const yaw = frames.map((f) => f.pose.yawDeg);
    assert.ok(Math.max(...yaw) - Math.min(...yaw) > 0.01, 'the ONNX pose moves the head');
    const lip = frames.map((f) => f.landmarks[29]!);
    assert.ok(Math.max(...lip) - Math.min(...lip) > 0.05, 'the ONNX mesh moves the lower lip');
    const now = stage.clear();
    assert.ok(now.length > 0 && now.every((f) => f.landmarks.every(Number.isFinite)), 'the frames whose audio had arrived are shown at once');
    assert.equal(now[0]!.index, frames.at(-1)!.index + 1);
    const after = await stage.push(new Float32Array(8000));
    // Frame k keeps showing media time [k/fps, (k+1)/fps): indices continue after the interrupt's frames.
    assert.equal(after[0]!.index, Math.ceil(received / 16 / (1000 / FPS) - 1e-9));
    assert.equal(after[0]!.index, now.at(-1)!.index + 1);
    assert.equal(after[0]!.audioTimeMs, (after[0]!.index * 1000) / FPS);
    stage.setExpressionScale(0);
    stage.setPoseOverride({ yaw: 10, pitch: 0, roll: 0 });
    const more = await stage.push(new Float32Array(3200));
    assert.ok(more.length > 0 && more.every((f) => f.landmarks.every(Number.isFinite)));
    assert.ok(JSON.stringify(stage.toJSON()).includes('meanRunMs'));
  } finally {
    await stage.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(stage.push(new Float32Array(10)), /disposed/);
});

test('log-mel features can drive an ONNX Audio2Mesh of width 80 next to the embedded pose', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'motion-onnx-'));
  try {
    const path = join(dir, 'mesh80.onnx');
    writeFileSync(path, buildTinyAudio2Mesh({ dim: 80 }).bytes);
    const stage = await createMotionStage({ fps: 30, width: 512, height: 512, referenceLandmarks: reference(), engine: { audio2mesh: 'onnx', audio2meshPath: path } });
    try {
      assert.ok(stage.lookaheadMs <= 80);
      const frames = await stage.push(jfk.subarray(0, 32000));
      assert.equal(frames.length, Math.floor((2000 - stage.lookaheadMs) / (1000 / 30)));
      assert.ok(frames.every((f) => f.landmarks.every(Number.isFinite)));
    } finally {
      await stage.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validateMotionModels names the file, the expected and the found shapes', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'motion-onnx-'));
  try {
    const paths = writeTinyAudioGraphs(dir, { dim: 32 });
    const ok = await validateMotionModels({ features: 'wav2vec', audio2mesh: 'onnx', audio2pose: 'onnx', wav2vecPath: paths.wav2vec, audio2meshPath: paths.audio2mesh, audio2posePath: paths.audio2pose });
    assert.equal(ok.featureDim, 32);
    assert.equal(ok.checked.length, 3);
    // A mesh graph for 80-wide features behind 32-wide wav2vec features.
    const mesh80 = join(dir, 'mesh80.onnx');
    writeFileSync(mesh80, buildTinyAudio2Mesh({ dim: 80 }).bytes);
    await assert.rejects(validateMotionModels({ features: 'wav2vec', audio2mesh: 'onnx', wav2vecPath: paths.wav2vec, audio2meshPath: mesh80 }), /mesh80\.onnx.*axis 2: expected 32 .*found 80/);
    // Wrong output width.
    const g = new GraphBuilder('bad_mesh', 1);
    const x = g.input('features', 'float32', ['batch', 'frames', 80]);
    g.output('offsets', 'float32', ['batch', 'frames', 1000], g.linear(x, 80, 1000));
    const bad = join(dir, 'bad-mesh.onnx');
    writeFileSync(bad, g.toBytes());
    await assert.rejects(validateMotionModels({ audio2mesh: 'onnx', audio2meshPath: bad }), (err: Error) => {
      assert.match(err.message, /audio2mesh contract \[file:.*bad-mesh\.onnx\]/);
      assert.match(err.message, /output 'offsets' axis 2: expected 1404, found 1000 \(shape \[batch, frames, 1000\]\)/);
      return true;
    });
    await assert.rejects(validateMotionModels({ audio2pose: 'onnx' }), /audio2posePath is required/);
    await assert.rejects(validateMotionModels({ features: 'wav2vec', wav2vecPath: paths.wav2vec }), /needs audio2mesh or audio2pose 'onnx'/);
    await assert.rejects(validateMotionModels({ audio2mesh: 'onnx', audio2meshPath: join(dir, 'missing.onnx') }), /not found.*missing\.onnx/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
