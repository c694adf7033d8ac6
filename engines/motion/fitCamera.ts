/**
 * Weighted weak-perspective fit of the canonical mesh to 2D landmarks: a 2x3 affine least-squares solve
 * over stable points, then its rows are made a scaled orthonormal pair (scale * rotation).
 */
import type { Landmarks2D } from '../types.ts';
import { CANONICAL_VERTICES, PROCRUSTES_IDS, PROCRUSTES_WEIGHTS } from './canonicalMesh.ts';

/** Weak-perspective camera: u = tx + scale * (R X).x, v = ty - scale * (R X).y (image y points down). */
export interface WeakPerspectiveCamera {
  /** Pixels per canonical centimetre. */
  scale: number;
  /** Rotation canonical -> camera frame, row-major 3x3 (camera: +x image right, +y image up, +z toward viewer). */
  rotation: Float64Array;
  /** Image position of the canonical origin, px. */
  tx: number;
  ty: number;
}

/** Fit result: the camera and its weighted RMS reprojection error over the fitted points, px. */
export interface CameraFit extends WeakPerspectiveCamera {
  rmsErrorPx: number;
}

/** Project canonical-frame point (x, y, z) through `cam` (no perspective); writes [u, v] to out at `o`. */
export function projectWeak(cam: WeakPerspectiveCamera, x: number, y: number, z: number, out: Float32Array, o: number): void {
  const r = cam.rotation;
  out[o] = cam.tx + cam.scale * (r[0]! * x + r[1]! * y + r[2]! * z);
  out[o + 1] = cam.ty - cam.scale * (r[3]! * x + r[4]! * y + r[5]! * z);
}

function inv3(m: Float64Array): Float64Array {
  const [a, b, c, d, e, f, g, h, i] = [m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7]!, m[8]!];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-12)) throw new RangeError('camera fit is degenerate [det:' + det + ']');
  return Float64Array.of(A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det);
}

/**
 * Fit `landmarks` (468 * 2 px) with the canonical mesh over `ids` weighted by `weights`
 * (default: MediaPipe's Procrustes basis, points that follow head pose and not expression).
 */
export function fitWeakPerspective(
  landmarks: Landmarks2D,
  ids: ArrayLike<number> = PROCRUSTES_IDS,
  weights: ArrayLike<number> = PROCRUSTES_WEIGHTS,
): CameraFit {
  const V = CANONICAL_VERTICES;
  let wSum = 0;
  const mX = [0, 0, 0];
  const mL = [0, 0];
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]!;
    const w = weights[k]!;
    wSum += w;
    for (let a = 0; a < 3; a++) mX[a]! += w * V[3 * i + a]!;
    mL[0]! += w * landmarks[2 * i]!;
    mL[1]! += w * landmarks[2 * i + 1]!;
  }
  for (let a = 0; a < 3; a++) mX[a]! /= wSum;
  mL[0]! /= wSum;
  mL[1]! /= wSum;
  const XX = new Float64Array(9);
  const LX = new Float64Array(6);
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]!;
    const w = weights[k]!;
    const x = [V[3 * i]! - mX[0]!, V[3 * i + 1]! - mX[1]!, V[3 * i + 2]! - mX[2]!];
    const l = [landmarks[2 * i]! - mL[0]!, -(landmarks[2 * i + 1]! - mL[1]!)]; // flip image y to y-up
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) XX[3 * a + b]! += w * x[a]! * x[b]!;
      LX[a]! += w * l[0]! * x[a]!;
      LX[3 + a]! += w * l[1]! * x[a]!;
    }
  }
  const XXi = inv3(XX);
  const M = new Float64Array(6); // rows: s*r1, s*r2
  for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) M[3 * r + c]! += LX[3 * r + k]! * XXi[3 * k + c]!;
  const n1 = Math.hypot(M[0]!, M[1]!, M[2]!);
  const n2 = Math.hypot(M[3]!, M[4]!, M[5]!);
  let r1 = [M[0]! / n1, M[1]! / n1, M[2]! / n1];
  let r2 = [M[3]! / n2, M[4]! / n2, M[5]! / n2];
  // Symmetric orthogonalisation: split the residual dot product between both rows, renormalise, repeat.
  for (let it = 0; it < 10; it++) {
    const d = r1[0]! * r2[0]! + r1[1]! * r2[1]! + r1[2]! * r2[2]!;
    const a = r1.map((v, k) => v - 0.5 * d * r2[k]!);
    const b = r2.map((v, k) => v - 0.5 * d * r1[k]!);
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    r1 = a.map((v) => v / na);
    r2 = b.map((v) => v / nb);
  }
  const r3 = [r1[1]! * r2[2]! - r1[2]! * r2[1]!, r1[2]! * r2[0]! - r1[0]! * r2[2]!, r1[0]! * r2[1]! - r1[1]! * r2[0]!];
  const scale = 0.5 * (n1 + n2);
  const rotation = Float64Array.of(...r1, ...r2, ...r3);
  const cam: CameraFit = {
    scale,
    rotation,
    tx: mL[0]! - scale * (r1[0]! * mX[0]! + r1[1]! * mX[1]! + r1[2]! * mX[2]!),
    ty: mL[1]! + scale * (r2[0]! * mX[0]! + r2[1]! * mX[1]! + r2[2]! * mX[2]!),
    rmsErrorPx: 0,
  };
  const p = new Float32Array(2);
  let err = 0;
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]!;
    projectWeak(cam, V[3 * i]!, V[3 * i + 1]!, V[3 * i + 2]!, p, 0);
    err += weights[k]! * ((p[0]! - landmarks[2 * i]!) ** 2 + (p[1]! - landmarks[2 * i + 1]!) ** 2);
  }
  cam.rmsErrorPx = Math.sqrt(err / wSum);
  return cam;
}
