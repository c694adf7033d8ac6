import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpusDecoder, OpusEncoder, OPUS_FRAME_SAMPLES, float32ToInt16, int16ToFloat32 } from '../../server/media/OpusCodec.ts';

const RATE = 48000;

function sine440(samples: number, amplitude = 0.5): Float32Array {
  const x = new Float32Array(samples);
  for (let i = 0; i < samples; i++) x[i] = amplitude * Math.sin((2 * Math.PI * 440 * i) / RATE);
  return x;
}

function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (to - from));
}

/** Best normalised correlation of `b` delayed by 0..maxLag against `a`. */
function alignedCorrelation(a: Float32Array, b: Float32Array, maxLag: number): { lag: number; corr: number } {
  let best = { lag: 0, corr: -1 };
  const n = a.length - maxLag;
  for (let lag = 0; lag <= maxLag; lag++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i]!, y = b[i + lag]!;
      ab += x * y; aa += x * x; bb += y * y;
    }
    const corr = ab / Math.sqrt(aa * bb);
    if (corr > best.corr) best = { lag, corr };
  }
  return best;
}

function encodeAll(x: Float32Array): Uint8Array[] {
  return new OpusEncoder({ bitrateBps: 32000 }).push(x);
}

test('a 440 Hz sine survives encode and decode (correlation > 0.9 after aligning the codec delay)', () => {
  const x = sine440(RATE);
  const packets = encodeAll(x);
  assert.equal(packets.length, RATE / OPUS_FRAME_SAMPLES);
  const dec = new OpusDecoder();
  const y = new Float32Array(RATE);
  packets.forEach((p, k) => dec.decodeFloat(p, y.subarray(k * OPUS_FRAME_SAMPLES)));
  const { lag, corr } = alignedCorrelation(x, y, 960);
  assert.ok(corr > 0.9, `corr ${corr} at lag ${lag}`);
  assert.ok(lag < 960, `lag ${lag}`);
  assert.deepEqual(dec.toJSON(), { decoded: 50, concealed: 0, corrupt: 0, silentConcealed: 0, samples: RATE });
});

test('a lost packet is concealed with 20 ms of signal, not silence', () => {
  const x = sine440(RATE / 2);
  const packets = encodeAll(x);
  const dec = new OpusDecoder();
  const parts = packets.map((p, k) => (k === 12 ? dec.conceal() : dec.decode(p)));
  const y = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { y.set(p, at); at += p.length; }
  assert.equal(parts[12]!.length, OPUS_FRAME_SAMPLES);
  assert.equal(y.length, x.length);
  const loud = rms(y, 10 * OPUS_FRAME_SAMPLES, 12 * OPUS_FRAME_SAMPLES);
  // No 5 ms window inside the concealed packet may drop below a third of the level around it.
  for (let w = 12 * OPUS_FRAME_SAMPLES; w < 13 * OPUS_FRAME_SAMPLES; w += 240) {
    const level = rms(y, w, w + 240);
    assert.ok(level > loud / 3, `window at ${w}: ${level.toFixed(0)} vs ${loud.toFixed(0)}`);
  }
  assert.equal(dec.toJSON().concealed, 1);
  assert.equal(dec.toJSON().decoded, 24);
});

test('an empty packet is treated as lost and concealed', () => {
  const packets = encodeAll(sine440(9600));
  const dec = new OpusDecoder();
  for (let k = 0; k < 5; k++) dec.decode(packets[k]!);
  const pcm = dec.decode(new Uint8Array(0));
  assert.equal(pcm.length, OPUS_FRAME_SAMPLES);
  assert.ok(rms(pcm) > 1000, `rms ${rms(pcm)}`);
  assert.equal(dec.toJSON().concealed, 1);
});

test('a corrupt packet is counted and concealed instead of throwing', () => {
  const packets = encodeAll(sine440(9600));
  const dec = new OpusDecoder();
  for (let k = 0; k < 5; k++) dec.decode(packets[k]!);
  // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5).
  const pcm = dec.decode(new Uint8Array([0xfb, 0x00]));
  assert.equal(pcm.length, OPUS_FRAME_SAMPLES);
  assert.deepEqual([dec.toJSON().corrupt, dec.toJSON().concealed], [1, 1]);
});

test('a loss before any packet gives 20 ms of silence and is counted apart', () => {
  const dec = new OpusDecoder();
  const pcm = dec.conceal();
  assert.equal(pcm.length, OPUS_FRAME_SAMPLES);
  assert.equal(rms(pcm), 0);
  assert.deepEqual(dec.toJSON(), { decoded: 0, concealed: 0, corrupt: 0, silentConcealed: 1, samples: 960 });
});

test('the encoder buffers partial frames across push() calls', () => {
  const enc = new OpusEncoder();
  assert.equal(enc.push(new Float32Array(2000)).length, 2);
  assert.deepEqual(enc.toJSON(), { packets: 2, pendingSamples: 80 });
  assert.equal(enc.push(new Int16Array(880)).length, 1);
  assert.deepEqual(enc.toJSON(), { packets: 3, pendingSamples: 0 });
  assert.throws(() => enc.encodeFrame(new Int16Array(100)), /960 samples/);
});

test('PCM conversions clip and scale exactly', () => {
  assert.deepEqual(Array.from(float32ToInt16(new Float32Array([0, 0.5, -1, 1.5, -2]))), [0, 16384, -32768, 32767, -32768]);
  assert.deepEqual(Array.from(int16ToFloat32(new Int16Array([0, 16384, -32768]))), [0, 0.5, -1]);
});
