import type { Landmarks2D } from '../types.ts';

/** Similarity transform from output pixels to source pixels: src = [a -b; b a] * out + [tx, ty]. */
export interface CropTransform {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** How a portrait is framed in the output. */
export interface FramingOptions {
  /** Output size, px. */
  width: number;
  height: number;
  /** Forehead-top (landmark 10) to chin (152) distance as a fraction of the output height. */
  faceFraction?: number;
  /** Vertical position of the face's centre as a fraction of the output height. */
  faceCentreY?: number;
  /** Smallest roll that is straightened, degrees (smaller rolls are left as they are). */
  minRollDeg?: number;
  /** Most the face may be enlarged beyond faceFraction so that the crop stays inside the source (default 1.35). */
  maxZoom?: number;
}

const FOREHEAD = 10;
const CHIN = 152;
const EYE_CORNERS_IMAGE_LEFT = [33, 133];
const EYE_CORNERS_IMAGE_RIGHT = [362, 263];

function mean(lm: Landmarks2D, ids: number[], axis: 0 | 1): number {
  let s = 0;
  for (const i of ids) s += lm[2 * i + axis]!;
  return s / ids.length;
}

/**
 * Crop that levels the eye line and frames the face (forehead-top to chin = faceFraction of the
 * height, centred between the eyes), tightened (up to maxZoom) and shifted to stay inside the source where it can.
 */
export function framePortrait(lm: Landmarks2D, srcWidth: number, srcHeight: number, opts: FramingOptions): CropTransform {
  const { width, height, faceFraction = 0.46, faceCentreY = 0.47, minRollDeg = 1, maxZoom = 1.35 } = opts;
  const lx = mean(lm, EYE_CORNERS_IMAGE_LEFT, 0), ly = mean(lm, EYE_CORNERS_IMAGE_LEFT, 1);
  const rx = mean(lm, EYE_CORNERS_IMAGE_RIGHT, 0), ry = mean(lm, EYE_CORNERS_IMAGE_RIGHT, 1);
  let roll = Math.atan2(ry - ly, rx - lx);
  if (Math.abs(roll) < (minRollDeg * Math.PI) / 180) roll = 0;
  const faceLen = Math.hypot(lm[2 * CHIN]! - lm[2 * FOREHEAD]!, lm[2 * CHIN + 1]! - lm[2 * FOREHEAD + 1]!);
  let scale = faceLen / (faceFraction * height); // source px per output px
  // A levelled (rotated) or large crop that does not fit in the source is tightened around the face, up to
  // maxZoom, rather than filled from outside the picture (what still lies outside is filled smoothly by sampleCrop).
  const cos = Math.abs(Math.cos(roll)), sin = Math.abs(Math.sin(roll));
  const fit = Math.min(srcWidth / (width * cos + height * sin), srcHeight / (width * sin + height * cos));
  if (scale > fit) scale = Math.max(fit, scale / maxZoom);
  const a = scale * Math.cos(roll), b = scale * Math.sin(roll);
  // Face centre: between the eyes horizontally, midway forehead-chin vertically (in the levelled frame).
  const cx = (lx + rx) / 2, cy = (lm[2 * FOREHEAD + 1]! + lm[2 * CHIN + 1]!) / 2;
  const ox = width / 2, oy = faceCentreY * height;
  let tx = cx - (a * ox - b * oy), ty = cy - (b * ox + a * oy);
  // Keep the crop inside the source when its bounding box fits (no edge smear).
  const xs = [0, width].flatMap((x) => [0, height].map((y) => a * x - b * y + tx));
  const ys = [0, width].flatMap((x) => [0, height].map((y) => b * x + a * y + ty));
  tx += shiftInside(Math.min(...xs), Math.max(...xs), srcWidth);
  ty += shiftInside(Math.min(...ys), Math.max(...ys), srcHeight);
  return { a, b, tx, ty };
}

function shiftInside(lo: number, hi: number, size: number): number {
  if (hi - lo > size) return 0;
  if (lo < 0) return -lo;
  if (hi > size) return size - hi;
  return 0;
}

/** Map source-pixel landmarks into the output frame (inverse of the crop transform). */
export function landmarksToOutput(lm: Landmarks2D, t: CropTransform): Landmarks2D {
  const det = t.a * t.a + t.b * t.b;
  const out = new Float32Array(lm.length);
  for (let i = 0; i < lm.length; i += 2) {
    const dx = lm[i]! - t.tx, dy = lm[i + 1]! - t.ty;
    out[i] = (t.a * dx + t.b * dy) / det;
    out[i + 1] = (-t.b * dx + t.a * dy) / det;
  }
  return out;
}
