import { readFileSync } from 'node:fs';
import { NUM_LANDMARKS, type Landmarks2D, type RgbaImage } from '../../types.ts';

/**
 * The neural renderer's pose input: face-mesh landmarks drawn as lines on black (AniPortrait's
 * landmark image), one colour per part, upper and lower lips in distinct colours. Pure TS; also
 * usable as a debug video.
 */

/** Face parts drawn, in drawing order (later parts paint over earlier ones). */
export const LANDMARK_PARTS = Object.freeze(['face_oval', 'nose', 'left_eyebrow', 'right_eyebrow', 'left_eye', 'right_eye', 'upper_lip', 'lower_lip'] as const);

/** One drawn face part. */
export type LandmarkPart = (typeof LANDMARK_PARTS)[number];

/** RGB colour of each part. */
export const LANDMARK_COLOURS: Readonly<Record<LandmarkPart, readonly [number, number, number]>> = Object.freeze({
  face_oval: [200, 200, 200],
  nose: [255, 255, 0],
  left_eyebrow: [0, 255, 0],
  right_eyebrow: [0, 255, 128],
  left_eye: [0, 128, 255],
  right_eye: [0, 255, 255],
  upper_lip: [255, 0, 0],
  lower_lip: [255, 0, 255],
});

interface Groups {
  edges: Record<string, [number, number][]>;
  contours: Record<string, number[]>;
}

function polylineEdges(ids: readonly number[]): [number, number][] {
  return ids.slice(1).map((id, i) => [ids[i]!, id]);
}

/** Edges (landmark index pairs) of each part, from engines/motion/data/landmark_groups.json. */
export const LANDMARK_PART_EDGES: Readonly<Record<LandmarkPart, readonly (readonly [number, number])[]>> = (() => {
  const g = JSON.parse(readFileSync(new URL('../../motion/data/landmark_groups.json', import.meta.url), 'utf8')) as Groups;
  const c = g.contours;
  return Object.freeze({
    face_oval: g.edges.face_oval!,
    nose: g.edges.nose!,
    left_eyebrow: g.edges.left_eyebrow!,
    right_eyebrow: g.edges.right_eyebrow!,
    left_eye: g.edges.left_eye!,
    right_eye: g.edges.right_eye!,
    upper_lip: [...polylineEdges(c.lips_outer_upper!), ...polylineEdges(c.lips_inner_upper!)],
    lower_lip: [...polylineEdges(c.lips_outer_lower!), ...polylineEdges(c.lips_inner_lower!)],
  });
})();

/** Size and stroke of a landmark image. */
export interface LandmarkImageOptions {
  /** Image size, px. */
  width: number;
  height: number;
  /** Line width, px. Default max(1, round(width / 256)). */
  thickness?: number;
}

/** Fill a thick segment (a capsule of radius r around a-b) with `rgb`. */
function drawSegment(img: RgbaImage, ax: number, ay: number, bx: number, by: number, r: number, rgb: readonly [number, number, number]): void {
  const { width, height, data } = img;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r)), x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + r));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r)), y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by) + r));
  const dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, r2 = r * r;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5 - ay;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax;
      const t = len2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2)) : 0;
      const ex = px - t * dx, ey = py - t * dy;
      if (ex * ex + ey * ey > r2) continue;
      const o = (y * width + x) * 4;
      data[o] = rgb[0];
      data[o + 1] = rgb[1];
      data[o + 2] = rgb[2];
    }
  }
}

/** Draw `landmarks` (468 points, px) as coloured lines on black; into `out` when given (cleared first). */
export function drawLandmarkImage(landmarks: Landmarks2D, options: LandmarkImageOptions, out?: RgbaImage): RgbaImage {
  const { width, height } = options;
  if (landmarks.length < NUM_LANDMARKS * 2) throw new TypeError(`landmark image needs ${NUM_LANDMARKS} landmarks, got ${landmarks.length / 2}`);
  const img = out ?? { width, height, data: new Uint8Array(width * height * 4) };
  if (img.width !== width || img.height !== height || img.data.length !== width * height * 4) throw new TypeError(`output must be ${width}x${height} RGBA`);
  img.data.fill(0);
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  const r = (options.thickness ?? Math.max(1, Math.round(width / 256))) / 2;
  for (const part of LANDMARK_PARTS) {
    const rgb = LANDMARK_COLOURS[part];
    for (const [a, b] of LANDMARK_PART_EDGES[part]) {
      drawSegment(img, landmarks[2 * a]!, landmarks[2 * a + 1]!, landmarks[2 * b]!, landmarks[2 * b + 1]!, r, rgb);
    }
  }
  return img;
}

/**
 * Write an RGBA image's RGB as float planes: channel c, pixel p goes to
 * `out[offset + c * channelStride + p]`, scaled by `scale` and shifted by `bias` (value * scale + bias).
 */
export function rgbaToPlanes(img: RgbaImage, out: Float32Array, offset: number, channelStride: number, scale = 1 / 255, bias = 0): void {
  const n = img.width * img.height, d = img.data;
  for (let c = 0; c < 3; c++) {
    const base = offset + c * channelStride;
    for (let p = 0; p < n; p++) out[base + p] = d[4 * p + c]! * scale + bias;
  }
}
