/**
 * The mouth region of an image in a frame set by detected landmarks: origin midway between the mouth corners (61,
 * 291), x along corner to corner, y down the face, one unit = the mouth width. Input of the inner-lip refiner
 * (InnerLipRefiner) and of its training tool (tools/train/dump-lip-patches.ts), so both sample alike.
 */
import type { RgbaImage } from '../types.ts';

export const PATCH_W = 32;
export const PATCH_H = 24;
/** Half extents of the patch in mouth widths. */
export const PATCH_HALF_X = 0.65;
export const PATCH_HALF_Y = 0.5;

/** Mouth frame of 468/478-point landmarks (flat, `stride` values per point). */
export interface MouthFrame {
  cx: number;
  cy: number;
  /** Unit vector corner 61 -> corner 291, and the unit vector down the face. */
  ux: number;
  uy: number;
  vx: number;
  vy: number;
  width: number;
}

export function mouthFrame(lm: ArrayLike<number>, stride = 2): MouthFrame {
  const ax = lm[61 * stride]!, ay = lm[61 * stride + 1]!, bx = lm[291 * stride]!, by = lm[291 * stride + 1]!;
  const width = Math.hypot(bx - ax, by - ay) || 1;
  const ux = (bx - ax) / width, uy = (by - ay) / width;
  // Down the face: the perpendicular on the chin's side (152).
  let vx = -uy, vy = ux;
  const cx = (ax + bx) / 2, cy = (ay + by) / 2;
  if ((lm[152 * stride]! - cx) * vx + (lm[152 * stride + 1]! - cy) * vy < 0) { vx = -vx; vy = -vy; }
  return { cx, cy, ux, uy, vx, vy, width };
}

/** Position of landmark `id` along the frame's y axis, in mouth widths. */
export function frameY(f: MouthFrame, lm: ArrayLike<number>, id: number, stride = 2): number {
  return ((lm[id * stride]! - f.cx) * f.vx + (lm[id * stride + 1]! - f.cy) * f.vy) / f.width;
}

/**
 * RGB patch [3, PATCH_H, PATCH_W] (bilinear, edges clamped), each channel less its mean, all divided by the patch's
 * overall standard deviation: lighting and skin tone matter less than the shapes.
 */
export function innerLipPatch(image: RgbaImage, f: MouthFrame, out = new Float32Array(3 * PATCH_H * PATCH_W)): Float32Array {
  const { width: W, height: H, data } = image;
  const n = PATCH_H * PATCH_W;
  for (let j = 0; j < PATCH_H; j++) {
    const py = (((j + 0.5) / PATCH_H) * 2 - 1) * PATCH_HALF_Y * f.width;
    for (let i = 0; i < PATCH_W; i++) {
      const px = (((i + 0.5) / PATCH_W) * 2 - 1) * PATCH_HALF_X * f.width;
      const x = Math.min(W - 1.001, Math.max(0, f.cx + px * f.ux + py * f.vx - 0.5));
      const y = Math.min(H - 1.001, Math.max(0, f.cy + px * f.uy + py * f.vy - 0.5));
      const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
      const o00 = (y0 * W + x0) * 4, o10 = o00 + 4, o01 = o00 + W * 4, o11 = o01 + 4;
      for (let c = 0; c < 3; c++) {
        const top = data[o00 + c]! + (data[o10 + c]! - data[o00 + c]!) * fx;
        const bottom = data[o01 + c]! + (data[o11 + c]! - data[o01 + c]!) * fx;
        out[c * n + j * PATCH_W + i] = top + (bottom - top) * fy;
      }
    }
  }
  let sum2 = 0;
  for (let c = 0; c < 3; c++) {
    let m = 0;
    for (let k = 0; k < n; k++) m += out[c * n + k]!;
    m /= n;
    for (let k = 0; k < n; k++) { const v = out[c * n + k]! - m; out[c * n + k] = v; sum2 += v * v; }
  }
  const sd = Math.sqrt(sum2 / (3 * n)) || 1;
  for (let k = 0; k < 3 * n; k++) out[k] = out[k]! / sd;
  return out;
}
