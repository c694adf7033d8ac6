import type { HeadPose, Landmarks2D, MotionFrame } from '../types.ts';
import { NUM_MOUTH_COEFFS, RIG } from './rigBases.ts';
import { clamp } from './smoothing.ts';

/** Draws landmarks for rig coefficients, optional mesh offsets and a pose (the stage's own rig). */
export type DrawLandmarks = (coeffs: Float32Array, offsets: Float32Array | null, pose: HeadPose) => Landmarks2D;

/**
 * The frames an interrupt can show at once. On `clear` the audio of the next frames has already arrived but is
 * dropped, and new frames wait for the lookahead of new audio (about 110 ms): showing nothing meanwhile leaves the
 * last, talking, frame on screen. These frames fill that span instead, without waiting for audio: the last frame's
 * face with the mouth (coefficients and mesh offsets) gliding to rest, so the mouth is at rest when new frames begin.
 */
export class InterruptGlide {
  private coeffs: Float32Array | undefined;
  private offsets: Float32Array | undefined;
  private pose: HeadPose | undefined;

  /** Keep the frame just emitted (copied into buffers reused frame after frame: this runs for every frame). */
  remember(coeffs: Float32Array, offsets: Float32Array | null, pose: HeadPose): void {
    if (this.coeffs?.length !== coeffs.length) this.coeffs = new Float32Array(coeffs.length);
    this.coeffs.set(coeffs);
    if (offsets) {
      if (this.offsets?.length !== offsets.length) this.offsets = new Float32Array(offsets.length);
      this.offsets.set(offsets);
    } else {
      this.offsets = undefined;
    }
    this.pose = Object.assign(this.pose ?? { ...pose }, pose);
  }

  /** Frames `from` .. `to - 1` gliding to rest (the last one at rest); none before any frame was emitted. */
  frames(from: number, to: number, frameMs: number, draw: DrawLandmarks, mouthOpenOf: (coeffs: Float32Array, landmarks: Landmarks2D) => number): MotionFrame[] {
    const last = this.coeffs;
    const pose = this.pose;
    if (!last || !pose || to <= from) return [];
    const out: MotionFrame[] = [];
    const n = to - from;
    for (let k = from; k < to; k++) {
      const g = 1 - (k - from + 1) / n;
      const c = Float32Array.from(last);
      for (let i = 0; i < NUM_MOUTH_COEFFS; i++) c[i] = last[i]! * g;
      const offsets = this.offsets ? this.offsets.map((v) => v * g) : null;
      const landmarks = draw(c, offsets, pose);
      out.push({
        index: k,
        audioTimeMs: k * frameMs,
        landmarks,
        mouthOpen: mouthOpenOf(c, landmarks),
        blink: clamp(Math.max(c[RIG.blinkLeft]!, c[RIG.blinkRight]!), 0, 1),
        pose: { ...pose },
      });
    }
    this.coeffs!.fill(0, 0, NUM_MOUTH_COEFFS);
    this.offsets?.fill(0);
    return out;
  }
}
