import type { FeatureFrame } from '../types.ts';

/**
 * Streaming feature extractor whose compute is asynchronous (an ONNX Runtime run), e.g. Wav2VecExtractor.
 * A separate interface from AudioFeatureExtractor because a synchronous `push` cannot wait for ORT.
 * Calls may overlap: each `pushAsync` takes its samples at call time, work runs in call order, and the
 * promises resolve in call order; every frame is returned exactly once, by the first promise that can.
 */
export interface AsyncAudioFeatureExtractor {
  /** Frames per second that `pushAsync` emits, Hz. */
  readonly featureRate: number;
  /** Length of each frame's `values` (known after creation). */
  readonly dim: number;
  /** Audio time of frame 0's centre, ms (frame f is centred at firstCentreMs + 1000 f / featureRate). */
  readonly firstCentreMs: number;
  /** Most future audio any frame waits for past its centre before it is emitted, ms. */
  readonly lookaheadMs: number;
  /** Feed 16 kHz samples (copied at call time); resolves with the frames that became complete, in order. */
  pushAsync(pcm16k: Float32Array): Promise<FeatureFrame[]>;
  /** Forget all audio; pending pushes resolve with no frames; the next sample is time 0 again. */
  reset(): void;
  /** Release the model; later pushes reject. Idempotent. */
  dispose(): Promise<void>;
}

/** Sanitised copy target: NaN/Inf -> 0, clamp to [-1, 1]; returns how many samples were non-finite and clipped. */
export function sanitizeAudio(src: Float32Array, dst: Float32Array, dstOffset = 0): { nonFinite: number; clipped: number } {
  let nonFinite = 0;
  let clipped = 0;
  for (let i = 0; i < src.length; i++) {
    let x = src[i]!;
    if (!Number.isFinite(x)) {
      x = 0;
      nonFinite++;
    } else if (x > 1) {
      x = 1;
      clipped++;
    } else if (x < -1) {
      x = -1;
      clipped++;
    }
    dst[dstOffset + i] = x;
  }
  return { nonFinite, clipped };
}
