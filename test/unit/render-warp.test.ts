import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../../engines/face/ingestReference.ts';
import { FaceRig, NEUTRAL_POSE } from '../../engines/motion/FaceRig.ts';
import { NUM_RIG_COEFFS } from '../../engines/motion/rigBases.ts';
import { WarpRenderer } from '../../engines/render/WarpRenderer.ts';
import type { ReferencePortrait, RgbaImage } from '../../engines/types.ts';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url);
const INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308];
const INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308];
const RIGHT_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133];
const RIGHT_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133];
const LEFT_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362];
const LEFT_LOWER = [263, 249, 390, 373, 374, 380, 381, 382, 362];
const SENTINEL = [255, 0, 255, 0];

let ref: ReferencePortrait;
const renderer = new WarpRenderer();

before(async () => {
  const landmarker = new FaceLandmarker();
  try {
    const bytes = new Uint8Array(await readFile(PORTRAIT));
    ref = await ingestReference(bytes, { width: 512, height: 512, maxBytes: 5e6, maxPixels: 4e7, landmarker });
  } finally {
    await landmarker.close();
  }
  await renderer.prepare(ref);
}, { timeout: 60_000 });
after(() => renderer.dispose());

function sentinelFrame(): RgbaImage {
  const data = new Uint8Array(512 * 512 * 4);
  for (let i = 0; i < data.length; i += 4) data.set(SENTINEL, i);
  return { width: 512, height: 512, data };
}

function render(landmarks: Float32Array): RgbaImage {
  const out = sentinelFrame();
  renderer.renderInto({ referenceId: ref.id, landmarks, frameIndex: 0, mouthOpen: 0 }, out);
  return out;
}

function bounds(lm: Float32Array, ids: number[], pad: number) {
  const xs = ids.map((i) => lm[2 * i]!), ys = ids.map((i) => lm[2 * i + 1]!);
  return { x0: Math.floor(Math.min(...xs) - pad), x1: Math.ceil(Math.max(...xs) + pad), y0: Math.floor(Math.min(...ys) - pad), y1: Math.ceil(Math.max(...ys) + pad) };
}

function psnr(a: Uint8Array, b: Uint8Array, box: ReturnType<typeof bounds>): number {
  let se = 0, n = 0;
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) for (let c = 0; c < 3; c++) {
    const d = a[(y * 512 + x) * 4 + c]! - b[(y * 512 + x) * 4 + c]!;
    se += d * d; n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}

/** Dark pixels (luma < 50) in a box, and the rows they span. */
function darkness(img: RgbaImage, box: ReturnType<typeof bounds>): { count: number; rows: number } {
  let count = 0, top = Infinity, bottom = -Infinity;
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) {
    const i = (y * 512 + x) * 4, d = img.data;
    if (0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]! < 50) { count++; top = Math.min(top, y); bottom = Math.max(bottom, y); }
  }
  return { count, rows: count ? bottom - top + 1 : 0 };
}

function allWritten(img: RgbaImage): number {
  let unwritten = 0;
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] !== 255) unwritten++;
  return unwritten;
}

/** Jaw opens: landmarks below the upper inner lip, near the mouth, move down by up to `px`. */
function jawOpen(lm: Float32Array, px: number): Float32Array {
  const out = Float32Array.from(lm);
  const lipY = Math.max(...INNER_UPPER.map((i) => lm[2 * i + 1]!)), cx = lm[2 * 13]!, halfW = Math.abs(lm[2 * 308]! - lm[2 * 78]!);
  for (let k = 0; k < 468; k++) {
    const dy = lm[2 * k + 1]! - lipY, dx = Math.abs(lm[2 * k]! - cx);
    if (dy > 0.5 && dx < 1.6 * halfW) out[2 * k + 1] = lm[2 * k + 1]! + px * Math.min(1, dy / 6) * Math.max(0, 1 - Math.max(0, dx - halfW * 0.6) / halfW);
  }
  return out;
}

/** Blink: each upper lid moves onto its lower lid; the lid skin above follows with a smooth falloff. */
function blink(lm: Float32Array, amount: number): Float32Array {
  const out = Float32Array.from(lm);
  for (const [upper, lower] of [[RIGHT_UPPER, RIGHT_LOWER], [LEFT_UPPER, LEFT_LOWER]] as const) {
    const gap = Math.max(...upper.map((u, i) => Math.abs(lm[2 * lower[i]! + 1]! - lm[2 * u + 1]!)));
    const radius = 1.6 * gap, lowerIds = new Set<number>(lower);
    for (let k = 0; k < 468; k++) {
      if (lowerIds.has(k) || k === upper[0] || k === upper.at(-1)) continue;
      let best = Infinity, dx = 0, dy = 0;
      upper.forEach((u, i) => {
        const d = Math.hypot(lm[2 * k]! - lm[2 * u]!, lm[2 * k + 1]! - lm[2 * u + 1]!);
        if (d < best) { best = d; dx = lm[2 * lower[i]!]! - lm[2 * u]!; dy = lm[2 * lower[i]! + 1]! - lm[2 * u + 1]!; }
      });
      if (best >= radius || lm[2 * k + 1]! > lm[2 * upper[4]! + 1]! + 0.5) continue;
      const q = 1 - (best / radius) ** 2, w = amount * q * q;
      out[2 * k] = lm[2 * k]! + w * dx;
      out[2 * k + 1] = lm[2 * k + 1]! + w * dy;
    }
  }
  return out;
}

function meanRgb(img: Uint8Array, cx: number, cy: number, r: number): [number, number, number] {
  const s = [0, 0, 0];
  let n = 0;
  for (let y = Math.floor(cy - r); y <= cy + r; y++) for (let x = Math.floor(cx - r); x <= cx + r; x++) {
    if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > r * r) continue;
    for (let c = 0; c < 3; c++) s[c]! += img[(y * 512 + x) * 4 + c]!;
    n++;
  }
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

const colourDist = (a: number[], b: number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

describe('WarpRenderer', () => {
  test('rendering the reference landmarks reproduces the reference (PSNR >= 40 dB over the face box)', () => {
    const out = render(ref.landmarks);
    const box = bounds(ref.landmarks, Array.from({ length: 468 }, (_, i) => i), 0);
    const db = psnr(out.data, ref.image.data, box);
    assert.ok(db >= 40, `PSNR ${db} dB`);
    assert.equal(allWritten(out), 0);
    assert.equal(renderer.lastFrame.flipped, 0);
  });

  test('a jaw-open landmark set darkens and enlarges the mouth; a closed set does not', () => {
    const open = jawOpen(ref.landmarks, 15);
    const box = bounds(open, [61, 291, 0, 17], 6);
    const before = darkness(ref.image, box);
    const opened = darkness(render(open), box);
    assert.ok(opened.count > before.count + 300, `dark px ${before.count} -> ${opened.count}`);
    assert.ok(opened.rows >= before.rows + 8, `dark rows ${before.rows} -> ${opened.rows}`);

    const closed = Float32Array.from(ref.landmarks);
    INNER_LOWER.forEach((id, i) => { closed[2 * id + 1] = ref.landmarks[2 * INNER_UPPER[i]! + 1]!; });
    const shut = render(closed);
    const closedDark = darkness(shut, box);
    assert.ok(closedDark.count <= before.count + 10, `closed mouth dark px ${before.count} -> ${closedDark.count}`);
    assert.equal(allWritten(shut), 0);
  });

  test('smooth random landmark motion (+-3 px) leaves no unwritten pixel and flips no triangle', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 25; trial++) {
      const lm = Float32Array.from(ref.landmarks);
      const [ax, ay, fx, fy, px, py, tx, ty] = Array.from({ length: 8 }, rand);
      for (let k = 0; k < 468; k++) {
        const x = lm[2 * k]!, y = lm[2 * k + 1]!;
        lm[2 * k] = x + 1.5 * (2 * tx! - 1) + 1.5 * ax! * Math.sin(x * (0.02 + 0.05 * fx!) + 6 * px!);
        lm[2 * k + 1] = y + 1.5 * (2 * ty! - 1) + 1.5 * ay! * Math.sin(y * (0.02 + 0.05 * fy!) + 6 * py!);
      }
      const out = render(lm);
      assert.equal(allWritten(out), 0, `trial ${trial}`);
      assert.equal(renderer.lastFrame.flipped, 0, `trial ${trial}`);
    }
  });

  test('even folded landmarks (independent +-3 px noise) leave no unwritten pixel', () => {
    let seed = 99;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 10; trial++) {
      const lm = ref.landmarks.map((v) => v + (rand() * 2 - 1) * 3);
      assert.equal(allWritten(render(lm)), 0, `trial ${trial}`);
    }
  });

  test('a blink set covers the iris region with lid skin', () => {
    const shut = render(blink(ref.landmarks, 1));
    assert.equal(allWritten(shut), 0);
    const lm = ref.landmarks;
    for (const [up, low] of [[159, 145], [386, 374]] as const) {
      const gap = lm[2 * low + 1]! - lm[2 * up + 1]!;
      // Iris: the middle of the opening; lid skin: above the upper lid landmarks by half the opening.
      const ix = (lm[2 * up]! + lm[2 * low]!) / 2, iy = (lm[2 * up + 1]! + lm[2 * low + 1]!) / 2;
      const r = 0.22 * gap;
      const irisRef = meanRgb(ref.image.data, ix, iy, r), irisShut = meanRgb(shut.data, ix, iy, r);
      const skin = meanRgb(ref.image.data, lm[2 * up]!, lm[2 * up + 1]! - 0.5 * gap, r);
      const before = colourDist(irisRef, skin), after = colourDist(irisShut, skin);
      assert.ok(after < 0.3 * before, `eye ${up}: iris-to-lid-skin colour distance ${before.toFixed(1)} -> ${after.toFixed(1)}`);
      assert.ok(colourDist(irisShut, irisRef) > 0.7 * before, `eye ${up}: iris region barely changed`);
    }
  });

  test('a half blink hides the top of the eye under the lid and keeps the lower eyeball unsquashed', () => {
    const half = render(blink(ref.landmarks, 0.5));
    const lm = ref.landmarks;
    // Just above the lower lid (a quarter of the opening) the eyeball is where it was.
    for (const [up, low] of [[159, 145], [386, 374]] as const) {
      const gap = lm[2 * low + 1]! - lm[2 * up + 1]!;
      const x = lm[2 * low]!, y = lm[2 * low + 1]! - 0.25 * gap;
      assert.ok(colourDist(meanRgb(half.data, x, y, 1.5), meanRgb(ref.image.data, x, y, 1.5)) < 20, `eye ${up}: lower eyeball moved`);
    }
  });

  test('the reference is untangled: no triangle is folded in it, and its own landmarks reproduce it byte for byte', async () => {
    const { buildWarpMesh } = await import('../../engines/render/warpMesh.ts');
    assert.equal(buildWarpMesh(ref.landmarks, 512, 512).foldedInReference, 0);
    assert.deepEqual(render(ref.landmarks).data, ref.image.data);
    assert.equal(renderer.lastFrame.flipped, 0);
  });

  test('no shimmering: the same landmarks give the same pixels; a 0.05 px change changes almost nothing', () => {
    const open = jawOpen(ref.landmarks, 12);
    const a = render(open), b = render(open);
    assert.deepEqual(a.data, b.data);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const nudged = open.map((v) => v + (rand() * 2 - 1) * 0.05);
    const c = render(nudged);
    let sum = 0, big = 0, n = 0;
    for (let i = 0; i < c.data.length; i += 4) for (let k = 0; k < 3; k++) {
      const d = Math.abs(c.data[i + k]! - a.data[i + k]!);
      sum += d; n++;
      if (d > 24) big++;
    }
    assert.ok(sum / n < 0.05, `mean abs change ${(sum / n).toFixed(3)}`);
    assert.ok(big < 40, `${big} channel values changed by more than 24`);
  });

  test('render() returns one frame of the reference size per request; unknown ids throw', async () => {
    const frames = await renderer.render([
      { referenceId: ref.id, landmarks: ref.landmarks, frameIndex: 0, mouthOpen: 0 },
      { referenceId: ref.id, landmarks: jawOpen(ref.landmarks, 10), frameIndex: 1, mouthOpen: 0.6 },
    ]);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0]!.data, ref.image.data);
    assert.notDeepEqual(frames[1]!.data, ref.image.data);
    await assert.rejects(renderer.render([{ referenceId: 'nope', landmarks: ref.landmarks, frameIndex: 0, mouthOpen: 0 }]), /not prepared/);
  });
  test('lips sealed at rest over the reference\'s teeth: no dark wedges or black seam at the mouth corners', () => {
    const lm = new FaceRig(ref.landmarks).landmarks(new Float32Array(NUM_RIG_COEFFS), NEUTRAL_POSE, new Float32Array(468 * 2));
    const out = render(lm);
    const luma = (x: number, y: number) => {
      const o = (y * 512 + x) * 4;
      return 0.299 * out.data[o]! + 0.587 * out.data[o + 1]! + 0.114 * out.data[o + 2]!;
    };
    // Mean luma of the lips around their middle (seam included).
    const cx = Math.round((lm[2 * 13]! + lm[2 * 14]!) / 2), cy = Math.round((lm[2 * 13 + 1]! + lm[2 * 14 + 1]!) / 2);
    let sum = 0, n = 0;
    for (let y = cy - 6; y <= cy + 6; y++) for (let x = cx - 15; x <= cx + 15; x++) { sum += luma(x, y); n++; }
    const lipMean = sum / n;
    // Darkest pixel of a box over each corner, reaching from just outside it 10 px along the seam.
    for (const [id, dir] of [[78, 1], [308, -1]] as const) {
      const x0 = Math.round(lm[2 * id]!), y0 = Math.round(lm[2 * id + 1]!);
      let min = 255;
      for (let y = y0 - 5; y <= y0 + 5; y++) for (let k = -3; k <= 10; k++) min = Math.min(min, luma(x0 + dir * k, y));
      assert.ok(min >= 0.6 * lipMean, `corner ${id}: darkest ${min.toFixed(0)} vs lip mean ${lipMean.toFixed(0)}`);
    }
  });
});

test('a driving gaze moves the irises inside the eye openings; the lids and the rest of the face stay', () => {
  const dark = (img: RgbaImage, ids: number[]): { x: number; n: number } => {
    // Dark (iris) pixels inside the box of one eye's lid contour.
    const xs = ids.map((i) => ref.landmarks[2 * i]!), ys = ids.map((i) => ref.landmarks[2 * i + 1]!);
    let sx = 0, n = 0;
    for (let y = Math.ceil(Math.min(...ys)) + 1; y < Math.max(...ys) - 1; y++) {
      for (let x = Math.ceil(Math.min(...xs)) + 2; x < Math.max(...xs) - 2; x++) {
        const o = (y * 512 + x) * 4;
        if (0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]! < 90) (sx += x), n++;
      }
    }
    return { x: sx / Math.max(1, n), n };
  };
  const at = (gaze?: { x: number; y: number }) => {
    const out = sentinelFrame();
    renderer.renderInto({ referenceId: ref.id, landmarks: ref.landmarks, frameIndex: 0, mouthOpen: 0, ...(gaze ? { gaze } : {}) }, out);
    return out;
  };
  const still = at();
  const right = at({ x: 0.8, y: 0 });
  const left = at({ x: -0.8, y: 0 });
  for (const eye of [RIGHT_UPPER.concat(RIGHT_LOWER), LEFT_UPPER.concat(LEFT_LOWER)]) {
    const [s, r, l] = [dark(still, eye), dark(right, eye), dark(left, eye)];
    assert.ok(s.n > 20, `an iris to move (${s.n} dark pixels)`);
    assert.ok(r.x - s.x > 0.8 && s.x - l.x > 0.8, `iris x: left ${l.x.toFixed(1)}, still ${s.x.toFixed(1)}, right ${r.x.toFixed(1)}`);
  }
  // Away from the eyes nothing changes.
  let changed = 0;
  for (let i = 0; i < still.data.length; i += 4) {
    const y = Math.floor(i / 4 / 512);
    if (y > 300 && still.data[i] !== right.data[i]) changed++;
  }
  assert.equal(changed, 0);
});
