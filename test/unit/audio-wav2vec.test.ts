import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wav2VecExtractor } from '../../engines/audio/Wav2VecExtractor.ts';
import { GraphBuilder } from '../../engines/onnx/graphBuilder.ts';
import type { FeatureFrame } from '../../engines/types.ts';
import { buildTinyWav2Vec, tinyWav2VecReference } from '../../tools/make-audio-test-graphs.ts';

const TINY = buildTinyWav2Vec({ dim: 32, seed: 4 });
const T = { timeout: 20000 };

function speechLike(n: number, seed = 3): Float32Array {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) - 0.5;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 0.3 * Math.sin(i * 0.05) * (0.5 + 0.5 * Math.sin(i / 900)) + 0.05 * rnd();
  return a;
}

/** Expected frame f: the normalised window of its hop through the plain-TS graph. */
function expected(ex: Wav2VecExtractor, audio: Float32Array, f: number): Float32Array {
  const H = ex.hopFrames, L = ex.leftFrames, N = ex.windowSamples;
  const s0 = 320 * (Math.floor(f / H) * H - L) - 40;
  const win = new Float32Array(N);
  for (let i = 0; i < N; i++) win[i] = s0 + i < 0 ? 0 : audio[s0 + i]!;
  let m = 0;
  for (const v of win) m += v;
  m /= N;
  let v2 = 0;
  for (const v of win) v2 += (v - m) ** 2;
  const inv = 1 / Math.sqrt(v2 / N + 1e-7);
  for (let i = 0; i < N; i++) win[i] = (win[i]! - m) * inv;
  const ref = tinyWav2VecReference(TINY.weights, win);
  assert.equal(ref.frames, L + H + ex.rightFrames);
  const at = (L + (f % H)) * 32;
  return ref.values.slice(at, at + 32);
}

function close(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('Wav2VecExtractor reproduces the tiny graph computed in plain TS, 50 Hz frames centred in their slots', T, async () => {
  const ex = await Wav2VecExtractor.create(TINY.bytes, { label: 'tiny-wav2vec', leftContextMs: 400 });
  try {
    assert.equal(ex.featureRate, 50);
    assert.equal(ex.dim, 32);
    assert.ok(ex.lookaheadMs <= 80, `lookahead ${ex.lookaheadMs}`);
    const audio = speechLike(16000);
    const frames = await ex.pushAsync(audio);
    assert.equal(frames.length, 46); // windows end at 320 (2w + 4) + 40 <= 16000
    frames.forEach((f, i) => assert.equal(f.timeMs, 20 * i + 10));
    for (const f of [0, 1, 7, 20, 45]) close(frames[f]!.values, expected(ex, audio, f), `frame ${f}`);
  } finally {
    await ex.dispose();
  }
});

test('sliding windows emit each frame exactly once, in order, within the declared lookahead, whatever the chunking', T, async () => {
  const opts = { leftContextMs: 200, hopMs: 40, rightContextMs: 40 };
  const ex = await Wav2VecExtractor.create(TINY.bytes, opts);
  const overlapped = await Wav2VecExtractor.create(TINY.bytes, opts);
  const whole = await Wav2VecExtractor.create(TINY.bytes, opts);
  try {
    const audio = speechLike(24000, 9);
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
    const chunks: Float32Array[] = [];
    for (let at = 0; at < audio.length; ) {
      const n = 1 + Math.floor(rnd() * 700);
      chunks.push(audio.subarray(at, at + n));
      at += n;
    }
    const got: FeatureFrame[] = [];
    let received = 0;
    for (const chunk of chunks) {
      const before = received;
      received += chunk.length;
      for (const f of await ex.pushAsync(chunk)) {
        const idx = (f.timeMs - 10) / 20;
        assert.equal(idx, got.length);
        got.push(f);
        const windowEnd = 320 * (Math.floor(idx / 2) * 2 + 4) + 40;
        assert.ok(received >= windowEnd && before < windowEnd, `frame ${idx} at ${received}, window ends ${windowEnd}`);
        assert.ok(windowEnd <= (f.timeMs + ex.lookaheadMs) * 16 + 1e-6, `frame ${idx} needs more than the declared lookahead`);
      }
    }
    let windows = 0;
    while (320 * (2 * windows + 4) + 40 <= audio.length) windows++;
    assert.equal(got.length, 2 * windows);
    // Overlapping calls (not awaited one by one): every frame once, results in call order.
    const batches = await Promise.all(chunks.map((c) => overlapped.pushAsync(c)));
    const flat = batches.flat();
    assert.deepEqual(flat.map((f) => f.timeMs), got.map((f) => f.timeMs));
    const all = await whole.pushAsync(audio);
    assert.equal(all.length, got.length);
    all.forEach((f, i) => close(got[i]!.values, f.values, `frame ${i}`));
  } finally {
    await Promise.all([ex.dispose(), overlapped.dispose(), whole.dispose()]);
  }
});

test('NaN and Inf count as silence and samples beyond full scale are clipped', T, async () => {
  const a = await Wav2VecExtractor.create(TINY.bytes, { leftContextMs: 200 });
  const b = await Wav2VecExtractor.create(TINY.bytes, { leftContextMs: 200 });
  try {
    const clean = speechLike(8000);
    const dirty = Float32Array.from(clean);
    for (let i = 0; i < dirty.length; i += 7) {
      dirty[i] = i % 2 ? Number.NaN : Number.POSITIVE_INFINITY;
      clean[i] = 0;
    }
    for (let i = 3; i < dirty.length; i += 11) {
      dirty[i] = 4;
      clean[i] = 1;
    }
    const fa = await a.pushAsync(dirty);
    const fb = await b.pushAsync(clean);
    assert.ok(fa.length > 10);
    fa.forEach((f, i) => {
      assert.ok(f.values.every(Number.isFinite));
      close(f.values, fb[i]!.values, `frame ${i}`);
    });
    const s = a.toJSON();
    assert.ok(s.nonFiniteSamples > 1000 && s.clippedSamples > 500, JSON.stringify(s));
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('reset() drops a push still running and restarts time at 0', T, async () => {
  const ex = await Wav2VecExtractor.create(TINY.bytes, { leftContextMs: 200 });
  try {
    const stale = ex.pushAsync(speechLike(8000));
    ex.reset();
    const fresh = ex.pushAsync(speechLike(4000));
    assert.deepEqual(await stale, []);
    const fs = await fresh;
    assert.ok(fs.length > 0);
    assert.equal(fs[0]!.timeMs, 10);
  } finally {
    await ex.dispose();
  }
  await assert.rejects(ex.pushAsync(new Float32Array(10)), /disposed/);
});

test('a graph with the wrong signature is refused with the file, the expected and the found shapes', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'w2v-'));
  try {
    const g = new GraphBuilder('bad', 1);
    const x = g.input('audio', 'float32', [1, 'samples']);
    g.output('last_hidden_state', 'float32', [1, 'samples'], g.op('Relu', [x]));
    const path = join(dir, 'bad-wav2vec.onnx');
    writeFileSync(path, g.toBytes());
    await assert.rejects(Wav2VecExtractor.create(path), (err: Error) => {
      assert.match(err.message, /bad-wav2vec\.onnx/);
      assert.match(err.message, /missing input 'input_values' float32 \[batch, samples\] \(found inputs: audio\)/);
      assert.match(err.message, /output 'last_hidden_state' shape: expected rank 3 \[batch, frames, dim\], found rank 2 \[1, samples\]/);
      return true;
    });
    // Right names, wrong frame arithmetic (stride 160): caught by the warm-up run.
    const h = new GraphBuilder('stride160', 1);
    const y = h.unsqueeze(h.input('input_values', 'float32', ['batch', 'samples']), [1]);
    const c = h.conv(y, 1, 4, [400], { strides: [160], pads: [0, 0] });
    h.output('last_hidden_state', 'float32', ['batch', 'frames', 4], h.transpose(c, [0, 2, 1]));
    const p2 = join(dir, 'stride160.onnx');
    writeFileSync(p2, h.toBytes());
    await assert.rejects(Wav2VecExtractor.create(p2, { leftContextMs: 200 }), /stride160\.onnx.*expected last_hidden_state \[1, 14, 4\].*found \[1, 2\d, 4\]/);
    await assert.rejects(Wav2VecExtractor.create(TINY.bytes, { hopMs: 60, rightContextMs: 40 }), /lookahead/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
