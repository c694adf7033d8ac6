import { NUM_BLENDSHAPES } from '../../engines/face/blendshapes.ts';
import { FACE_MOUTH_MIXES, type FaceMouthMix, type FaceSample } from '../../engines/motion/FaceDrive.ts';

/** Head angles beyond this are not a face a webcam tracks: refused, degrees. */
const MAX_ANGLE_DEG = 90;
/** Inner-lip gap / mouth width beyond this is not a mouth. */
const MAX_OPENING = 1.5;
/** Blendshape scores are 0..1; this much rounding noise is accepted and clamped. */
const SCORE_SLACK = 0.01;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A `face` message: `{type:"face", pose:[yaw, pitch, roll] (degrees), open: inner-lip gap / mouth width,
 * bs: [52 blendshape scores 0..1 in MediaPipe order], t?: client timestamp ms}`, or `{type:"face", lost:true}`. Wrong lengths, non-finite or
 * out-of-range values are refused with the field named.
 */
export function parseFaceMessage(m: Record<string, unknown>): { sample: FaceSample | null } | { error: string } {
  if (m.lost === true) return { sample: null };
  const { pose, open, bs } = m;
  if (!Array.isArray(pose) || pose.length !== 3) return { error: 'face.pose must be [yaw, pitch, roll] in degrees' };
  if (!pose.every((a) => finite(a) && Math.abs(a) <= MAX_ANGLE_DEG)) return { error: `face.pose angles must be finite and within +-${MAX_ANGLE_DEG} degrees` };
  if (!finite(open) || open < 0 || open > MAX_OPENING) return { error: `face.open must be a finite number in 0..${MAX_OPENING}` };
  if (!Array.isArray(bs) || bs.length !== NUM_BLENDSHAPES) return { error: `face.bs must be an array of ${NUM_BLENDSHAPES} blendshape scores (MediaPipe order)` };
  const blendshapes = new Float32Array(NUM_BLENDSHAPES);
  for (let i = 0; i < NUM_BLENDSHAPES; i++) {
    const v = bs[i] as unknown;
    if (!finite(v) || v < -SCORE_SLACK || v > 1 + SCORE_SLACK) return { error: `face.bs[${i}] must be a finite score in 0..1` };
    blendshapes[i] = Math.min(1, Math.max(0, v));
  }
  if (m.t !== undefined && !finite(m.t)) return { error: 'face.t must be a finite timestamp (ms) when given' };
  const [yawDeg, pitchDeg, rollDeg] = pose as [number, number, number];
  return { sample: { yawDeg, pitchDeg, rollDeg, mouthOpen: open, blendshapes, ...(finite(m.t) ? { t: m.t } : {}) } };
}

/** A `faceMix` message: `{type:"faceMix", mouth:"face"|"audio"|"max"}`. */
export function parseFaceMix(m: Record<string, unknown>): { mouth: FaceMouthMix } | { error: string } {
  const mouth = m.mouth;
  if (typeof mouth !== 'string' || !(FACE_MOUTH_MIXES as readonly string[]).includes(mouth)) return { error: `faceMix.mouth must be one of ${FACE_MOUTH_MIXES.join(', ')}` };
  return { mouth: mouth as FaceMouthMix };
}
