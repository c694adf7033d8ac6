import { VideoDecoder, type VideoFrame } from '@napi-rs/webcodecs';
import { readWav } from '../../server/media/wav.ts';
import { resampleAll } from '../../server/media/Resampler.ts';
import type { EncodedVideoFrame } from '../../loadtest/AvatarClient.ts';

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

/** A decoded frame's luma plane and its RTP timestamp. */
export interface DecodedLuma {
  width: number;
  height: number;
  luma: Uint8Array;
  rtpTimestamp: number;
}

/** Decode received frames (H.264 Annex B or VP8) with WebCodecs; returns luma planes in decode order. */
export async function decodeFrames(frames: readonly EncodedVideoFrame[], codec: 'h264' | 'vp8'): Promise<DecodedLuma[]> {
  const out: DecodedLuma[] = [];
  const pending: Promise<void>[] = [];
  const byTimestampUs = new Map<number, number>();
  const decoder = new VideoDecoder({
    output: (frame: VideoFrame) => {
      const width = frame.codedWidth;
      const height = frame.codedHeight;
      const buf = new Uint8Array(frame.allocationSize());
      const ts = frame.timestamp;
      pending.push(
        frame.copyTo(buf).then(() => {
          out.push({ width, height, luma: buf.subarray(0, width * height), rtpTimestamp: byTimestampUs.get(ts) ?? -1 });
          frame.close();
        }),
      );
    },
    error: (e: Error) => {
      throw e;
    },
  });
  decoder.configure({ codec: codec === 'h264' ? 'avc1.42e01f' : 'vp8' });
  const start = frames.findIndex((f) => f.keyframe);
  if (start < 0) throw new Error('no keyframe received');
  for (let i = start; i < frames.length; i++) {
    const f = frames[i]!;
    const timestamp = i * 40_000;
    byTimestampUs.set(timestamp, f.rtpTimestamp);
    const { EncodedVideoChunk } = await import('@napi-rs/webcodecs');
    decoder.decode(new EncodedVideoChunk({ type: f.keyframe ? 'key' : 'delta', timestamp, data: new Uint8Array(f.data) }));
  }
  await decoder.flush();
  await Promise.all(pending);
  decoder.close();
  out.sort((a, b) => ((a.rtpTimestamp - b.rtpTimestamp) | 0));
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
