import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogMelExtractor, type LogMelFrame } from '../../engines/audio/LogMelExtractor.ts';

const RATE = 16000;

function tone(hz: number, seconds: number, amp = 0.5): Float32Array {
  const x = new Float32Array(Math.round(RATE * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amp * Math.sin((2 * Math.PI * hz * i) / RATE);
  return x;
}

/** Deterministic pseudo-random numbers for test signals. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

function chirpWithNoise(seconds: number): Float32Array {
  const rnd = lcg(3);
  const x = new Float32Array(Math.round(RATE * seconds));
  for (let i = 0; i < x.length; i++) {
    const t = i / RATE;
    x[i] = 0.3 * Math.sin(2 * Math.PI * (200 * t + 300 * t * t)) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t)) + 0.05 * (rnd() - 0.5);
  }
  return x;
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

test('log-mel of a 1 kHz tone peaks in the band centred nearest 1 kHz', () => {
  const x = new LogMelExtractor({ normalize: 'none' });
  const frames = x.push(tone(1000, 0.5));
  let nearest = 0;
  for (let m = 0; m < x.dim; m++) if (Math.abs(x.bandCentresHz[m]! - 1000) < Math.abs(x.bandCentresHz[nearest]! - 1000)) nearest = m;
  for (const f of frames.slice(5, 40)) assert.equal(argmax(f.values), nearest);
  // Far bands are much weaker than the peak (natural log power: 10 = 43 dB).
  const f = frames[20]!;
  assert.ok(f.values[nearest]! - f.values[x.dim - 1]! > 10);
  assert.ok(f.values[nearest]! - f.values[0]! > 10);
});

test('energy is the window RMS in dBFS and a tone is periodic while noise is not', () => {
  const x = new LogMelExtractor();
  const f = x.push(tone(220, 0.3, 0.5))[10]!;
  assert.ok(Math.abs(f.energyDb - 20 * Math.log10(0.5 / Math.SQRT2)) < 0.2, `energy ${f.energyDb}`);
  assert.ok(f.voicing > 0.95, `tone voicing ${f.voicing}`);
  assert.ok(Math.abs(f.pitchHz - 220) < 5, `pitch ${f.pitchHz}`);
  const rnd = lcg(9);
  const noise = Float32Array.from({ length: 8000 }, () => rnd() - 0.5);
  const n = new LogMelExtractor().push(noise)[20]!;
  assert.ok(n.voicing < 0.5, `noise voicing ${n.voicing}`);
  assert.ok(n.centroidHz > 3000, `noise centroid ${n.centroidHz}`);
});

test('streaming with random chunk sizes emits the same frames as one push, each once, in order', () => {
  const audio = chirpWithNoise(1.3);
  const whole = new LogMelExtractor().push(audio);
  const rnd = lcg(42);
  for (let trial = 0; trial < 3; trial++) {
    const x = new LogMelExtractor();
    const got: LogMelFrame[] = [];
    for (let at = 0; at < audio.length; ) {
      const n = 1 + Math.floor(rnd() * (trial === 2 ? 3000 : 400));
      got.push(...x.push(audio.subarray(at, at + n)));
      at += n;
    }
    assert.equal(got.length, whole.length);
    got.forEach((f, i) => {
      assert.equal(f.timeMs, i * 10);
      assert.deepEqual(f, whole[i]);
    });
  }
  assert.equal(whole.length, Math.floor((audio.length - 200) / 160) + 1);
});

test('a frame at time t is emitted exactly when t + lookaheadMs of audio has arrived', () => {
  const audio = chirpWithNoise(0.4);
  const x = new LogMelExtractor();
  assert.equal(x.lookaheadMs, 12.5);
  let received = 0;
  let emitted = 0;
  for (let at = 0; at < audio.length; at += 7) {
    const chunk = audio.subarray(at, at + 7);
    const before = received;
    received += chunk.length;
    for (const f of x.push(chunk)) {
      const need: number = ((f.timeMs + x.lookaheadMs) * RATE) / 1000;
      assert.ok(received >= need, `frame ${f.timeMs} emitted with ${received} < ${need} samples`);
      assert.ok(before < need, `frame ${f.timeMs} was already complete before this push`);
      emitted++;
    }
  }
  assert.ok(emitted > 30);
});

test('running normalisation is causal: a prefix gives the same frames as the whole', () => {
  const audio = chirpWithNoise(1);
  const whole = new LogMelExtractor().push(audio);
  const prefix = new LogMelExtractor().push(audio.subarray(0, 6000));
  assert.ok(prefix.length > 30);
  prefix.forEach((f, i) => assert.deepEqual(f.values, whole[i]!.values));
  // Normalised values of speech-like input are centred, not raw log power.
  const mean = whole.slice(50).reduce((s, f) => s + f.values.reduce((a, b) => a + b, 0) / f.values.length, 0) / (whole.length - 50);
  assert.ok(Math.abs(mean) < 1.5, `mean ${mean}`);
});

test('NaN and Inf samples become 0 and never reach the features', () => {
  const audio = chirpWithNoise(0.3);
  for (let i = 0; i < audio.length; i += 13) audio[i] = i % 2 ? Number.NaN : Number.POSITIVE_INFINITY;
  const x = new LogMelExtractor();
  const frames = x.push(audio);
  assert.ok(frames.length > 20);
  for (const f of frames) {
    assert.ok(f.values.every(Number.isFinite));
    for (const v of [f.energyDb, f.voicing, f.pitchHz, f.centroidHz, f.f1Hz, f.f2Hz, f.lowRatioDb]) assert.ok(Number.isFinite(v));
  }
  assert.ok(x.toJSON().nonFiniteSamples > 300);
});

test('reset() forgets history: output equals a fresh extractor', () => {
  const audio = chirpWithNoise(0.5);
  const x = new LogMelExtractor();
  x.push(tone(500, 0.7));
  x.reset();
  assert.deepEqual(x.push(audio), new LogMelExtractor().push(audio));
});

test('silence gives finite low energy and bad options throw TypeError', () => {
  const f = new LogMelExtractor().push(new Float32Array(2000))[3]!;
  assert.equal(f.energyDb, -120);
  assert.equal(f.voicing, 0);
  assert.ok(f.values.every(Number.isFinite));
  assert.throws(() => new LogMelExtractor({ bands: 3 }), TypeError);
  assert.throws(() => new LogMelExtractor({ normTimeConstantS: 0 }), TypeError);
});
