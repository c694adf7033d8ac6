import { readWav } from '../../server/media/wav.ts';
import { resampleAll } from '../../server/media/Resampler.ts';
import type { EncodedVideoFrame } from '../../loadtest/rtpVideoFrames.ts';
import { StreamingVideoDecoder } from '../../loadtest/videoLumaDecoder.ts';

export const SPEECH_WAV = new URL('../../assets/speech/jfk.wav', import.meta.url).pathname;

/** Speech as 48 kHz mono, optionally with digital silence inserted at `silenceAtS` for `silenceS`. */
export async function speech48k(opts: { seconds: number; silenceAtS?: number; silenceS?: number }): Promise<Float32Array> {
  const wav = await readWav(SPEECH_WAV);
  const pcm = await resampleAll(wav.samples, wav.sampleRate, 48000);
  const speech = pcm.subarray(0, Math.min(pcm.length, Math.round(opts.seconds * 48000)));
  if (opts.silenceAtS === undefined || !opts.silenceS) return speech.slice();
  const at = Math.round(opts.silenceAtS * 48000);
  const gap = Math.round(opts.silenceS * 48000);
  const out = new Float32Array(speech.length + gap);
  out.set(speech.subarray(0, at), 0);
  out.set(speech.subarray(at), at + gap);
  return out;
}

/** A decoded frame's luma plane (rows `width` bytes apart) and its RTP timestamp. */
export interface DecodedLuma {
  width: number;
  height: number;
  luma: Uint8Array;
  rtpTimestamp: number;
}

/** Decode received frames (H.264 Annex B or VP8) from the first keyframe on; returns luma planes in RTP order. */
export async function decodeFrames(frames: readonly EncodedVideoFrame[], codec: 'h264' | 'vp8'): Promise<DecodedLuma[]> {
  const start = frames.findIndex((f) => f.keyframe);
  if (start < 0) throw new Error('no keyframe received');
  const out: DecodedLuma[] = [];
  const decoder = new StreamingVideoDecoder(codec, (p) => {
    const luma = new Uint8Array(p.width * p.height);
    for (let y = 0; y < p.height; y++) luma.set(p.luma.subarray(y * p.stride, y * p.stride + p.width), y * p.width);
    out.push({ width: p.width, height: p.height, luma, rtpTimestamp: p.rtpTimestamp });
  });
  try {
    for (const f of frames.slice(start)) decoder.decode(f);
    await decoder.flush();
    if (decoder.error) throw decoder.error;
  } finally {
    decoder.close();
  }
  out.sort((a, b) => (a.rtpTimestamp - b.rtpTimestamp) | 0);
  return out;
}

/** Axis-aligned box around landmarks `ids` of `[[x, y] x 468]`, grown by `marginPx`. */
export function landmarkBox(landmarks: number[][], ids: number[], marginPx: number) {
  const xs = ids.map((i) => landmarks[i]![0]!);
  const ys = ids.map((i) => landmarks[i]![1]!);
  return {
    x0: Math.floor(Math.min(...xs) - marginPx),
    y0: Math.floor(Math.min(...ys) - marginPx),
    x1: Math.ceil(Math.max(...xs) + marginPx),
    y1: Math.ceil(Math.max(...ys) + marginPx),
  };
}

/** Mean absolute luma difference of two frames inside a box. */
export function boxDiff(a: DecodedLuma, b: DecodedLuma, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let sum = 0;
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      sum += Math.abs(a.luma[y * a.width + x]! - b.luma[y * b.width + x]!);
      n++;
    }
  }
  return sum / n;
}

/** Share of pixels inside a box darker than `threshold` (luma 0-255). */
export function darkShare(a: DecodedLuma, box: { x0: number; y0: number; x1: number; y1: number }, threshold: number): number {
  let dark = 0;
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++, n++) if (a.luma[y * a.width + x]! < threshold) dark++;
  return dark / n;
}

/** Mean luma inside a box. */
export function boxMean(a: DecodedLuma, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let sum = 0;
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++, n++) sum += a.luma[y * a.width + x]!;
  return sum / n;
}
