import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DEFAULT_INNER_LIPS_PATH, InnerLipRefiner, moveInnerLips } from '../../engines/face/InnerLipRefiner.ts';
import { frameY, innerLipPatch, mouthFrame, PATCH_H, PATCH_W } from '../../engines/face/innerLipPatch.ts';
import type { RgbaImage } from '../../engines/types.ts';
import { canonicalLandmarks } from '../helpers/canonicalFace.ts';

const INNER_UPPER = [191, 80, 81, 82, 13, 312, 311, 310, 415];

test('the mouth frame runs corner to corner and down the face; y is in mouth widths', () => {
  const lm = canonicalLandmarks();
  const f = mouthFrame(lm);
  assert.ok(Math.abs(f.ux - 1) < 0.05 && f.vy > 0.99, `axes ${f.ux} ${f.vy}`);
  assert.ok(frameY(f, lm, 0) < frameY(f, lm, 13) && frameY(f, lm, 13) <= frameY(f, lm, 14) && frameY(f, lm, 14) < frameY(f, lm, 17));
  // Turned upside down, the frame turns with the face: the lips keep their order.
  const flipped = Float32Array.from(lm, (v, i) => (i % 2 === 1 ? 512 - v : v));
  const g = mouthFrame(flipped);
  assert.ok(g.vy < -0.99);
  assert.ok(frameY(g, flipped, 0) < frameY(g, flipped, 13));
});

test('the patch is normalised: zero mean per channel, unit spread, and a flat image gives zeros', () => {
  const lm = canonicalLandmarks();
  const img: RgbaImage = { width: 512, height: 512, data: new Uint8Array(512 * 512 * 4) };
  for (let i = 0; i < img.data.length; i += 4) { img.data[i] = (i / 4) % 512 / 2; img.data[i + 1] = 90; img.data[i + 2] = Math.floor(i / 4 / 512) / 2; img.data[i + 3] = 255; }
  const p = innerLipPatch(img, mouthFrame(lm));
  assert.equal(p.length, 3 * PATCH_H * PATCH_W);
  const n = PATCH_H * PATCH_W;
  for (let c = 0; c < 3; c++) {
    let m = 0;
    for (let k = 0; k < n; k++) m += p[c * n + k]!;
    assert.ok(Math.abs(m / n) < 1e-4, `channel ${c} mean ${m / n}`);
  }
  const sd = Math.sqrt(p.reduce((s, v) => s + v * v, 0) / p.length);
  assert.ok(Math.abs(sd - 1) < 1e-4);
  img.data.fill(100);
  assert.ok(innerLipPatch(img, mouthFrame(lm)).every((v) => v === 0));
});

test('moving the inner lips: the middle moves by the correction, the corners stay, the lip between moves in proportion', () => {
  const lm = canonicalLandmarks();
  const f = mouthFrame(lm);
  const d: [number, number] = [frameY(f, lm, 13), frameY(f, lm, 14)];
  const out = moveInnerLips(lm, f, d, [d[0] - 0.05, d[1] + 0.08]);
  const dy = (i: number): number => frameY(f, out, i) - frameY(f, lm, i);
  assert.ok(Math.abs(dy(13) + 0.05) < 1e-3 && Math.abs(dy(14) - 0.08) < 1e-3, `13 ${dy(13)} 14 ${dy(14)}`);
  for (const i of [78, 308, 61, 291, 0, 17]) assert.ok(Math.abs(dy(i)) < 1e-6, `landmark ${i} moved ${dy(i)}`);
  // The upper lip's inner edge moves less toward the corners.
  assert.ok(Math.abs(dy(82)) <= Math.abs(dy(13)) + 1e-6 && Math.abs(dy(191)) < Math.abs(dy(82)));
  for (const i of INNER_UPPER) assert.ok(dy(i) <= 1e-6, `${i} moves up or stays`);
  // Landmark 12 (between 0 and 13) moves part of the way: no fold.
  assert.ok(dy(12) < 0 && dy(12) > dy(13), `12 moved ${dy(12)}`);
  // Far from the mouth nothing moves.
  for (const i of [1, 33, 263, 152, 10]) assert.equal(out[2 * i], lm[2 * i]);
});

test('corrections are bounded and the lips never cross', () => {
  const lm = canonicalLandmarks();
  const f = mouthFrame(lm);
  const d: [number, number] = [frameY(f, lm, 13), frameY(f, lm, 14)];
  const far = moveInnerLips(lm, f, d, [d[0] - 1, d[1] + 1]);
  assert.ok(Math.abs(frameY(f, far, 13) - d[0] + 0.15) < 1e-3, 'at most 0.15 of the mouth width');
  const crossed = moveInnerLips(lm, f, d, [d[1] + 0.1, d[0] - 0.1]);
  assert.ok(frameY(f, crossed, 14) >= frameY(f, crossed, 13) - 1e-6);
  const nan = moveInnerLips(lm, f, d, [Number.NaN, Number.NaN]);
  assert.deepEqual(Array.from(nan), Array.from(lm));
});

test('the shipped refiner loads against its contract and refines a portrait with the lips still in the mouth', { skip: existsSync(DEFAULT_INNER_LIPS_PATH) ? false : 'models/lips not built' }, async () => {
  const refiner = await InnerLipRefiner.create();
  try {
    const lm = canonicalLandmarks();
    const img: RgbaImage = { width: 512, height: 512, data: new Uint8Array(512 * 512 * 4).fill(180) };
    const { detected, refined } = await refiner.read(img, lm);
    assert.ok(refined.every(Number.isFinite));
    assert.ok(Math.abs(refined[0] - detected[0]) < 0.3 && Math.abs(refined[1] - detected[1]) < 0.3, `${detected} -> ${refined}`);
    const out = await refiner.refine(img, lm);
    assert.equal(out.length, lm.length);
    const info = JSON.parse(await readFile(DEFAULT_INNER_LIPS_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as { patch: number[] };
    assert.deepEqual(info.patch, [3, PATCH_H, PATCH_W]);
  } finally {
    await refiner.dispose();
  }
});
