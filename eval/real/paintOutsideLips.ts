/**
 * "Paint outside the lips": mouth-interior-dark pixels that a renderer drew outside the mouth.
 *
 * On a frame with its MediaPipe measurement (478 landmarks in the frame's pixels), look at the lower face: inside
 * the face oval shrunk by OVAL_INSET towards its centre (so hair, collar and background at the jaw line stay out),
 * on the chin side of a line perpendicular to the nose-chin axis (1 -> 152, so roll is handled) that crosses the
 * axis NOSE_CLEARANCE of the way from the bottom of the nose (2) to the top of the upper lip (0), below the
 * nostrils, and within AROUND_LIPS x mouth width (61-291) of the outer-lip contour (the skin next to the mouth,
 * not the face's edges, where hair and background move in and out of the oval as the jaw moves). Pixels within the
 * outer-lip contour dilated by LIP_DILATE x mouth width are the mouth and are ignored. The rest is "skin"; a skin
 * pixel is dark when its brightness, max(R, G, B), is under DARK_FRACTION x the median brightness of all skin pixels
 * (max rather than luma: lip red and lipstick smeared a little past the contour have a bright R and are not
 * mouth-interior dark; the interior, teeth shadow and a black gap are dark in every channel). Their count is `dark`.
 * Of those, `interior` counts the ones coloured as a mouth interior: near black (brightness under NEAR_BLACK x the
 * skin's) or deep red (luma under INTERIOR_DARK x the skin's, red at least INTERIOR_RED x green and blue). A beard,
 * a moustache or a lip shadow that the animation stretches is dark but brown or grey, not a cavity.
 *
 * A beard, a shadow or a dark background inside the oval is the portrait's own: pass the portrait's result (or its
 * `interior` count) as `baseline`; a frame is flagged when `interior - baseline` exceeds
 * max(MIN_EXCESS_PX, MIN_EXCESS_OF_MOUTH_AREA x mouth width^2).
 */
import type { FaceMeasurement } from '../measure/FaceMeasurer.ts';
import { LIPS_OUTER } from '../../engines/util/landmarkPolygon.ts';

/** MediaPipe outer-lip contour, in order around the mouth. */
export { LIPS_OUTER };
/** MediaPipe face oval, in order. */
export const FACE_OVAL: readonly number[] = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234,
  127, 162, 21, 54, 103, 67, 109,
];
/** The face oval is shrunk towards its centroid by this fraction. */
export const OVAL_INSET = 0.08;
/** The region starts this fraction of the way from the nose bottom (2) to the upper lip top (0). */
export const NOSE_CLEARANCE = 0.35;
/** Only pixels this many mouth widths or less from the outer-lip contour are examined. */
export const AROUND_LIPS = 0.4;
/** The outer-lip polygon is dilated by this fraction of the mouth width. */
export const LIP_DILATE = 0.06;
/** Dark = brightness (max of R, G, B) under this fraction of the median skin brightness of the lower face. */
export const DARK_FRACTION = 0.45;
/** Near black: brightness under this fraction of the skin's. */
export const NEAR_BLACK = 0.2;
/** Deep red of a cavity or tongue in shadow: red at least this many times green and blue, luma under INTERIOR_DARK x the skin's. */
export const INTERIOR_RED = 1.8;
export const INTERIOR_DARK = 0.3;
/** A frame is flagged when the excess dark pixels exceed the larger of these. */
export const MIN_EXCESS_PX = 12;
export const MIN_EXCESS_OF_MOUTH_AREA = 0.004;

/** What paintOutsideLips found in one frame. */
export interface PaintOutsideLips {
  /** a face was measured (otherwise every count is 0 and flagged is false) */
  measured: boolean;
  /** lower-face skin pixels examined (outside the dilated lips) */
  region: number;
  /** median luma (0.299 R + 0.587 G + 0.114 B, 0-255) of those pixels */
  skinLuma: number;
  /** median brightness, max(R, G, B) 0-255, of those pixels: `dark` is under DARK_FRACTION of this */
  skinLevel: number;
  /** dark pixels among them */
  dark: number;
  /** dark pixels coloured as a mouth interior (near black or deep red) */
  interior: number;
  /** interior - baseline (interior when no baseline) */
  excess: number;
  /** excess above the threshold for this face size */
  flagged: boolean;
  /** the threshold, px */
  threshold: number;
}

type Pt = [number, number];

function pointInPolygon(x: number, y: number, poly: readonly Pt[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!, [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function distToPolygonEdge(x: number, y: number, poly: readonly Pt[]): number {
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [ax, ay] = poly[j]!, [bx, by] = poly[i]!;
    const dx = bx - ax, dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2)) : 0;
    best = Math.min(best, Math.hypot(x - (ax + t * dx), y - (ay + t * dy)));
  }
  return best;
}

/**
 * Count mouth-interior-dark pixels outside the lips in the lower face of `frame` (RGBA), using `measurement`
 * (MediaPipe landmarks of that frame). `baseline`: the same count on the still portrait (a number or its result).
 * `mask` (width x height bytes), when given, is set to 1 on the examined skin pixels and 2 on the dark ones.
 */
export function paintOutsideLips(
  frame: { width: number; height: number; data: Uint8Array },
  measurement: Pick<FaceMeasurement, 'found' | 'landmarks'>,
  baseline: number | PaintOutsideLips = 0,
  mask?: Uint8Array,
): PaintOutsideLips {
  const { width: W, height: H, data } = frame;
  const l = measurement.landmarks;
  if (!measurement.found || l.length < 478 * 3) return { measured: false, region: 0, skinLuma: Number.NaN, skinLevel: Number.NaN, dark: 0, interior: 0, excess: 0, flagged: false, threshold: 0 };
  const pt = (i: number): Pt => [l[3 * i]!, l[3 * i + 1]!];
  const lips = LIPS_OUTER.map(pt);
  const rawOval = FACE_OVAL.map(pt);
  const ox = rawOval.reduce((s, p) => s + p[0], 0) / rawOval.length, oy = rawOval.reduce((s, p) => s + p[1], 0) / rawOval.length;
  const oval = rawOval.map(([x, y]): Pt => [ox + (1 - OVAL_INSET) * (x - ox), oy + (1 - OVAL_INSET) * (y - oy)]);
  const [tx, ty] = pt(1), [cx, cy] = pt(152), [bx, by] = pt(2), [ux, uy] = pt(0);
  const nx = bx + NOSE_CLEARANCE * (ux - bx), ny = by + NOSE_CLEARANCE * (uy - by);
  const mouthW = Math.hypot(pt(61)[0] - pt(291)[0], pt(61)[1] - pt(291)[1]);
  const dilate = LIP_DILATE * mouthW;
  // Nose-to-chin axis: a pixel is in the lower face when its projection on it is past (nx, ny).
  const ax = cx - tx, ay = cy - ty;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of oval) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  let lx0 = Infinity, lx1 = -Infinity, ly0 = Infinity, ly1 = -Infinity;
  for (const [x, y] of lips) {
    lx0 = Math.min(lx0, x); lx1 = Math.max(lx1, x); ly0 = Math.min(ly0, y); ly1 = Math.max(ly1, y);
  }
  const around = AROUND_LIPS * mouthW;
  const xa = Math.max(0, Math.floor(Math.max(x0, lx0 - around))), xb = Math.min(W - 1, Math.ceil(Math.min(x1, lx1 + around)));
  const ya = Math.max(0, Math.floor(Math.max(y0, ly0 - around))), yb = Math.min(H - 1, Math.ceil(Math.min(y1, ly1 + around)));
  const levels: number[] = [];
  const lumas: number[] = [];
  const pixels: number[] = [];
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const px = x + 0.5, py = y + 0.5;
      if ((px - nx) * ax + (py - ny) * ay < 0) continue;
      if (!pointInPolygon(px, py, oval)) continue;
      if (pointInPolygon(px, py, lips)) continue;
      const d = distToPolygonEdge(px, py, lips);
      if (d <= dilate || d > around) continue;
      const o = 4 * (y * W + x);
      levels.push(Math.max(data[o]!, data[o + 1]!, data[o + 2]!));
      lumas.push(0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]!);
      pixels.push(y * W + x);
    }
  }
  const threshold = Math.max(MIN_EXCESS_PX, MIN_EXCESS_OF_MOUTH_AREA * mouthW * mouthW);
  if (levels.length === 0) return { measured: true, region: 0, skinLuma: Number.NaN, skinLevel: Number.NaN, dark: 0, interior: 0, excess: 0, flagged: false, threshold };
  const median = (xs: number[]): number => Float64Array.from(xs).sort()[Math.floor(xs.length / 2)]!;
  const skinLevel = median(levels);
  const skinLuma = median(lumas);
  const cut = DARK_FRACTION * skinLevel;
  let dark = 0;
  let interior = 0;
  levels.forEach((v, k) => {
    if (v < cut) {
      dark++;
      const o = 4 * pixels[k]!;
      const deepRed = lumas[k]! < INTERIOR_DARK * skinLuma && data[o]! >= INTERIOR_RED * Math.max(data[o + 1]!, data[o + 2]!, 4);
      if (v < NEAR_BLACK * skinLevel || deepRed) interior++;
    }
    if (mask) mask[pixels[k]!] = v < cut ? 2 : 1;
  });
  const base = typeof baseline === 'number' ? baseline : baseline.interior;
  const excess = interior - base;
  return { measured: true, region: levels.length, skinLuma, skinLevel, dark, interior, excess, flagged: excess > threshold, threshold };
}
