/**
 * Runs the motion stage offline over a whole 16 kHz signal, the way a session feeds it (20 ms chunks),
 * and returns exactly one MotionFrame per video frame of the audio.
 */
import { createMotionStage, type MotionEngineConfig } from '../engines/motion/createMotionStage.ts';
import { CANONICAL_VERTICES } from '../engines/motion/canonicalMesh.ts';
import { AUDIO_RATE, NUM_LANDMARKS, type Landmarks2D, type MotionFrame } from '../engines/types.ts';

/** Options of runMotion. */
export interface RunMotionOptions {
  fps: number;
  /** Reference landmarks [468 * 2] in a `size` x `size` frame (default: the frontal canonical face). */
  reference?: Landmarks2D;
  /** Output frame side, px (default 512); `width`/`height` override it for a frame that is not square. */
  size?: number;
  width?: number;
  height?: number;
  seed?: number;
  /** Samples per push (default 320 = 20 ms, as decoded Opus arrives). */
  chunk?: number;
  /** Motion engines (default: the default engines, the learned mouth). */
  engine?: Partial<MotionEngineConfig>;
}

/** The frontal canonical face at 20 px/cm, centred in a 512x512 frame (as in the motion unit tests). */
export function canonicalReference(): Float32Array {
  const ref = new Float32Array(NUM_LANDMARKS * 2);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    ref[2 * i] = 256 + 20 * CANONICAL_VERTICES[3 * i]!;
    ref[2 * i + 1] = 270 - 20 * CANONICAL_VERTICES[3 * i + 1]!;
  }
  return ref;
}

/** Motion frames 0..ceil(duration * fps)-1 of `pcm16k`; trailing silence flushes the stage's lookahead. */
export async function runMotion(pcm16k: Float32Array, opts: RunMotionOptions): Promise<MotionFrame[]> {
  const { fps, size = 512, width = size, height = size, seed = 1, chunk = 320 } = opts;
  const referenceLandmarks = opts.reference ?? canonicalReference();
  const motion = await createMotionStage({ fps, width, height, referenceLandmarks, seed, ...(opts.engine ? { engine: opts.engine } : {}) });
  try {
    const numFrames = Math.ceil((pcm16k.length / AUDIO_RATE) * fps);
    const out: MotionFrame[] = [];
    for (let at = 0; at < pcm16k.length; at += chunk) out.push(...(await motion.push(pcm16k.subarray(at, at + chunk))));
    const tail = new Float32Array(chunk);
    for (let guard = 0; out.length < numFrames && guard < 1000; guard++) out.push(...(await motion.push(tail)));
    return out.slice(0, numFrames);
  } finally {
    await motion.dispose();
  }
}
