/**
 * Maps a measured-style mouth state (inner-lip opening = gap / mouth width, and the log ratio of the mouth width to
 * its rest width) onto one portrait's rig coefficients, by probing that portrait's fitted rig once: the jaw that
 * gives the opening is read off the rig's own opening curve, so every portrait opens as wide as real people do
 * relative to its own mouth, whatever its size, and never wider than the curve's top.
 */
import { NUM_LANDMARKS } from '../types.ts';
import { mouthOpening } from './Audio2Landmarks.ts';
import { NEUTRAL_POSE, type FaceRig } from './FaceRig.ts';
import { NUM_RIG_COEFFS, RIG } from './rigBases.ts';
import { clamp } from './smoothing.ts';

const JAW_STEPS = 25;
const MAX_JAW = 1.2;

/** One portrait's opening curve and width responses. */
export class MouthCalibration {
  /** Opening at jaw = i * MAX_JAW / JAW_STEPS (non-decreasing). */
  private readonly curve = new Float64Array(JAW_STEPS + 1);
  /** Log width change at lipRound 1 (< 0) and lipStretch 1 (> 0). */
  readonly roundLog: number;
  readonly stretchLog: number;

  constructor(rig: FaceRig) {
    const c = new Float32Array(NUM_RIG_COEFFS);
    const l = new Float32Array(NUM_LANDMARKS * 2);
    const width = (): number => Math.hypot(l[582]! - l[122]!, l[583]! - l[123]!);
    let top = 0;
    for (let i = 0; i <= JAW_STEPS; i++) {
      c[RIG.jawOpen] = (i * MAX_JAW) / JAW_STEPS;
      rig.landmarks(c, NEUTRAL_POSE, l);
      top = Math.max(top, mouthOpening(l));
      this.curve[i] = top;
    }
    c.fill(0);
    rig.landmarks(c, NEUTRAL_POSE, l);
    const w0 = width();
    c[RIG.lipRound] = 1;
    rig.landmarks(c, NEUTRAL_POSE, l);
    this.roundLog = Math.min(-0.02, Math.log(width() / w0));
    c.fill(0);
    c[RIG.lipStretch] = 1;
    rig.landmarks(c, NEUTRAL_POSE, l);
    this.stretchLog = Math.max(0.02, Math.log(width() / w0));
  }

  /** Opening of the portrait's mouth at rest (jaw 0). */
  get restOpening(): number {
    return this.curve[0]!;
  }

  /** Jaw coefficient whose opening is `opening` (0 at or below the rest opening, MAX_JAW at or above the top). */
  jawFor(opening: number): number {
    const c = this.curve;
    if (!(opening > c[0]!)) return 0;
    for (let i = 1; i <= JAW_STEPS; i++) {
      if (opening <= c[i]!) {
        const span = c[i]! - c[i - 1]!;
        const t = span > 1e-9 ? (opening - c[i - 1]!) / span : 1;
        return ((i - 1 + t) * MAX_JAW) / JAW_STEPS;
      }
    }
    return MAX_JAW;
  }

  /** Mouth coefficients (RIG slots below NUM_MOUTH_COEFFS) for `opening` and `widthLog`, into `out`. */
  coefficients(opening: number, widthLog: number, out: Float32Array): Float32Array {
    out[RIG.jawOpen] = this.jawFor(opening);
    out[RIG.lipRound] = clamp(widthLog / this.roundLog, 0, 1);
    out[RIG.lipStretch] = clamp(widthLog / this.stretchLog, 0, 1);
    out[RIG.lipPress] = 0;
    out[RIG.upperLipRaise] = 0;
    out[RIG.lowerLipRaise] = 0;
    return out;
  }
}
