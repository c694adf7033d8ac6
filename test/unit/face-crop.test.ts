import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { framePortrait } from '../../engines/face/portraitCrop.ts';
import { sampleCrop } from '../../engines/face/sampleCrop.ts';
import type { RgbaImage } from '../../engines/types.ts';

/** A 200x200 source: a left-right colour ramp from (200, 80, 40) to (40, 120, 220). */
function ramp(): RgbaImage {
  const w = 200, h = 200, data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = x / (w - 1), o = 4 * (y * w + x);
      data[o] = 200 - 160 * t; data[o + 1] = 80 + 40 * t; data[o + 2] = 40 + 180 * t; data[o + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

describe('portrait crop', () => {
  test('a crop reaching past the source fills the outside smoothly from the picture, never black', () => {
    const src = ramp();
    // Rotated 30 degrees about the centre at 1:1: every corner of the output lies outside the source.
    const a = Math.cos(Math.PI / 6), b = Math.sin(Math.PI / 6);
    const ox = 128, oy = 128;
    const out = sampleCrop(src, { a, b, tx: 100 - (a * ox - b * oy), ty: 100 - (b * ox + a * oy) }, 256, 256);
    let black = 0, maxStep = 0;
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const o = 4 * (y * 256 + x);
        if (Math.max(out.data[o]!, out.data[o + 1]!, out.data[o + 2]!) < 30) black++;
        assert.equal(out.data[o + 3], 255);
        if (x > 0) for (let c = 0; c < 3; c++) maxStep = Math.max(maxStep, Math.abs(out.data[o + c]! - out.data[o - 4 + c]!));
      }
    }
    assert.equal(black, 0);
    // The ramp changes by <= 1 per source px; the fill continues it without seams or streak edges.
    assert.ok(maxStep <= 12, `largest step between neighbours ${maxStep}`);
  });

  test('a levelled crop that would leave the source is tightened around the face, within its zoom limit', () => {
    // Eyes tilted 20 degrees, the face filling most of a 300x300 source.
    const lm = new Float32Array(468 * 2);
    const put = (id: number, x: number, y: number): void => { lm[2 * id] = x; lm[2 * id + 1] = y; };
    const roll = (20 * Math.PI) / 180, c = Math.cos(roll), s = Math.sin(roll);
    const at = (dx: number, dy: number): [number, number] => [150 + c * dx - s * dy, 150 + s * dx + c * dy];
    for (const [id, dx, dy] of [[33, -45, -20], [133, -20, -20], [362, 20, -20], [263, 45, -20], [10, 0, -80], [152, 0, 90]] as const) put(id, ...at(dx, dy));
    const loose = framePortrait(lm, 3000, 3000, { width: 512, height: 512 });
    const tight = framePortrait(lm, 300, 300, { width: 512, height: 512 });
    const scale = (t: { a: number; b: number }) => Math.hypot(t.a, t.b);
    assert.ok(scale(tight) < scale(loose), 'tightened');
    assert.ok(scale(tight) >= scale(loose) / 1.35 - 1e-9, 'no more than the zoom limit');
    assert.ok(Math.abs(Math.atan2(tight.b, tight.a) - roll) < 1e-6, 'still levelled');
  });
});
