import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WavFormatError, decodeWav, encodeWav16, readWav, writeWav16 } from '../../server/media/wav.ts';

const SPEECH = new URL('../../../shared/media/speech', import.meta.url).pathname;

/** Builds a WAV with the given fmt fields around raw little-endian sample bytes. */
function makeWav(formatCode: number, channels: number, rate: number, bits: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(44 + data.length);
  const v = new DataView(out.buffer);
  const tag = (at: number, s: string) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  tag(0, 'RIFF'); v.setUint32(4, 36 + data.length, true); tag(8, 'WAVE');
  tag(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, formatCode, true); v.setUint16(22, channels, true);
  v.setUint32(24, rate, true); v.setUint32(28, (rate * channels * bits) / 8, true); v.setUint16(32, (channels * bits) / 8, true); v.setUint16(34, bits, true);
  tag(36, 'data'); v.setUint32(40, data.length, true);
  out.set(data, 44);
  return out;
}

test('jfk.wav reads as 16 kHz mono, 11 s, 16-bit', async () => {
  const wav = await readWav(join(SPEECH, 'jfk.wav'));
  assert.equal(wav.sampleRate, 16000);
  assert.equal(wav.channels, 1);
  assert.equal(wav.bitsPerSample, 16);
  assert.equal(wav.samples.length, 176000);
  let peak = 0;
  for (const s of wav.samples) peak = Math.max(peak, Math.abs(s));
  assert.equal(peak, 0.78271484375);
});

test('LJ001-0001.wav reads as 22.05 kHz mono with 212893 samples', async () => {
  const wav = await readWav(join(SPEECH, 'LJ001-0001.wav'));
  assert.equal(wav.sampleRate, 22050);
  assert.equal(wav.samples.length, 212893);
  assert.equal(wav.format, 'int');
});

test('8, 24 and 32-bit int and 32-bit float samples scale to [-1, 1]', () => {
  const u8 = decodeWav(makeWav(1, 1, 8000, 8, new Uint8Array([128, 255, 0])));
  assert.deepEqual(Array.from(u8.samples), [0, 127 / 128, -1]);
  const s24 = decodeWav(makeWav(1, 1, 8000, 24, new Uint8Array([0, 0, 0x40, 0, 0, 0x80, 0xff, 0xff, 0xff])));
  assert.deepEqual(Array.from(s24.samples), [0.5, -1, -1 / 8388608].map(Math.fround));
  const i32 = new DataView(new ArrayBuffer(8));
  i32.setInt32(0, 1 << 30, true); i32.setInt32(4, -(2 ** 31), true);
  assert.deepEqual(Array.from(decodeWav(makeWav(1, 1, 8000, 32, new Uint8Array(i32.buffer))).samples), [0.5, -1]);
  const f32 = new Float32Array([0.25, -0.75]);
  const f = decodeWav(makeWav(3, 1, 44100, 32, new Uint8Array(f32.buffer)));
  assert.deepEqual(Array.from(f.samples), [0.25, -0.75]);
  assert.equal(f.format, 'float');
});

test('stereo is averaged to mono', () => {
  const pcm = new Int16Array([16384, 0, -32768, -32768]);
  const wav = decodeWav(makeWav(1, 2, 48000, 16, new Uint8Array(pcm.buffer)));
  assert.equal(wav.channels, 2);
  assert.deepEqual(Array.from(wav.samples), [0.25, -1]);
});

test('unsupported formats fail with a WavFormatError naming the format', () => {
  assert.throws(() => decodeWav(makeWav(2, 1, 8000, 4, new Uint8Array(4)), 'adpcm.wav'), (err: Error) =>
    err instanceof WavFormatError && /formatCode:2/.test(err.message) && /adpcm\.wav/.test(err.message));
  assert.throws(() => decodeWav(makeWav(3, 1, 8000, 64, new Uint8Array(8))), /bitsPerSample:64/);
  assert.throws(() => decodeWav(new TextEncoder().encode('not a wav file at all')), /not a RIFF\/WAVE/);
});

test('a written 16-bit WAV reads back with the same rate and samples to 1/32768', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'media-wav-'));
  try {
    const samples = new Float32Array([0, 0.5, -0.5, 1, -1, 2]);
    const path = join(dir, 'x.wav');
    await writeWav16(path, samples, 16000);
    const back = await readWav(path);
    assert.equal(back.sampleRate, 16000);
    assert.deepEqual(Array.from(back.samples), [0, 16384 / 32768, -0.5, 32767 / 32768, -1, 32767 / 32768]);
    assert.equal(encodeWav16(samples, 16000).length, 44 + 12);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
