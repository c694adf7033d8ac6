import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler, resampleAll } from '../../server/media/Resampler.ts';

const IN_RATE = 48000;
const OUT_RATE = 16000;
/** Output samples skipped before measuring (filter start-up), 16 kHz. */
const SETTLE = 200;

function sine(freqHz: number, rate: number, samples: number, amplitude = 0.5): Float32Array {
  const x = new Float32Array(samples);
  for (let i = 0; i < samples; i++) x[i] = amplitude * Math.sin((2 * Math.PI * freqHz * i) / rate);
  return x;
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

async function streamed(input: Float32Array, chunkSizes: number[]): Promise<Float32Array> {
  const r = await Resampler.create({ inputRate: IN_RATE, outputRate: OUT_RATE });
  const parts: Float32Array[] = [];
  let at = 0;
  for (let k = 0; at < input.length; k++) {
    const n = chunkSizes[k % chunkSizes.length]!;
    parts.push(r.push(input.subarray(at, at + n)).slice());
    at += n;
  }
  r.close();
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let w = 0;
  for (const p of parts) {
    out.set(p, w);
    w += p.length;
  }
  return out;
}

test('a 1 kHz sine passes 48 -> 16 kHz within 0.5 dB', async () => {
  const out = await streamed(sine(1000, IN_RATE, IN_RATE), [960]);
  const gainDb = 20 * Math.log10(rms(out.subarray(SETTLE, out.length - SETTLE)) / (0.5 / Math.SQRT2));
  assert.ok(Math.abs(gainDb) < 0.5, `gain ${gainDb.toFixed(3)} dB`);
});

test('a 10 kHz sine (above the 8 kHz output Nyquist) is attenuated by at least 40 dB', async () => {
  const out = await streamed(sine(10000, IN_RATE, IN_RATE), [960]);
  const gainDb = 20 * Math.log10(rms(out.subarray(SETTLE, out.length - SETTLE)) / (0.5 / Math.SQRT2));
  assert.ok(gainDb <= -40, `gain ${gainDb.toFixed(1)} dB`);
});

test('20 ms chunks produce 320 samples each once started, and about one third of the input in total', async () => {
  const r = await Resampler.create({ inputRate: IN_RATE, outputRate: OUT_RATE });
  const x = sine(440, IN_RATE, 960);
  const lengths: number[] = [];
  for (let k = 0; k < 50; k++) lengths.push(r.push(x).length);
  r.close();
  assert.deepEqual(lengths.slice(5), new Array(45).fill(320));
  const total = lengths.reduce((a, b) => a + b, 0);
  assert.ok(total > 16000 - 64 && total <= 16000, `total ${total}`);
});

test('chunked streaming equals one-shot output within 1e-4 after the start', async () => {
  const input = sine(700, IN_RATE, IN_RATE);
  for (let i = 0; i < input.length; i++) input[i]! += 0.2 * Math.sin(i * 0.37) * Math.cos(i * 0.011);
  const oneShot = await streamed(input, [input.length]);
  const chunked = await streamed(input, [960, 317, 1500, 1, 4000]);
  const n = Math.min(oneShot.length, chunked.length) - SETTLE;
  assert.ok(n > 15000, `compared ${n} samples`);
  let maxDiff = 0;
  for (let i = SETTLE; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(oneShot[i]! - chunked[i]!));
  assert.ok(maxDiff < 1e-4, `max diff ${maxDiff}`);
});

test('reset() starts a new stream: the same input then gives the same output as a fresh resampler', async () => {
  const x = sine(1000, IN_RATE, 960);
  const fresh = await Resampler.create({ inputRate: IN_RATE, outputRate: OUT_RATE });
  const expected = fresh.push(x).slice();
  fresh.close();
  const r = await Resampler.create({ inputRate: IN_RATE, outputRate: OUT_RATE });
  r.push(sine(3000, IN_RATE, 2000));
  r.reset();
  assert.deepEqual(Array.from(r.push(x)), Array.from(expected));
  r.close();
  assert.throws(() => r.push(x), /closed/);
});

test('resampleAll brings 22.05 kHz audio to 48 kHz with the exact expected length and preserved tone', async () => {
  const x = sine(500, 22050, 22050);
  const y = await resampleAll(x, 22050, 48000);
  assert.equal(y.length, 48000);
  const gainDb = 20 * Math.log10(rms(y.subarray(500, 47000)) / (0.5 / Math.SQRT2));
  assert.ok(Math.abs(gainDb) < 0.2, `gain ${gainDb.toFixed(3)} dB`);
});

test('create rejects a bad rate with a TypeError naming the field', async () => {
  await assert.rejects(Resampler.create({ inputRate: 0, outputRate: 16000 }), /inputRate/);
});
