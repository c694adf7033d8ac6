import type { Landmarks2D, RgbaImage } from '../types.ts';
import { inLandmarkPolygon, LIPS_OUTER } from '../util/landmarkPolygon.ts';
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

/** Upper teeth shown across the mouth's middle, corner to corner (about 10, the first molars hidden in the corners). */
const TEETH_ACROSS = 5.2;

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
    const light = Math.min(1.05, Math.max(0.55, luma / 150)); // teeth in shade of a dark face are darker too
    this.teeth = Float32Array.from(teeth ?? [236 * light, 230 * light, 218 * light]);
    this.cavity = Float32Array.from([skin[0] * 0.3, skin[1] * 0.12, skin[2] * 0.12]);
    this.tongue = Float32Array.from([skin[0] * 0.85, skin[1] * 0.47, skin[2] * 0.47]);
  }

  /**
   * Synthetic interior colour into out[0..2]. dUpper/dLower: distance below the upper / above the
   * lower inner lip, px; teethPx: upper-teeth band height at the middle of the mouth; across: 0..1 corner
   * to corner; openness: lip gap / mouth width. Upper teeth show under the upper lip across the middle of the
   * mouth and recede into shadow toward the corners; a rounded tongue lies above the lower lip; the cavity is
   * darkest at the back (between them) and in the corners. Every boundary is blended over about a pixel.
   */
  shade(dUpper: number, dLower: number, teethPx: number, across: number, openness: number, out: Float32Array): void {
    const e = 2 * across - 1, e2 = e * e;
    const cornerShade = 1 - 0.6 * e2 * e2; // the corners are deeper in shadow
    const gap = dUpper + dLower;
    // Cavity: darkest at the back, lighter where light reaches in past the lips.
    const near = Math.max(clamp01(1 - dUpper / (0.3 * gap + 2)), clamp01(1 - dLower / (0.3 * gap + 2)));
    const cav = cornerShade * (0.65 + 0.7 * near * near);
    let r = this.cavity[0]! * cav, g = this.cavity[1]! * cav, b = this.cavity[2]! * cav;
    // Tongue: a dome over the lower lip, up to ~45 % of the gap in the middle, lit at the front, soft-edged.
    const dome = Math.sqrt(Math.max(0, 1 - e2 / 0.75));
    const tongueH = Math.min(0.45 * gap, 2 * teethPx * Math.min(1, openness * 3)) * dome;
    if (tongueH > 0.5) {
      const f = clamp01((tongueH - dLower) / 2);
      if (f > 0) {
        const k = cornerShade * (1 - 0.5 * clamp01(dLower / tongueH));
        r += (this.tongue[0]! * k - r) * f; g += (this.tongue[1]! * k - g) * f; b += (this.tongue[2]! * k - b) * f;
      }
    }
    // Lower teeth: the tips show just above the lower lip in wide openings, in the middle.
    const lowerPx = teethPx * 0.45 * clamp01((openness - 0.28) * 5) * clamp01((0.6 - Math.abs(e)) * 4);
    if (lowerPx > 0.3) {
      const f = clamp01(lowerPx - dLower) * 0.8;
      if (f > 0) {
        const k = cornerShade * (0.6 + 0.2 * clamp01(dLower / lowerPx));
        r += (this.teeth[0]! * k - r) * f; g += (this.teeth[1]! * k - g) * f; b += (this.teeth[2]! * k - b) * f;
      }
    }
    // Upper teeth under the upper lip, no more than ~45 % of the gap, narrowing toward the corners: separate teeth
    // (narrower toward the corners, as the arch turns away), with a faint gap between them and rounded tips.
    const q = (TEETH_ACROSS * e) / (1 + 0.6 * Math.abs(e));
    const fq = Math.abs(q - Math.round(q)); // 0 at a boundary between two teeth .. 0.5 mid-tooth
    const toothPx = (5 * teethPx * (1 + 0.6 * Math.abs(e)) * (1 + 0.6 * Math.abs(e))) / TEETH_ACROSS; // px per tooth
    const tip = 1 - 2 * fq;
    const upperPx = Math.min(teethPx, 0.45 * gap) * clamp01((0.85 - Math.abs(e)) * 3.5) * (1 - 0.22 * tip * tip * tip * tip);
    if (upperPx > 0.3) {
      const f = clamp01(upperPx - dUpper);
      if (f > 0) {
        // In the lip's shadow at the top, a little darker toward the biting edge, the corners and between the teeth.
        const between = 1 - 0.28 * clamp01(1 - (fq * toothPx) / 0.9);
        const k = (1 - 0.5 * e2) * (0.8 + 0.2 * clamp01(dUpper / 1.5)) * (1 - 0.18 * clamp01(dUpper / upperPx)) * between;
        r += (this.teeth[0]! * k - r) * f; g += (this.teeth[1]! * k - g) * f; b += (this.teeth[2]! * k - b) * f;
      }
    }
    out[0] = r; out[1] = g; out[2] = b;
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}


/**
 * Mean gap of the middle inner-lip columns, as a fraction of the inner mouth width, from which the lips count as apart.
 * The refined ingest landmarks read lips that MediaPipe sees closed as 0.029 apart on average (rms 0.042), and the dark
 * seam between closed lips passes the image test below: at 0.05 such portraits (s0, edtalk_identity_source, demo3)
 * counted as open, their "interior" was lip, and small openings stayed shut. Lips really apart by less read as closed
 * and show the synthetic interior as soon as they part, which costs far less.
 */
const MIN_OPENING = 0.07;
/** Share of the opening's pixels that must look like cavity or teeth for the reference's lips to count as apart. */
const MIN_OPENING_SHOWN = 0.04;

/** The reference's mouth region repainted as closed lips: rows y0.., columns x0.., RGBA, w x h. */
export interface SealedLips {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Uint8Array;
}


/**
 * The reference's lips as they look closed: its lip opening (teeth, cavity) and the dark mouth-corner
 * shadows around it (which reach past the inner-lip landmarks and would otherwise be squeezed into
 * dark wedges when the lips seal) painted over by diffusing the surrounding lip colour inwards.
 * Undefined when the reference's lips are closed already.
 */
export function sealedLips(image: RgbaImage, mesh: WarpMesh): SealedLips | undefined {
  const { lipUpper, lipLower, refXY: xy } = mesh;
  // Lips that (nearly) meet already show their own seam; only a real opening is painted over.
  let sumGap = 0;
  for (let i = 2; i < lipUpper.length - 2; i++) {
    sumGap += Math.hypot(xy[2 * lipLower[i]!]! - xy[2 * lipUpper[i]!]!, xy[2 * lipLower[i]! + 1]! - xy[2 * lipUpper[i]! + 1]!);
  }
  const mouthWidth = Math.hypot(xy[2 * lipUpper.at(-1)!]! - xy[2 * lipUpper[0]!]!, xy[2 * lipUpper.at(-1)! + 1]! - xy[2 * lipUpper[0]! + 1]!);
  if (sumGap / (lipUpper.length - 4) < Math.max(2.5, MIN_OPENING * mouthWidth)) return undefined;
  const inner = [...lipUpper, ...lipLower.slice(1, -1).reverse()];
  let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
  for (const id of LIPS_OUTER) {
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
  // Lip tone of the repaint thresholds below: a bright percentile of everything inside the outer lip contour (the
  // opening included, as they were tuned). The opening test needs the tone of the lips alone (`band`): an opening
  // judged against a tone that contains it would pass itself.
  const lips: number[] = [];
  const band: number[] = [];
  // 2: the lip opening; 1: near a mouth corner (where its shadow reaches past the landmarks); 3: the rest of the lips.
  const region = new Uint8Array(w * h);
  const cornerR = 0.08 * (bx1 - bx0) + 1.5;
  const corners = [61, 291, lipUpper[0]!, lipUpper.at(-1)!];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x0 + x + 0.5, py = y0 + y + 0.5;
      const lip = inLandmarkPolygon(px, py, xy, LIPS_OUTER);
      const opening = inLandmarkPolygon(px, py, xy, inner);
      const l = luma(((y0 + y) * W + x0 + x) * 4);
      if (lip) lips.push(l);
      if (lip && !opening) band.push(l);
      if (opening) region[y * w + x] = 2;
      else if (corners.some((id) => Math.hypot(px - xy[2 * id]!, py - xy[2 * id + 1]!) < cornerR)) region[y * w + x] = 1;
      else if (lip) region[y * w + x] = 3;
    }
  }
  if (lips.length < 20) return undefined;
  lips.sort((a, b) => a - b);
  const lipLuma = lips[Math.floor(lips.length * 0.6)]!;
  // An opening shows cavity or teeth. A "gap" with (nearly) neither is lip and seam that the detector read as apart
  // (thin, low-contrast lips): the lips are closed, and the synthetic interior must show as soon as they part.
  band.sort((a, b) => a - b);
  const bandLuma = band.length ? band[Math.floor(band.length * 0.6)]! : lipLuma;
  let inGap = 0, shown = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (region[y * w + x] !== 2) continue;
      const o = ((y0 + y) * W + x0 + x) * 4, l = luma(o);
      const chroma = Math.max(src[o]!, src[o + 1]!, src[o + 2]!) - Math.min(src[o]!, src[o + 1]!, src[o + 2]!);
      inGap++;
      if (l < 0.6 * bandLuma || (l > 1.15 * bandLuma && chroma < 0.35 * l)) shown++;
    }
  }
  if (inGap > 0 && shown < MIN_OPENING_SHOWN * inGap) return undefined;
  // Paint over the opening, every clearly dark pixel near the corners (the corner shadows) and the lips' darkest (the
  // shadow of an opening the lip contours miss; the lips keep their own shading), 1 px dilated.
  const dark = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = y * w + x;
      const l = luma(((y0 + y) * W + x0 + x) * 4);
      if (region[k] === 2 || (region[k] === 1 && l < 0.7 * lipLuma) || (region[k] === 3 && l < 0.45 * lipLuma)) dark[k] = 1;
    }
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
