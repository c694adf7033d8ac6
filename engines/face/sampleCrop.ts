import type { RgbaImage } from '../types.ts';
import type { CropTransform } from './portraitCrop.ts';

/**
 * Resample `src` through a similarity transform (output px -> source px) into a width x height
 * RGBA image, bilinear. Pixel (x, y) is the point (x + 0.5, y + 0.5). Output pixels that fall outside the
 * source are filled smoothly from the nearby picture (push-pull interpolation): a soft continuation rather
 * than a fill colour, a smear of the edge pixels, or a mirror image of the face.
 */
export function sampleCrop(src: RgbaImage, t: CropTransform, width: number, height: number): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  const known = new Uint8Array(width * height);
  const sw = src.width, sh = src.height, s = src.data;
  let o = 0, missing = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 4) {
      const px = x + 0.5, py = y + 0.5;
      let u = t.a * px - t.b * py + t.tx - 0.5;
      let v = t.b * px + t.a * py + t.ty - 0.5;
      // Half a pixel past the outermost pixel centres still samples the picture (its edge pixel).
      if (u < -0.5 || v < -0.5 || u > sw - 0.5 || v > sh - 0.5) { missing++; continue; }
      known[y * width + x] = 1;
      u = u < 0 ? 0 : u > sw - 1 ? sw - 1 : u;
      v = v < 0 ? 0 : v > sh - 1 ? sh - 1 : v;
      const x0 = Math.floor(u), y0 = Math.floor(v);
      const x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
      const fx = u - x0, fy = v - y0;
      const i00 = (y0 * sw + x0) * 4, i01 = (y0 * sw + x1) * 4, i10 = (y1 * sw + x0) * 4, i11 = (y1 * sw + x1) * 4;
      for (let c = 0; c < 4; c++) {
        const top = s[i00 + c]! + (s[i01 + c]! - s[i00 + c]!) * fx;
        const bot = s[i10 + c]! + (s[i11 + c]! - s[i10 + c]!) * fx;
        out[o + c] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  if (missing > 0) pushPullFill(out, known, width, height);
  return { width, height, data: out };
}

/**
 * Fill the pixels of `rgba` whose `known` flag is 0 from the known ones: a pyramid of weighted 2x2 means
 * (push), then each level's holes are filled from the bilinear upsampling of the coarser one (pull).
 */
export function pushPullFill(rgba: Uint8Array, known: Uint8Array, width: number, height: number): void {
  interface Level { w: number; h: number; c: Float32Array; a: Float32Array }
  const base: Level = { w: width, h: height, c: new Float32Array(width * height * 3), a: new Float32Array(width * height) };
  for (let i = 0; i < width * height; i++) {
    if (!known[i]) continue;
    base.a[i] = 1;
    for (let k = 0; k < 3; k++) base.c[3 * i + k] = rgba[4 * i + k]!;
  }
  const levels: Level[] = [base];
  while (levels.at(-1)!.w > 1 || levels.at(-1)!.h > 1) {
    const f = levels.at(-1)!;
    const w = Math.ceil(f.w / 2), h = Math.ceil(f.h / 2);
    const l: Level = { w, h, c: new Float32Array(w * h * 3), a: new Float32Array(w * h) };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sa = 0, r = 0, g = 0, b = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const fx = 2 * x + dx, fy = 2 * y + dy;
            if (fx >= f.w || fy >= f.h) continue;
            const j = fy * f.w + fx, wa = f.a[j]!;
            sa += wa; r += f.c[3 * j]! * wa; g += f.c[3 * j + 1]! * wa; b += f.c[3 * j + 2]! * wa;
          }
        }
        const i = y * w + x;
        if (sa > 0) { l.c[3 * i] = r / sa; l.c[3 * i + 1] = g / sa; l.c[3 * i + 2] = b / sa; }
        l.a[i] = Math.min(1, sa);
      }
    }
    levels.push(l);
  }
  for (let n = levels.length - 2; n >= 0; n--) {
    const f = levels[n]!, cs = levels[n + 1]!;
    for (let y = 0; y < f.h; y++) {
      for (let x = 0; x < f.w; x++) {
        const i = y * f.w + x, wa = f.a[i]!;
        if (wa >= 1) continue;
        // Bilinear sample of the coarser level at this pixel's centre.
        let u = (x + 0.5) / 2 - 0.5, v = (y + 0.5) / 2 - 0.5;
        u = u < 0 ? 0 : u > cs.w - 1 ? cs.w - 1 : u;
        v = v < 0 ? 0 : v > cs.h - 1 ? cs.h - 1 : v;
        const x0 = Math.floor(u), y0 = Math.floor(v), x1 = Math.min(cs.w - 1, x0 + 1), y1 = Math.min(cs.h - 1, y0 + 1);
        const fx = u - x0, fy = v - y0;
        for (let k = 0; k < 3; k++) {
          const top = cs.c[3 * (y0 * cs.w + x0) + k]! * (1 - fx) + cs.c[3 * (y0 * cs.w + x1) + k]! * fx;
          const bot = cs.c[3 * (y1 * cs.w + x0) + k]! * (1 - fx) + cs.c[3 * (y1 * cs.w + x1) + k]! * fx;
          const up = top * (1 - fy) + bot * fy;
          f.c[3 * i + k] = f.c[3 * i + k]! * wa + up * (1 - wa);
        }
        f.a[i] = 1;
      }
    }
  }
  for (let i = 0; i < width * height; i++) {
    if (known[i]) continue;
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = Math.round(base.c[3 * i + k]!);
    rgba[4 * i + 3] = 255;
  }
}
