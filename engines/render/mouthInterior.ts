import type { Landmarks2D, RgbaImage } from '../types.ts';
import type { WarpMesh } from './warpMesh.ts';

/** Cheek and chin landmarks whose neighbourhood gives the skin tone that lights the mouth interior. */
const SKIN_SAMPLE_IDS = [205, 425, 50, 280, 200, 18];

/** Mean RGB (0..255) of 5x5 patches of skin around the mouth. */
export function skinTone(image: RgbaImage, lm: Landmarks2D): [number, number, number] {
  let r = 0, g = 0, b = 0, n = 0;
  for (const id of SKIN_SAMPLE_IDS) {
    const cx = Math.round(lm[2 * id]!), cy = Math.round(lm[2 * id + 1]!);
    for (let y = cy - 2; y <= cy + 2; y++) {
      for (let x = cx - 2; x <= cx + 2; x++) {
        if (x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
        const i = (y * image.width + x) * 4;
        r += image.data[i]!; g += image.data[i + 1]!; b += image.data[i + 2]!; n++;
      }
    }
  }
  return n > 0 ? [r / n, g / n, b / n] : [180, 140, 120];
}

/**
 * Colour of the teeth the reference shows (mean of the brightest third of its lip gap), or undefined
 * when its lips are (nearly) closed: synthetic teeth then match the real ones.
 */
export function referenceTeeth(image: RgbaImage, mesh: WarpMesh): [number, number, number] | undefined {
  const { lipUpper, lipLower, refXY } = mesh;
  const px: [number, number, number, number][] = [];
  for (let i = 2; i < lipUpper.length - 2; i++) {
    const ux = refXY[2 * lipUpper[i]!]!, uy = refXY[2 * lipUpper[i]! + 1]!, lx = refXY[2 * lipLower[i]!]!, ly = refXY[2 * lipLower[i]! + 1]!;
    const n = Math.floor(Math.hypot(lx - ux, ly - uy));
    for (let k = 1; k < n; k++) {
      const x = Math.floor(ux + ((lx - ux) * k) / n), y = Math.floor(uy + ((ly - uy) * k) / n);
      if (x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
      const o = (y * image.width + x) * 4, d = image.data;
      px.push([0.299 * d[o]! + 0.587 * d[o + 1]! + 0.114 * d[o + 2]!, d[o]!, d[o + 1]!, d[o + 2]!]);
    }
  }
  if (px.length < 20) return undefined;
  px.sort((a, b) => b[0] - a[0]);
  const top = px.slice(0, Math.ceil(px.length / 3));
  const mean = (c: 1 | 2 | 3) => top.reduce((s, p) => s + p[c], 0) / top.length;
  const teeth: [number, number, number] = [mean(1), mean(2), mean(3)];
  // Only bright, low-saturation pixels are teeth; a dark gap is no evidence.
  return top[top.length - 1]![0] > 120 && Math.max(...teeth) - Math.min(...teeth) < 60 ? teeth : undefined;
}

/** Colours of the synthetic mouth interior, derived once per portrait from its skin tone. */
export class MouthPalette {
  /** Upper-teeth colour, RGB. */
  readonly teeth: Float32Array;
  /** Deepest cavity colour and the lighter tongue colour near the lower lip, RGB. */
  readonly cavity: Float32Array;
  readonly tongue: Float32Array;

  /** skin: mean skin RGB; teeth: the reference's own teeth colour when it shows them. */
  constructor(skin: [number, number, number], teeth?: [number, number, number]) {
    const luma = 0.299 * skin[0] + 0.587 * skin[1] + 0.114 * skin[2];
    const light = Math.min(1.05, Math.max(0.5, luma / 160)); // teeth in shade of a dark face are darker too
    this.teeth = Float32Array.from(teeth ?? [232 * light, 226 * light, 214 * light]);
    this.cavity = Float32Array.from([skin[0] * 0.22, skin[1] * 0.1, skin[2] * 0.1]);
    this.tongue = Float32Array.from([skin[0] * 0.55, skin[1] * 0.28, skin[2] * 0.28]);
  }

  /**
   * Synthetic interior colour into out[0..2]. dUpper/dLower: distance below the upper / above the
   * lower inner lip, px; teethPx: teeth band height; across: 0..1 corner to corner; openness: lip
   * gap / mouth width (lower teeth show from about 0.25).
   */
  shade(dUpper: number, dLower: number, teethPx: number, across: number, openness: number, out: Float32Array): void {
    const edge = 2 * across - 1;
    const cornerShade = 1 - 0.55 * edge * edge; // the corners are deeper in shadow
    const lowerPx = teethPx * 0.55 * Math.min(1, Math.max(0, (openness - 0.25) * 5));
    if (lowerPx > 0 && dLower < lowerPx && dUpper >= teethPx) {
      // Lower teeth: only their edges show above the lower lip, brightest at the top, in the lip's shadow below.
      const k = cornerShade * (0.55 + 0.25 * (dLower / lowerPx));
      const fade = Math.min(1, Math.max(0, lowerPx - dLower)) * 0.85;
      for (let c = 0; c < 3; c++) out[c] = this.tongue[c]! * cornerShade + (this.teeth[c]! * k - this.tongue[c]! * cornerShade) * fade;
      return;
    }
    if (dUpper < teethPx) {
      // Teeth get darker towards their lower edge and fade into the cavity over the last pixel.
      const k = cornerShade * (1 - 0.25 * (dUpper / teethPx));
      const fade = Math.min(1, Math.max(0, teethPx - dUpper));
      for (let c = 0; c < 3; c++) out[c] = this.cavity[c]! + (this.teeth[c]! * k - this.cavity[c]!) * fade;
      return;
    }
    const t = Math.max(0, 1 - dLower / Math.max(1, dUpper + dLower - teethPx)); // 0 below the teeth .. 1 at the lower lip
    const w = t * t;
    for (let c = 0; c < 3; c++) out[c] = (this.cavity[c]! + (this.tongue[c]! - this.cavity[c]!) * w) * cornerShade;
  }
}

/** Outer lip contour (MediaPipe ids), corner 61 over the upper lip to corner 291, then back along the lower lip. */
const OUTER_LIPS = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146];

/** The reference's mouth region repainted as closed lips: rows y0.., columns x0.., RGBA, w x h. */
export interface SealedLips {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Uint8Array;
}

function inPolygon(x: number, y: number, xy: ArrayLike<number>, ids: number[]): boolean {
  let inside = false;
  for (let i = 0, j = ids.length - 1; i < ids.length; j = i++) {
    const xi = xy[2 * ids[i]!]!, yi = xy[2 * ids[i]! + 1]!, xj = xy[2 * ids[j]!]!, yj = xy[2 * ids[j]! + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * The reference's lips as they look closed: its lip opening (teeth, cavity) and the dark mouth-corner
 * shadows around it (which reach past the inner-lip landmarks and would otherwise be squeezed into
 * dark wedges when the lips seal) painted over by diffusing the surrounding lip colour inwards.
 * Undefined when the reference's lips are closed already.
 */
export function sealedLips(image: RgbaImage, mesh: WarpMesh): SealedLips | undefined {
  const { lipUpper, lipLower, refXY: xy } = mesh;
  let maxGap = 0;
  for (let i = 0; i < lipUpper.length; i++) {
    maxGap = Math.max(maxGap, Math.hypot(xy[2 * lipLower[i]!]! - xy[2 * lipUpper[i]!]!, xy[2 * lipLower[i]! + 1]! - xy[2 * lipUpper[i]! + 1]!));
  }
  if (maxGap < 3) return undefined;
  const inner = [...lipUpper, ...lipLower.slice(1, -1).reverse()];
  let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
  for (const id of OUTER_LIPS) {
    bx0 = Math.min(bx0, xy[2 * id]!); bx1 = Math.max(bx1, xy[2 * id]!);
    by0 = Math.min(by0, xy[2 * id + 1]!); by1 = Math.max(by1, xy[2 * id + 1]!);
  }
  const pad = Math.ceil(0.06 * (bx1 - bx0)) + 2;
  const x0 = Math.max(0, Math.floor(bx0) - pad), y0 = Math.max(0, Math.floor(by0) - 2);
  const x1 = Math.min(image.width, Math.ceil(bx1) + pad), y1 = Math.min(image.height, Math.ceil(by1) + 2);
  const w = x1 - x0, h = y1 - y0;
  if (w < 4 || h < 4) return undefined;
  const src = image.data, W = image.width;
  const luma = (o: number) => 0.299 * src[o]! + 0.587 * src[o + 1]! + 0.114 * src[o + 2]!;
  // Lip tone: the brighter half of the lip band (between the inner and outer contours).
  const lips: number[] = [];
  const opening = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x0 + x + 0.5, py = y0 + y + 0.5;
      if (inPolygon(px, py, xy, inner)) opening[y * w + x] = 1;
      else if (inPolygon(px, py, xy, OUTER_LIPS)) lips.push(luma(((y0 + y) * W + x0 + x) * 4));
    }
  }
  if (lips.length < 20) return undefined;
  lips.sort((a, b) => a - b);
  const lipLuma = lips[Math.floor(lips.length * 0.6)]!;
  // Paint over the opening and every clearly dark pixel of the region (the corner shadows), 1 px dilated.
  const dark = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if (opening[y * w + x] || luma(((y0 + y) * W + x0 + x) * 4) < 0.7 * lipLuma) dark[y * w + x] = 1;
  }
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let dy = -1; dy <= 1 && !m; dy++) for (let dx = -1; dx <= 1; dx++) if (dark[Math.min(h - 1, Math.max(0, y + dy)) * w + Math.min(w - 1, Math.max(0, x + dx))]) { m = 1; break; }
      // The region's border stays as it is, so the repaint meets the untouched image continuously.
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) m = 0;
      mask[y * w + x] = m;
    }
  }
  const data = new Uint8Array(w * h * 4);
  const f = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = ((y0 + y) * W + x0 + x) * 4, k = y * w + x;
      for (let c = 0; c < 3; c++) f[3 * k + c] = src[o + c]!;
    }
  }
  // Membrane fill: masked pixels relax to the mean of their 4 neighbours (fixed unmasked ones at the rim).
  const idx: number[] = [];
  for (let k = 0; k < w * h; k++) if (mask[k]) idx.push(k);
  for (let it = 0; it < 300; it++) {
    for (const k of idx) {
      for (let c = 0; c < 3; c++) f[3 * k + c] = 0.25 * (f[3 * (k - 1) + c]! + f[3 * (k + 1) + c]! + f[3 * (k - w) + c]! + f[3 * (k + w) + c]!);
    }
  }
  for (let k = 0; k < w * h; k++) {
    for (let c = 0; c < 3; c++) data[4 * k + c] = f[3 * k + c]! + 0.5;
    data[4 * k + 3] = 255;
  }
  return { x0, y0, w, h, data };
}
