import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FACE_OVAL, LIPS_OUTER, paintOutsideLips } from '../../eval/real/paintOutsideLips.ts';

const W = 256, H = 256;
const MOUTH = { x: 128, y: 180, rx: 30, ry: 10 };

/** Landmarks of a synthetic face: oval = circle r 100 at (128,128), nose tip (1) y 140, nose bottom (2) y 150, lips = ellipse (top, 0, at y 170). */
function landmarks(): Float32Array {
  const l = new Float32Array(478 * 3).fill(128);
  const set = (i: number, x: number, y: number): void => {
    l[3 * i] = x;
    l[3 * i + 1] = y;
    l[3 * i + 2] = 0;
  };
  FACE_OVAL.forEach((i, k) => {
    const a = -Math.PI / 2 + (2 * Math.PI * k) / FACE_OVAL.length;
    set(i, 128 + 100 * Math.cos(a), 128 + 100 * Math.sin(a));
  });
  LIPS_OUTER.forEach((i, k) => {
    const a = Math.PI + (2 * Math.PI * k) / LIPS_OUTER.length;
    set(i, MOUTH.x + MOUTH.rx * Math.cos(a), MOUTH.y + MOUTH.ry * Math.sin(a));
  });
  set(1, 128, 140);
  set(2, 128, 150);
  return l;
}

/** Skin-grey image with a dark open mouth, plus dark rectangles [x, y, w, h] and red ones. */
function image(dark: [number, number, number, number][] = [], red: [number, number, number, number][] = []): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inMouth = ((x - MOUTH.x) / MOUTH.rx) ** 2 + ((y - MOUTH.y) / MOUTH.ry) ** 2 <= 1;
      const inRect = dark.some(([rx, ry, rw, rh]) => x >= rx && x < rx + rw && y >= ry && y < ry + rh);
      const v = inMouth || inRect ? 25 : 190 + ((x * 7 + y * 13) % 11);
      const inRed = red.some(([rx, ry, rw, rh]) => x >= rx && x < rx + rw && y >= ry && y < ry + rh);
      data.set(inRed ? [150, 35, 55, 255] : [v, v, v, 255], 4 * (y * W + x));
    }
  }
  return { width: W, height: H, data };
}

const face = { found: true, landmarks: landmarks() };

test('a dark open mouth inside its lips is not paint outside the lips', () => {
  const r = paintOutsideLips(image(), face);
  assert.equal(r.measured, true);
  assert.equal(r.dark, 0);
  assert.equal(r.flagged, false);
  assert.ok(r.region > 2000, `region ${r.region}`);
  assert.ok(r.skinLuma > 180 && r.skinLevel > 180);
});

test('dark paint on the chin next to the mouth is flagged', () => {
  const r = paintOutsideLips(image([[90, 188, 10, 10]]), face);
  assert.equal(r.dark, 100);
  assert.equal(r.flagged, true);
});

test('paint just outside the lip contour within the dilation margin is ignored; a few stray pixels are not flagged', () => {
  // 1 px ring right below the lower lip (inside 6% of the 60 px mouth width = 3.6 px)
  assert.equal(paintOutsideLips(image([[120, 191, 16, 2]]), face).dark, 0);
  const r = paintOutsideLips(image([[92, 186, 3, 3]]), face);
  assert.equal(r.dark, 9);
  assert.equal(r.flagged, false);
});

test("the portrait's own dark pixels (a beard) are the baseline", () => {
  const beard: [number, number, number, number] = [100, 200, 56, 12];
  const baseline = paintOutsideLips(image([beard]), face);
  assert.ok(baseline.dark > 300, `beard ${baseline.dark}`);
  const same = paintOutsideLips(image([beard]), face, baseline);
  assert.equal(same.excess, 0);
  assert.equal(same.flagged, false);
  const more = paintOutsideLips(image([beard, [150, 192, 8, 8]]), face, baseline.dark);
  assert.equal(more.excess, 64);
  assert.equal(more.flagged, true);
});

test('dark pixels above the nose tip (eyes, brows) or outside the face oval do not count', () => {
  const r = paintOutsideLips(image([[90, 90, 20, 10], [0, 200, 20, 20]]), face);
  assert.equal(r.dark, 0);
});

test('no face measured: nothing counted', () => {
  const r = paintOutsideLips(image([[90, 188, 10, 10]]), { found: false, landmarks: new Float32Array(0) });
  assert.equal(r.measured, false);
  assert.equal(r.flagged, false);
});

test('nostrils just under the nose, hair at the cheek edge and the jaw line are outside the region', () => {
  // nostrils at y 150-155 (the region starts 35% of the way from the nose bottom, y 150, to the lip top, y 170)
  // and a dark collar in the outer 8% of the oval
  const r = paintOutsideLips(image([[110, 150, 36, 5], [118, 222, 20, 6], [36, 165, 14, 30], [206, 165, 14, 30]]), face);
  assert.equal(r.dark, 0);
});

test('the mask marks the examined and the dark pixels', () => {
  const mask = new Uint8Array(W * H);
  const r = paintOutsideLips(image([[90, 188, 10, 10]]), face, 0, mask);
  assert.equal(mask.filter((v) => v === 2).length, r.dark);
  assert.equal(mask.filter((v) => v >= 1).length, r.region);
});

test('lip red (lipstick) smeared past the contour is not mouth-interior dark; a black smear is', () => {
  // luma of (150, 35, 55) is 72, under 0.45 x skin luma, but its brightness max(R,G,B) = 150 is not
  assert.equal(paintOutsideLips(image([], [[120, 192, 16, 6]]), face).dark, 0);
  assert.ok(paintOutsideLips(image([[120, 192, 16, 6]]), face).flagged);
});

/** Skin image with the open mouth plus rectangles of one colour. */
function painted(rgb: [number, number, number], rects: [number, number, number, number][]): { width: number; height: number; data: Uint8Array } {
  const img = image();
  for (const [rx, ry, rw, rh] of rects) for (let y = ry; y < ry + rh; y++) for (let x = rx; x < rx + rw; x++) img.data.set([...rgb, 255], 4 * (y * W + x));
  return img;
}

test('a brown beard shadow stretched under the lip is dark but not interior paint; a deep-red cavity sliver is', () => {
  const beard = paintOutsideLips(painted([70, 50, 40], [[100, 192, 40, 8]]), face);
  assert.ok(beard.dark >= 250 && beard.interior === 0 && !beard.flagged, JSON.stringify(beard));
  const sliver = paintOutsideLips(painted([45, 8, 10], [[100, 192, 40, 3]]), face);
  assert.ok(sliver.interior >= 60 && sliver.flagged, JSON.stringify(sliver));
});
