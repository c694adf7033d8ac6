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
