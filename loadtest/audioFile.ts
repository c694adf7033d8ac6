/**
 * Loads a speech file for the load test as 48 kHz mono Float32 (what AvatarClient streams).
 * A tiny WAV reader of our own: PCM 8/16/24/32-bit and IEEE float, any channel count (mixed down).
 */
import { readFile } from 'node:fs/promises';
import libsamplerate from '@alexanderolsen/libsamplerate-js';
import { AUDIO_RATE_HZ } from './AvatarClient.ts';

// CommonJS package: Node's ESM loader cannot see its named exports.
const { ConverterType, create } = libsamplerate;

export interface PcmAudio {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRateHz: number;
}

/** Parses a RIFF/WAVE buffer into mono Float32; throws a TypeError naming what is unsupported. */
export function parseWav(buf: Buffer, name = 'wav'): PcmAudio {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new TypeError(`not a RIFF/WAVE file [file:${name}]`);
  }
  let format = 0;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  let data: Buffer | null = null;
  for (let off = 12; off + 8 <= buf.length; ) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, Math.min(buf.length, off + 8 + size));
    if (id === 'fmt ') {
      format = body.readUInt16LE(0);
      channels = body.readUInt16LE(2);
      rate = body.readUInt32LE(4);
      bits = body.readUInt16LE(14);
      if (format === 0xfffe && body.length >= 26) format = body.readUInt16LE(24); // WAVE_FORMAT_EXTENSIBLE
    } else if (id === 'data') {
      data = body;
    }
    off += 8 + size + (size & 1);
  }
  if (!data || channels === 0) throw new TypeError(`WAV without fmt/data chunk [file:${name}]`);
  const bytes = bits / 8;
  const frames = Math.floor(data.length / (bytes * channels));
  const out = new Float32Array(frames);
  const read = (o: number): number => {
    if (format === 3 && bits === 32) return data!.readFloatLE(o);
    if (format === 3 && bits === 64) return data!.readDoubleLE(o);
    if (format !== 1) throw new TypeError(`unsupported WAV format [file:${name}, format:${format}, bits:${bits}]`);
    switch (bits) {
      case 8: return (data!.readUInt8(o) - 128) / 128;
      case 16: return data!.readInt16LE(o) / 32768;
      case 24: return data!.readIntLE(o, 3) / 8388608;
      case 32: return data!.readInt32LE(o) / 2147483648;
      default: throw new TypeError(`unsupported WAV bit depth [file:${name}, bits:${bits}]`);
    }
  };
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let ch = 0; ch < channels; ch++) sum += read((i * channels + ch) * bytes);
    out[i] = sum / channels;
  }
  return { samples: out, sampleRateHz: rate };
}

/** Reads a WAV file and resamples it to 48 kHz mono. */
export async function loadSpeech48k(path: string): Promise<Float32Array> {
  const { samples, sampleRateHz } = parseWav(await readFile(path), path);
  if (sampleRateHz === AUDIO_RATE_HZ) return samples;
  const src = await create(1, sampleRateHz, AUDIO_RATE_HZ, { converterType: ConverterType.SRC_SINC_MEDIUM_QUALITY });
  try {
    return src.simple(samples);
  } finally {
    src.destroy();
  }
}
