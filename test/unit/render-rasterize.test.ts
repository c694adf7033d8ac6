import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rasterizeTriangle } from '../../engines/render/rasterizeTriangle.ts';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('triangles sharing edges cover every pixel of a jittered grid exactly once', () => {
  const W = 97, H = 83, N = 9, rand = rng(7);
  const px = (i: number, j: number): [number, number] => {
    const onBorder = i === 0 || j === 0 || i === N || j === N;
    const jitter = onBorder ? 0 : 0.35;
    return [((i + (rand() - 0.5) * jitter) * W) / N, ((j + (rand() - 0.5) * jitter) * H) / N];
  };
  const pts: [number, number][][] = [];
  for (let i = 0; i <= N; i++) { pts.push([]); for (let j = 0; j <= N; j++) pts[i]!.push(px(i, j)); }
  // Some vertices exactly on pixel centres and on integer coordinates, to hit the tie cases.
  pts[3]![4] = [30.5, 40.5];
  pts[5]![5] = [54, 46];
  const count = new Uint8Array(W * H);
  const sink = (y: number, x0: number, x1: number) => { for (let x = x0; x < x1; x++) count[y * W + x]!++; };
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const a = pts[i]![j]!, b = pts[i + 1]![j]!, c = pts[i + 1]![j + 1]!, d = pts[i]![j + 1]!;
      const diag = (i + j) % 2 === 0;
      const tris = diag ? [a, b, c, a, c, d] : [a, b, d, b, c, d];
      for (let t = 0; t < 6; t += 3) rasterizeTriangle(tris[t]![0], tris[t]![1], tris[t + 1]![0], tris[t + 1]![1], tris[t + 2]![0], tris[t + 2]![1], W, H, sink);
    }
  }
  const wrong = [...count].map((c, i) => [c, i] as const).filter(([c]) => c !== 1);
  assert.deepEqual(wrong, []);
});

test('a triangle covers exactly the pixels whose centres lie inside it', () => {
  const got = new Set<string>();
  rasterizeTriangle(0, 0, 4, 0, 0, 4, 10, 10, (y, x0, x1) => { for (let x = x0; x < x1; x++) got.add(`${x},${y}`); });
  // Centres (x+0.5, y+0.5) with x + y + 1 < 4 (the hypotenuse is the right edge: excluded).
  assert.deepEqual([...got].sort(), ['0,0', '0,1', '0,2', '1,0', '1,1', '2,0'].sort());
});
