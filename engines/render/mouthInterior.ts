import type { Landmarks2D, RgbaImage } from '../types.ts';

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

/** Colours of the synthetic mouth interior, derived once per portrait from its skin tone. */
export class MouthPalette {
  /** Upper-teeth colour, RGB. */
  readonly teeth: Float32Array;
  /** Deepest cavity colour and the lighter tongue colour near the lower lip, RGB. */
  readonly cavity: Float32Array;
  readonly tongue: Float32Array;

  constructor(skin: [number, number, number]) {
    const luma = 0.299 * skin[0] + 0.587 * skin[1] + 0.114 * skin[2];
    const light = Math.min(1.05, Math.max(0.5, luma / 160)); // teeth in shade of a dark face are darker too
    this.teeth = Float32Array.from([232 * light, 226 * light, 214 * light]);
    this.cavity = Float32Array.from([skin[0] * 0.22, skin[1] * 0.1, skin[2] * 0.1]);
    this.tongue = Float32Array.from([skin[0] * 0.55, skin[1] * 0.28, skin[2] * 0.28]);
  }

  /**
   * Synthetic interior colour into out[0..2]. dUpper/dLower: distance below the upper / above the
   * lower inner lip, px; teethPx: teeth band height; across: 0..1 corner to corner.
   */
  shade(dUpper: number, dLower: number, teethPx: number, across: number, out: Float32Array): void {
    const edge = 2 * across - 1;
    const cornerShade = 1 - 0.55 * edge * edge; // the corners are deeper in shadow
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
