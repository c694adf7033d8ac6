import { readFile, writeFile } from 'node:fs/promises';

/** Decoded WAV audio: mono samples in [-1, 1]. */
export interface WavAudio {
  /** Mono samples (channels averaged), range [-1, 1]. */
  samples: Float32Array;
  /** Sample rate in Hz. */
  sampleRate: number;
  /** Channel count in the file (before the mono downmix). */
  channels: number;
  /** Bits per sample in the file. */
  bitsPerSample: number;
  /** 'int' for PCM, 'float' for IEEE float. */
  format: 'int' | 'float';
}

/** Thrown for files that are not WAV or use a sample format this reader does not support. */
export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Parses a RIFF/WAVE buffer (8/16/24/32-bit int or 32-bit float, any rate and channel count) into mono Float32. */
export function decodeWav(bytes: Uint8Array, source = 'buffer'): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError(`not a RIFF/WAVE file [source:${source}]`);
  }
  let fmt: { code: number; channels: number; sampleRate: number; bits: number; blockAlign: number } | undefined;
  let data: Uint8Array | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError(`fmt chunk too short (${size} bytes) [source:${source}]`);
      let code = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the first two bytes of the SubFormat GUID.
      if (code === WAVE_FORMAT_EXTENSIBLE && size >= 40) code = view.getUint16(body + 24, true);
      fmt = {
        code,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      // Some writers leave size 0 or 0xFFFFFFFF when streaming: take what is there.
      data = bytes.subarray(body, Math.min(bytes.length, body + size));
    }
    offset = body + size + (size & 1);
  }
  if (!fmt) throw new WavFormatError(`missing fmt chunk [source:${source}]`);
  if (!data) throw new WavFormatError(`missing data chunk [source:${source}]`);
  const { code, channels, sampleRate, bits } = fmt;
  const isInt = code === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32);
  const isFloat = code === WAVE_FORMAT_IEEE_FLOAT && bits === 32;
  if (!isInt && !isFloat) {
    throw new WavFormatError(
      `unsupported WAV sample format [source:${source}, formatCode:${code}, bitsPerSample:${bits}] (supported: PCM 8/16/24/32-bit, float 32-bit)`,
    );
  }
  if (channels < 1) throw new WavFormatError(`invalid channel count ${channels} [source:${source}]`);
  if (sampleRate < 1) throw new WavFormatError(`invalid sample rate ${sampleRate} [source:${source}]`);
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channels;
  const frames = Math.floor(data.length / frameBytes);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = isFloat
    ? (at: number) => dv.getFloat32(at, true)
    : bits === 8
      ? (at: number) => (dv.getUint8(at) - 128) / 128
      : bits === 16
        ? (at: number) => dv.getInt16(at, true) / 32768
        : bits === 24
          ? (at: number) => ((dv.getUint8(at) | (dv.getUint8(at + 1) << 8) | (dv.getInt8(at + 2) << 16)) / 8388608)
          : (at: number) => dv.getInt32(at, true) / 2147483648;
  const samples = new Float32Array(frames);
  const scale = 1 / channels;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    const base = i * frameBytes;
    for (let c = 0; c < channels; c++) sum += read(base + c * bytesPerSample);
    samples[i] = sum * scale;
  }
  return { samples, sampleRate, channels, bitsPerSample: bits, format: isFloat ? 'float' : 'int' };
}

/** Reads a WAV file from disk into mono Float32 (see decodeWav). */
export async function readWav(path: string): Promise<WavAudio> {
  return decodeWav(await readFile(path), path);
}

/** Encodes mono samples in [-1, 1] as a 16-bit PCM mono WAV (values outside are clipped). */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new TypeError(`sampleRate must be a positive integer, got ${sampleRate}`);
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const writeTag = (at: number, text: string): void => {
    for (let i = 0; i < 4; i++) out[at + i] = text.charCodeAt(i);
  };
  writeTag(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  writeTag(8, 'WAVE');
  writeTag(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  writeTag(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(44 + i * 2, Math.round(v < 0 ? v * 32768 : v * 32767), true);
  }
  return out;
}

/** Writes mono samples in [-1, 1] to a 16-bit PCM mono WAV file. */
export async function writeWav16(path: string, samples: Float32Array, sampleRate: number): Promise<void> {
  await writeFile(path, encodeWav16(samples, sampleRate));
}
