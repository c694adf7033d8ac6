/**
 * A live face (a webcam, a driving video) driving the portrait's rig: head pose, blinks, brows and mouth measured on
 * the driver by MediaPipe FaceLandmarker are retargeted onto this portrait's own rig coefficients, so its identity
 * holds. Blended over the audio-driven motion: the face takes over when samples arrive, and the motion glides back
 * to the audio when the face is lost or samples stop.
 */
import type { HeadPose } from '../types.ts';
import { BLENDSHAPE_NAMES } from '../face/blendshapes.ts';
import { RIG } from './rigBases.ts';


const B = Object.fromEntries(BLENDSHAPE_NAMES.map((n, i) => [n, i])) as Record<string, number>;

/** One measurement of the driver's face. */
export interface FaceSample {
  /** Head rotation, degrees, from MediaPipe's facial transformation matrix (subject turning to their left = +yaw). */
  yawDeg: number;
  pitchDeg: number;
  rollDeg: number;
  /** Inner-lip gap / mouth width (landmarks 13-14 over 61-291). */
  mouthOpen: number;
  /** The client's timestamp of the camera frame measured, ms (echoed per video frame, for latency). */
  t?: number;
  /** The 52 blendshape scores, 0..1, in BLENDSHAPE_NAMES order. */
  blendshapes: Float32Array;
}

/** Which drives the mouth while a face is present: the face, the audio, or whichever opens more (per coefficient). */
export type FaceMouthMix = 'face' | 'audio' | 'max';
export const FACE_MOUTH_MIXES: readonly FaceMouthMix[] = ['face', 'audio', 'max'];

/** A face sample older than this counts as lost, ms. */
export const FACE_STALE_MS = 250;
/** The face takes over within this, ms (no snap when the face appears). */
const FADE_IN_MS = 120;
/** After the face is lost, the motion glides back to the audio-driven one over this, ms. */
export const FACE_GLIDE_BACK_MS = 400;
/** Samples averaged for the driver's neutral head pose (its camera angle), taken from the first ones. */
const NEUTRAL_SAMPLES = 10;
/** The driver's rest opening is its smallest seen, up to this: a driver whose lips rest apart still rests closed on the portrait. */
const MAX_REST_OPENING = 0.02;
const MAX_MOUTH = 1.2;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** `{ faceT, gaze }` for a motion frame while a face drives it (exactOptionalPropertyTypes: absent, not undefined). */
export function faceFields(drive: FaceDrive): { faceT?: number; gaze?: { x: number; y: number } } {
  const t = drive.lastT;
  const gaze = drive.gaze;
  return { ...(t === undefined ? {} : { faceT: t }), ...(gaze ? { gaze } : {}) };
}

/**
 * Retargets face samples onto one portrait's rig and blends them into each motion frame. `jawOpenRatio`: this
 * portrait's mouth opening (same measure as FaceSample.mouthOpen) per unit of the rig's jawOpen.
 */
export class FaceDrive {
  private sample: FaceSample | undefined;
  private sampleAt = -Infinity;
  private weight = 0;
  private lastApplyAt: number | undefined;
  private mix: FaceMouthMix = 'face';
  private readonly neutral = { yaw: 0, pitch: 0, roll: 0, n: 0 };
  private restOpening = MAX_REST_OPENING;
  private readonly faceMouth = new Float32Array(6);

  constructor(
    private readonly jawOpenRatio: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A new measurement; null says the face is lost (the motion glides back to the audio at once). */
  set(sample: FaceSample | null): void {
    if (sample === null) {
      this.sampleAt = -Infinity;
      return;
    }
    if (this.neutral.n < NEUTRAL_SAMPLES) {
      const n = ++this.neutral.n;
      this.neutral.yaw += (sample.yawDeg - this.neutral.yaw) / n;
      this.neutral.pitch += (sample.pitchDeg - this.neutral.pitch) / n;
      this.neutral.roll += (sample.rollDeg - this.neutral.roll) / n;
    }
    this.restOpening = Math.min(this.restOpening, Math.max(0, sample.mouthOpen));
    this.sample = sample;
    this.sampleAt = this.now();
  }

  setMouthMix(mix: FaceMouthMix): void {
    this.mix = mix;
  }

  /**
   * Blend the face into one frame's rig coefficients and pose (both in place, called once per frame in order).
   * Returns how much the face drives the mouth (0..1), for callers that also scale mesh offsets.
   */
  /** The client timestamp of the sample blended into the last frame, while the face drives. */
  get lastT(): number | undefined {
    return this.weight > 0 && this.fresh(this.now()) ? this.sample?.t : undefined;
  }

  /**
   * The driver's gaze, -1..1 on image axes (+x: toward the subject's left, the image's right; +y down), weighted by how
   * much the face drives; undefined when it does not.
   */
  get gaze(): { x: number; y: number } | undefined {
    const s = this.sample;
    if (!s || this.weight === 0) return undefined;
    const b = (n: string) => s.blendshapes[B[n]!]!;
    const x = (b('eyeLookOutLeft') + b('eyeLookInRight') - b('eyeLookInLeft') - b('eyeLookOutRight')) / 2;
    const y = (b('eyeLookDownLeft') + b('eyeLookDownRight') - b('eyeLookUpLeft') - b('eyeLookUpRight')) / 2;
    return { x: clamp(x, -1, 1) * this.weight, y: clamp(y, -1, 1) * this.weight };
  }

  apply(c: Float32Array, pose: HeadPose): number {
    const t = this.now();
    const dt = this.lastApplyAt === undefined ? 0 : Math.max(0, t - this.lastApplyAt);
    this.lastApplyAt = t;
    const target = this.fresh(t) ? 1 : 0;
    if (target > this.weight) this.weight = Math.min(1, this.weight + dt / FADE_IN_MS);
    else if (target < this.weight) this.weight = Math.max(0, this.weight - dt / FACE_GLIDE_BACK_MS);
    const w = this.weight;
    const s = this.sample;
    if (w === 0 || !s) return 0;
    const bs = s.blendshapes;
    const pair = (a: string, b: string) => (bs[B[a]!]! + bs[B[b]!]!) / 2;
    // Head: the driver's rotation away from its own neutral, on top of nothing (the face replaces the audio's head).
    const mixIn = (from: number, to: number) => from + w * (to - from);
    pose.yawDeg = mixIn(pose.yawDeg, s.yawDeg - this.neutral.yaw);
    pose.pitchDeg = mixIn(pose.pitchDeg, s.pitchDeg - this.neutral.pitch);
    pose.rollDeg = mixIn(pose.rollDeg, s.rollDeg - this.neutral.roll);
    pose.tx *= 1 - w;
    pose.ty *= 1 - w;
    // Eyes and brows always follow the face.
    // Lid closure from the blink score; a wide-eyed driver lifts the lids above rest (negative closure).
    const lid = (blinkScore: number, wideScore: number) => clamp((blinkScore - 0.2) / 0.45, 0, 1) - 0.35 * clamp((wideScore - 0.1) / 0.5, 0, 1);
    c[RIG.blinkLeft] = mixIn(c[RIG.blinkLeft]!, lid(bs[B.eyeBlinkLeft!]!, bs[B.eyeWideLeft!]!));
    c[RIG.blinkRight] = mixIn(c[RIG.blinkRight]!, lid(bs[B.eyeBlinkRight!]!, bs[B.eyeWideRight!]!));
    const brow = clamp(0.8 * bs[B.browInnerUp!]! + 0.6 * pair('browOuterUpLeft', 'browOuterUpRight') - 0.4 * pair('browDownLeft', 'browDownRight'), 0, 1);
    c[RIG.browRaise] = mixIn(c[RIG.browRaise]!, brow);
    if (this.mix === 'audio') return 0;
    const m = this.faceMouth;
    m[RIG.jawOpen] = clamp(Math.max(0, s.mouthOpen - this.restOpening) / this.jawOpenRatio, 0, MAX_MOUTH);
    m[RIG.lipRound] = clamp(0.9 * bs[B.mouthPucker!]! + 0.5 * bs[B.mouthFunnel!]!, 0, 1);
    m[RIG.lipStretch] = clamp(0.7 * pair('mouthSmileLeft', 'mouthSmileRight') + 0.7 * pair('mouthStretchLeft', 'mouthStretchRight'), 0, 1);
    m[RIG.lipPress] = clamp(pair('mouthPressLeft', 'mouthPressRight') + 0.5 * pair('mouthRollLower', 'mouthRollUpper'), 0, 1);
    m[RIG.upperLipRaise] = clamp(pair('mouthUpperUpLeft', 'mouthUpperUpRight'), 0, 1);
    m[RIG.lowerLipRaise] = clamp(0.5 * bs[B.mouthShrugLower!]! + 0.5 * bs[B.mouthRollLower!]!, 0, 1);
    for (let i = 0; i < m.length; i++) c[i] = this.mix === 'max' ? mixIn(c[i]!, Math.max(c[i]!, m[i]!)) : mixIn(c[i]!, m[i]!);
    return this.mix === 'max' ? 0 : w;
  }

  private fresh(t: number): boolean {
    return t - this.sampleAt <= FACE_STALE_MS;
  }
}
