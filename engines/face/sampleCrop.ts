import type { RgbaImage } from '../types.ts';
import type { CropTransform } from './portraitCrop.ts';

/**
 * Resample `src` through a similarity transform (output px -> source px) into a width x height
 * RGBA image, bilinear, edges clamped. Pixel (x, y) is the point (x + 0.5, y + 0.5).
 */
export function sampleCrop(src: RgbaImage, t: CropTransform, width: number, height: number): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  const sw = src.width, sh = src.height, s = src.data;
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5, py = y + 0.5;
      let u = t.a * px - t.b * py + t.tx - 0.5;
      let v = t.b * px + t.a * py + t.ty - 0.5;
      u = u < 0 ? 0 : u > sw - 1 ? sw - 1 : u;
      v = v < 0 ? 0 : v > sh - 1 ? sh - 1 : v;
      const x0 = Math.floor(u), y0 = Math.floor(v);
      const x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
      const fx = u - x0, fy = v - y0;
      const i00 = (y0 * sw + x0) * 4, i01 = (y0 * sw + x1) * 4, i10 = (y1 * sw + x0) * 4, i11 = (y1 * sw + x1) * 4;
      for (let c = 0; c < 4; c++) {
        const top = s[i00 + c]! + (s[i01 + c]! - s[i00 + c]!) * fx;
        const bot = s[i10 + c]! + (s[i11 + c]! - s[i10 + c]!) * fx;
        out[o++] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  return { width, height, data: out };
}
