/** Render a portrait in a fixed rig pose (no audio): for the picture tools and the portrait test. */
import { FaceRig, NEUTRAL_POSE } from '../../engines/motion/FaceRig.ts';
import { NUM_RIG_COEFFS, RIG } from '../../engines/motion/rigBases.ts';
import type { WarpRenderer } from '../../engines/render/WarpRenderer.ts';
import { NUM_LANDMARKS, type ReferencePortrait, type RgbaImage } from '../../engines/types.ts';

/** Rig coefficients by name; missing ones are 0. */
export type RigPose = Partial<Record<keyof typeof RIG, number>>;

/** The coefficient vector of `pose`. */
export function rigCoefficients(pose: RigPose): Float32Array {
  const c = new Float32Array(NUM_RIG_COEFFS);
  for (const [k, v] of Object.entries(pose)) c[RIG[k as keyof typeof RIG]] = v;
  return c;
}

/** A new frame of `reference` (already prepared in `renderer`) with `rig` at `coeffs`, head straight. */
export function renderRigPose(renderer: WarpRenderer, reference: ReferencePortrait, rig: FaceRig, coeffs: Float32Array): RgbaImage {
  const { width, height } = reference.image;
  const frame: RgbaImage = { width, height, data: new Uint8Array(width * height * 4) };
  const landmarks = rig.landmarks(coeffs, NEUTRAL_POSE, new Float32Array(NUM_LANDMARKS * 2));
  renderer.renderInto({ referenceId: reference.id, landmarks, frameIndex: 0, mouthOpen: coeffs[RIG.jawOpen]! }, frame);
  return frame;
}
