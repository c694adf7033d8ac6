/**
 * Face rig for one reference portrait: the canonical mesh fitted to the reference's 468 landmarks
 * (weak-perspective camera), region bases for expression, head pose about a neck pivot, projection,
 * and retargeting as deltas so the reference's identity is kept:
 *   out = reference + project(posed, deformed mesh) - project(neutral mesh).
 */
import { NUM_LANDMARKS, type HeadPose, type Landmarks2D, type Mesh3D } from '../types.ts';
import { CANONICAL_VERTICES, PROCRUSTES_IDS, PROCRUSTES_WEIGHTS } from './canonicalMesh.ts';
import { fitWeakPerspective, type CameraFit } from './fitCamera.ts';
import { LIP_CLOSURE, LIP_DROP_BASIS, NUM_RIG_COEFFS, RIG, RIG_BASES } from './rigBases.ts';

/** Options of `FaceRig`. */
export interface FaceRigOptions {
  /** Camera distance from the head, cm, for mild perspective in pose changes (default 60; Infinity = weak perspective). */
  cameraDistanceCm?: number;
  /** Mouth opening (inner-lip gap / mouth width) that `jawOpen` 1 gives on this portrait (default 0.55). */
  jawOpenRatio?: number;
}

/** Mid upper- and lower-lid landmarks of each eye (subject's left, right), for the per-portrait blink gain. */
const MID_LIDS = [[386, 374], [159, 145]] as const;

/** Head rotation pivot in the canonical frame (near the top of the neck, behind the jaw), cm. */
const PIVOT = [0, -2, -6] as const;
/** Lip gap (fraction of mouth width) at rest that the seal closes; a wider reference gap is first closed by the jaw. */
const REST_LIP_GAP = 0.06;
/** The most the rest jaw raises (jaw coefficient units; 1 ~ 14 degrees). */
const MAX_REST_JAW_RAISE = 1;

/** The zero pose. */
export const NEUTRAL_POSE: Readonly<HeadPose> = Object.freeze({ pitchDeg: 0, yawDeg: 0, rollDeg: 0, tx: 0, ty: 0, tz: 0 });

/**
 * Rotation matrix (row-major) R = Rz(roll) Ry(yaw) Rx(pitch) in the canonical frame (y up, z toward viewer):
 * +pitch nods down (forehead toward the viewer), +yaw turns the nose to the image right, +roll turns
 * the face counter-clockwise in the image.
 */
export function eulerToMatrix(pitchDeg: number, yawDeg: number, rollDeg: number, out = new Float64Array(9)): Float64Array {
  const d = Math.PI / 180;
  const cx = Math.cos(pitchDeg * d), sx = Math.sin(pitchDeg * d);
  const cy = Math.cos(yawDeg * d), sy = Math.sin(yawDeg * d);
  const cz = Math.cos(rollDeg * d), sz = Math.sin(rollDeg * d);
  out[0] = cz * cy; out[1] = cz * sy * sx - sz * cx; out[2] = cz * sy * cx + sz * sx;
  out[3] = sz * cy; out[4] = sz * sy * sx + cz * cx; out[5] = sz * sy * cx - cz * sx;
  out[6] = -sy; out[7] = cy * sx; out[8] = cy * cx;
  return out;
}

const finiteOr0 = (x: number): number => (Number.isFinite(x) ? x : 0);

/** Rig of one reference; `landmarks()` is allocation-free. */
export class FaceRig {
  /** Fitted camera of the reference (weak perspective) and its fit error. */
  readonly camera: CameraFit;
  /** Jaw coefficient (<= 0) that raises a reference's dropped jaw at rest (baked into the retargeting offsets); the seal closes what it leaves. */
  readonly restJaw: number;
  /** Lip-seal coefficient that closes the reference's own lip gap at rest (0 when its lips already meet). */
  readonly restSeal: number;
  /** Output pixels per canonical centimetre at the head. */
  readonly pxPerCm: number;
  /**
   * Per-portrait blink gains [left, right]: `landmarks()` multiplies blinkLeft/Right by these so that 1 brings
   * this portrait's mid lids together (the bases close the canonical eye, whose gap differs per face).
   */
  readonly blinkGain: readonly [number, number];
  /** Per-portrait scale of the jaw basis applied by `landmarks()` (0.6..1.5). */
  readonly jawGain: number;
  /** Extra lower-lip drop (LIP_DROP_BASIS) per unit of `jawOpen` applied by `landmarks()` (0..3). */
  readonly lipDropGain: number;
  /** Mouth opening (see Audio2Landmarks' mouthOpening) that `jawOpen` 1 actually gives here, neutral pose. */
  readonly jawOpenRatio: number;

  private readonly distance: number;
  private readonly depth0: number;
  private readonly base = new Float32Array(NUM_LANDMARKS * 2); // reference - project(neutral)
  private readonly mesh = new Float32Array(NUM_LANDMARKS * 3);
  private readonly m = new Float64Array(9);
  private readonly rAnim = new Float64Array(9);
  private readonly coeffs = new Float32Array(NUM_RIG_COEFFS);
  private readonly lm = new Float32Array(NUM_LANDMARKS * 2);
  /** Inner-lip gap per closure column at rest (lips sealed), canonical cm [columns * 3]. */
  private readonly restGap = new Float32Array(LIP_CLOSURE.upper.length * 3);
  private readonly gap = new Float32Array(LIP_CLOSURE.upper.length * 3);

  /** Fit the canonical mesh to `referenceLandmarks` (468 * 2, output-frame px). */
  constructor(referenceLandmarks: Landmarks2D, opts: FaceRigOptions = {}) {
    const { cameraDistanceCm = 60, jawOpenRatio = 0.55 } = opts;
    if (referenceLandmarks.length !== NUM_LANDMARKS * 2) throw new TypeError(`referenceLandmarks must have ${NUM_LANDMARKS * 2} numbers [length:${referenceLandmarks.length}]`);
    if (!referenceLandmarks.every(Number.isFinite)) throw new TypeError('referenceLandmarks must be finite');
    if (!(cameraDistanceCm > 20)) throw new TypeError(`cameraDistanceCm must be > 20 [cameraDistanceCm:${cameraDistanceCm}]`);
    if (!(jawOpenRatio >= 0.1 && jawOpenRatio <= 1)) throw new TypeError(`jawOpenRatio must be 0.1..1 [jawOpenRatio:${jawOpenRatio}]`);
    this.distance = cameraDistanceCm;
    this.camera = fitWeakPerspective(referenceLandmarks);
    if (!(this.camera.scale > 0) || !Number.isFinite(this.camera.tx + this.camera.ty)) throw new TypeError('referenceLandmarks do not fit a face');
    this.pxPerCm = this.camera.scale;
    const r = this.camera.rotation;
    let zSum = 0;
    let wSum = 0;
    for (let k = 0; k < PROCRUSTES_IDS.length; k++) {
      const i = PROCRUSTES_IDS[k]!;
      const V = CANONICAL_VERTICES;
      zSum += PROCRUSTES_WEIGHTS[k]! * (r[6]! * V[3 * i]! + r[7]! * V[3 * i + 1]! + r[8]! * V[3 * i + 2]!);
      wSum += PROCRUSTES_WEIGHTS[k]!;
    }
    this.depth0 = zSum / wSum;

    const neutral = new Float32Array(NUM_LANDMARKS * 2);
    this.project(CANONICAL_VERTICES, NEUTRAL_POSE, neutral);
    for (let i = 0; i < neutral.length; i++) this.base[i] = referenceLandmarks[i]! - neutral[i]!;

    // Rest jaw: a reference with a dropped jaw closes mostly by raising the jaw, so the lower lip and chin keep their
    // shape; sealing that whole gap by stretching the lips paints a lip-coloured blob that reads as an open mouth.
    const shifted = (slot: number, v: number): Float32Array => {
      const moved = new Float32Array(NUM_LANDMARKS * 2);
      const c = new Float32Array(NUM_RIG_COEFFS);
      c[slot] = v;
      return this.project(this.deform(c, new Float32Array(NUM_LANDMARKS * 3)), NEUTRAL_POSE, moved);
    };
    const gapChange = (slot: number, v: number): [number, number] => {
      const moved = shifted(slot, v);
      return [moved[28]! - moved[26]! - (neutral[28]! - neutral[26]!), moved[29]! - moved[27]! - (neutral[29]! - neutral[27]!)];
    };
    const gx = referenceLandmarks[28]! - referenceLandmarks[26]!;
    const gy = referenceLandmarks[29]! - referenceLandmarks[27]!;
    const refWidth = Math.hypot(referenceLandmarks[582]! - referenceLandmarks[122]!, referenceLandmarks[583]! - referenceLandmarks[123]!);
    const gapLen = Math.hypot(gx, gy);
    const [jx, jy] = gapChange(RIG.jawOpen, -1);
    const jClose = gapLen > 1e-9 ? -(gx * jx + gy * jy) / gapLen : 0; // gap closed per unit of jaw raise
    const excess = gapLen - REST_LIP_GAP * refWidth;
    this.restJaw = jClose > 1e-9 && excess > 0 ? -Math.min(MAX_REST_JAW_RAISE, excess / jClose) : 0;
    // Applied as a fixed image-plane offset, like the reference's own gap that it cancels: as a 3D rotation its depth
    // component would turn into a sideways shear of the lower lip whenever the head turns.
    if (this.restJaw !== 0) {
      const raised = shifted(RIG.jawOpen, this.restJaw);
      for (let i = 0; i < neutral.length; i++) this.base[i] = this.base[i]! + raised[i]! - neutral[i]!;
    }
    // Rest seal: the coefficient whose change of the 13->14 gap cancels what the rest jaw leaves of the reference's gap
    // (the gap of base + neutral, i.e. the retargeted rest without the seal).
    const [dx, dy] = gapChange(RIG.lipSeal, 1);
    const rx = this.base[28]! + neutral[28]! - this.base[26]! - neutral[26]!;
    const ry = this.base[29]! + neutral[29]! - this.base[27]! - neutral[27]!;
    const d2 = dx * dx + dy * dy;
    this.restSeal = d2 > 1e-9 ? Math.max(0, Math.min(8, -(rx * dx + ry * dy) / d2)) : 0;
    // The lip gap that lipPress 1 returns to: the sealed rest mouth's own (~0 at 13-14 after retargeting).
    const c = new Float32Array(NUM_RIG_COEFFS);
    c[RIG.lipSeal] = this.restSeal;
    this.columnGaps(this.deform(c, new Float32Array(NUM_LANDMARKS * 3)), this.restGap);

    // Gains start neutral so that the probes below see the raw bases, then are solved per portrait.
    this.blinkGain = [1, 1];
    this.jawGain = 1;
    this.lipDropGain = 0;
    this.jawOpenRatio = 0;
    const probe = (slot: number, v: number): Float32Array => {
      c.fill(0);
      if (slot >= 0) c[slot] = v;
      return Float32Array.from(this.landmarks(c, NEUTRAL_POSE, this.lm));
    };
    const rest = probe(-1, 0);

    // Blink: the coefficient whose change of the mid-lid gap cancels the reference's own gap, per eye.
    const closed = probe(RIG.blinkLeft, 1);
    const closedR = probe(RIG.blinkRight, 1);
    const gain = (pair: readonly [number, number], moved: Float32Array): number => {
      const [u, l] = pair;
      const ex = moved[2 * l]! - moved[2 * u]! - (rest[2 * l]! - rest[2 * u]!);
      const ey = moved[2 * l + 1]! - moved[2 * u + 1]! - (rest[2 * l + 1]! - rest[2 * u + 1]!);
      const e2 = ex * ex + ey * ey;
      const rx = rest[2 * l]! - rest[2 * u]!, ry = rest[2 * l + 1]! - rest[2 * u + 1]!;
      return e2 > 1e-9 ? Math.max(0.3, Math.min(3, -(rx * ex + ry * ey) / e2)) : 1;
    };
    this.blinkGain = [gain(MID_LIDS[0], closed), gain(MID_LIDS[1], closedR)];

    // Jaw: scale the jaw within a natural range, then add lower-lip drop until jaw 1 opens the lips to
    // `jawOpenRatio` of the mouth width (a portrait with a wide mouth or its own smile gap needs more).
    const gapAlong = (l: Float32Array, ux: number, uy: number): number => (l[28]! - l[26]!) * ux + (l[29]! - l[27]!) * uy;
    const width = Math.hypot(rest[582]! - rest[122]!, rest[583]! - rest[123]!);
    const jaw1 = probe(RIG.jawOpen, 1);
    let ux = jaw1[28]! - jaw1[26]! - (rest[28]! - rest[26]!);
    let uy = jaw1[29]! - jaw1[27]! - (rest[29]! - rest[27]!);
    const gJ = Math.hypot(ux, uy);
    if (gJ > 1e-6 && width > 0) {
      ux /= gJ;
      uy /= gJ;
      const want = jawOpenRatio * width - gapAlong(rest, ux, uy);
      const s = Math.max(0.6, Math.min(1.5, want / gJ));
      this.jawGain = s;
      this.lipDropGain = 1;
      const gL = gapAlong(probe(RIG.jawOpen, 1), ux, uy) - gapAlong(rest, ux, uy) - s * gJ;
      this.lipDropGain = gL > 1e-6 ? Math.max(0, Math.min(3, (want - s * gJ) / gL)) : 0;
    }
    this.jawOpenRatio = openingRatio(probe(RIG.jawOpen, 1));
  }

  /**
   * Landmarks of `coeffs` plus raw per-vertex `offsets` (468 * 3 canonical cm, e.g. an ONNX Audio2Mesh output;
   * non-finite count as 0) added to the deformed mesh, with the same retargeting as `landmarks()`, into `out`.
   */
  landmarksWithOffsets(coeffs: ArrayLike<number>, offsets: ArrayLike<number> | null, pose: HeadPose, out: Landmarks2D): Landmarks2D {
    if (offsets !== null && offsets.length !== NUM_LANDMARKS * 3) throw new TypeError(`offsets must have ${NUM_LANDMARKS * 3} numbers [length:${offsets.length}]`);
    const mesh = this.deformPortrait(coeffs);
    if (offsets) for (let i = 0; i < mesh.length; i++) mesh[i] = mesh[i]! + finiteOr0(offsets[i]!);
    this.project(mesh, pose, out);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + this.base[i]!;
    return out;
  }

  /** Canonical mesh deformed by `coeffs` (length NUM_RIG_COEFFS, RIG slots; non-finite count as 0) into `out` [468 * 3] cm. */
  deform(coeffs: ArrayLike<number>, out: Mesh3D): Mesh3D {
    out.set(CANONICAL_VERTICES);
    for (let b = 0; b < NUM_RIG_COEFFS; b++) {
      const c = finiteOr0(coeffs[b]!);
      if (c === 0) continue;
      const basis = RIG_BASES[b]!;
      for (let i = 0; i < out.length; i++) out[i]! += c * basis[i]!;
    }
    return out;
  }

  /** Project a canonical-frame mesh [468 * 3] under the reference camera plus `pose` into `out` [468 * 2] px (no retargeting). */
  project(mesh: Mesh3D, pose: HeadPose, out: Float32Array): Float32Array {
    const { scale: s, rotation: R, tx, ty } = this.camera;
    const A = eulerToMatrix(finiteOr0(pose.pitchDeg), finiteOr0(pose.yawDeg), finiteOr0(pose.rollDeg), this.rAnim);
    const M = this.m;
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) M[3 * r + c] = A[3 * r]! * R[c]! + A[3 * r + 1]! * R[3 + c]! + A[3 * r + 2]! * R[6 + c]!;
    // Rotate about the pivot: Y = A (R X - P) + P with P = R pivot.
    const P0 = R[0]! * PIVOT[0] + R[1]! * PIVOT[1] + R[2]! * PIVOT[2];
    const P1 = R[3]! * PIVOT[0] + R[4]! * PIVOT[1] + R[5]! * PIVOT[2];
    const P2 = R[6]! * PIVOT[0] + R[7]! * PIVOT[1] + R[8]! * PIVOT[2];
    const o0 = P0 - (A[0]! * P0 + A[1]! * P1 + A[2]! * P2);
    const o1 = P1 - (A[3]! * P0 + A[4]! * P1 + A[5]! * P2);
    const o2 = P2 - (A[6]! * P0 + A[7]! * P1 + A[8]! * P2) + finiteOr0(pose.tz) / s;
    const D = this.distance;
    const persp = Number.isFinite(D);
    const u0 = tx + finiteOr0(pose.tx);
    const v0 = ty + finiteOr0(pose.ty);
    for (let i = 0; i < NUM_LANDMARKS; i++) {
      const x = mesh[3 * i]!, y = mesh[3 * i + 1]!, z = mesh[3 * i + 2]!;
      const X = M[0]! * x + M[1]! * y + M[2]! * z + o0;
      const Y = M[3]! * x + M[4]! * y + M[5]! * z + o1;
      const f = persp ? s * ((D - this.depth0) / (D - (M[6]! * x + M[7]! * y + M[8]! * z + o2))) : s;
      out[2 * i] = u0 + f * X;
      out[2 * i + 1] = v0 - f * Y;
    }
    return out;
  }

  /**
   * Animated landmarks: reference + project(pose, deform(coeffs with this portrait's gains + rest seal)) - project(neutral),
   * into `out` [468 * 2] px. Unlike `deform`, blink, jaw and seal are scaled per portrait (see blinkGain, jawGain).
   */
  landmarks(coeffs: ArrayLike<number>, pose: HeadPose, out: Landmarks2D): Landmarks2D {
    this.project(this.deformPortrait(coeffs), pose, out);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + this.base[i]!;
    return out;
  }

  /**
   * The mesh of `coeffs` with this portrait's rest seal, blink gains, jaw gain and lip drop (the mesh that `landmarks()`
   * projects), in a buffer owned by the rig and overwritten by the next `deformPortrait`/`landmarks*` call.
   */
  deformPortrait(coeffs: ArrayLike<number>): Mesh3D {
    const c = this.coeffs;
    for (let b = 0; b < NUM_RIG_COEFFS; b++) c[b] = finiteOr0(coeffs[b]!);
    c[RIG.lipSeal] = c[RIG.lipSeal]! + this.restSeal;
    c[RIG.blinkLeft] = c[RIG.blinkLeft]! * this.blinkGain[0];
    c[RIG.blinkRight] = c[RIG.blinkRight]! * this.blinkGain[1];
    const jaw = c[RIG.jawOpen]!;
    c[RIG.jawOpen] = jaw * this.jawGain;
    const mesh = this.deform(c, this.mesh);
    const drop = jaw * this.lipDropGain;
    if (drop !== 0) for (let i = 0; i < mesh.length; i++) mesh[i] = mesh[i]! + drop * LIP_DROP_BASIS[i]!;
    // Lips meet before the press is complete (contact, then compression): closure fraction p (2 - p).
    const press = Math.min(1, Math.max(0, c[RIG.lipPress]!));
    if (press > 0) this.closeLips(mesh, press * (2 - press));
    return mesh;
  }

  /** Gap (upper - lower inner contour point) of each closure column of `mesh`, into `out` [columns * 3]. */
  private columnGaps(mesh: Mesh3D, out: Float32Array): Float32Array {
    const { upper, lower } = LIP_CLOSURE;
    for (let k = 0; k < upper.length; k++) {
      const a = 3 * upper[k]!, b = 3 * lower[k]!;
      for (let d = 0; d < 3; d++) out[3 * k + d] = mesh[a + d]! - mesh[b + d]!;
    }
    return out;
  }

  /**
   * Bilabial closure: the fraction `press` (0..1) of the inner-lip gap beyond the sealed rest gap is closed, the lower lip
   * moving up by LIP_CLOSURE.lowerShare of it and the upper lip down by the rest, whatever opened it (jaw,
   * lip drop, lip raises); so lipPress 1 seals the lips at any jaw opening.
   */
  private closeLips(mesh: Mesh3D, press: number): void {
    const { column, frac, lowerWeight, upperWeight, lowerShare } = LIP_CLOSURE;
    const g = this.columnGaps(mesh, this.gap);
    const r = this.restGap;
    for (let i = 0; i < g.length; i++) g[i] = g[i]! - r[i]!;
    const down = press * lowerShare;
    const up = press * (1 - lowerShare);
    for (let i = 0; i < NUM_LANDMARKS; i++) {
      const s = down * lowerWeight[i]! - up * upperWeight[i]!;
      if (s === 0) continue;
      const k = column[i]!, t = frac[i]!;
      for (let d = 0; d < 3; d++) mesh[3 * i + d] = mesh[3 * i + d]! + s * ((1 - t) * g[3 * k + d]! + t * g[3 * k + 3 + d]!);
    }
  }
}

/** Inner-lip gap (13-14) over mouth width (61-291) of landmarks [468 * 2]. */
function openingRatio(l: Landmarks2D): number {
  const w = Math.hypot(l[582]! - l[122]!, l[583]! - l[123]!);
  return w > 0 ? Math.hypot(l[28]! - l[26]!, l[29]! - l[27]!) / w : 0;
}
