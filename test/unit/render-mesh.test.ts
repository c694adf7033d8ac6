import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eulerToMatrix } from '../../engines/motion/FaceRig.ts';
import { CANONICAL_VERTICES, LIP_CONTOURS } from '../../engines/motion/canonicalMesh.ts';
import { area2, buildWarpMesh, KIND_WARP, unfoldFrame } from '../../engines/render/warpMesh.ts';
import { NUM_LANDMARKS } from '../../engines/types.ts';

/** The canonical face turned by `yawDeg`, ~240 px tall in a 512 frame, lips pressed onto one line, to whole pixels. */
function turnedClosedFace(yawDeg: number): Float32Array {
  const r = eulerToMatrix(0, yawDeg, 0);
  const lm = new Float32Array(NUM_LANDMARKS * 2);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const x = CANONICAL_VERTICES[3 * i]!, y = CANONICAL_VERTICES[3 * i + 1]!, z = CANONICAL_VERTICES[3 * i + 2]!;
    lm[2 * i] = 256 + 14 * (r[0]! * x + r[1]! * y + r[2]! * z);
    lm[2 * i + 1] = 250 - 14 * (r[3]! * x + r[4]! * y + r[5]! * z);
  }
  // Closed lips as a landmarker reports them: the inner contours on one row, to whole pixels (Human truncates).
  const up = LIP_CONTOURS.innerUpper, low = LIP_CONTOURS.innerLower;
  for (let k = 0; k < up.length; k++) {
    const a = up[k]!, b = low[k]!, my = (lm[2 * a + 1]! + lm[2 * b + 1]!) / 2;
    lm[2 * a + 1] = my;
    lm[2 * b + 1] = my + 0.4;
    lm[2 * b] = lm[2 * a]!;
  }
  return lm.map(Math.trunc);
}

describe('warp mesh', () => {
  test('untangling a turned face with closed lips unfolds every triangle while moving landmarks a few px at most', () => {
    const lm = turnedClosedFace(30);
    const mesh = buildWarpMesh(lm, 512, 512);
    const folded: number[] = [];
    for (let t = 0; t < mesh.kinds.length; t++) {
      if (mesh.kinds[t] !== KIND_WARP) continue;
      if (area2(mesh.refXY, mesh.triangles[3 * t]!, mesh.triangles[3 * t + 1]!, mesh.triangles[3 * t + 2]!) <= 0) folded.push(t);
    }
    assert.deepEqual(folded, []);
    let maxShift = 0, lipShift = 0;
    for (let i = 0; i < NUM_LANDMARKS; i++) maxShift = Math.max(maxShift, Math.hypot(mesh.landmarkOffset[2 * i]!, mesh.landmarkOffset[2 * i + 1]!));
    for (const i of [...mesh.lipUpper, ...mesh.lipLower]) lipShift = Math.max(lipShift, Math.hypot(mesh.landmarkOffset[2 * i]!, mesh.landmarkOffset[2 * i + 1]!));
    assert.ok(maxShift < 12, `largest landmark shift ${maxShift.toFixed(1)} px`);
    assert.ok(lipShift < 2, `largest inner-lip shift ${lipShift.toFixed(1)} px`);
  });

  test('a frame whose animation folds warp triangles is unfolded with small landmark moves', () => {
    const mesh = buildWarpMesh(turnedClosedFace(0), 512, 512);
    const nTri = mesh.kinds.length;
    const refSign = new Int8Array(nTri).fill(1);
    const xy = Float32Array.from(mesh.refXY);
    // Roll the upper lip's outer ring down over its inner contour, as a strong lip seal does.
    for (const id of [185, 40, 39, 37, 0, 267, 269, 270, 409]) xy[2 * id + 1] = xy[2 * id + 1]! + 7;
    const foldedBefore = countFolded(mesh.triangles, mesh.kinds, xy);
    assert.ok(foldedBefore > 0, 'the test frame should fold');
    const before = Float32Array.from(xy);
    const left = unfoldFrame(mesh, xy, refSign, new Float64Array(mesh.numVertices * 2), new Float64Array(mesh.numVertices));
    assert.equal(left, 0);
    assert.equal(countFolded(mesh.triangles, mesh.kinds, xy), 0);
    let moved = 0;
    for (let i = 0; i < xy.length; i += 2) moved = Math.max(moved, Math.hypot(xy[i]! - before[i]!, xy[i + 1]! - before[i + 1]!));
    assert.ok(moved < 8, `largest move ${moved.toFixed(1)} px`);
    for (let i = 2 * NUM_LANDMARKS; i < xy.length; i++) assert.equal(xy[i], before[i], 'anchors stay');
  });
});

function countFolded(tris: Uint32Array, kinds: Uint8Array, xy: Float32Array): number {
  let n = 0;
  for (let t = 0; t < kinds.length; t++) if (kinds[t] === KIND_WARP && area2(xy, tris[3 * t]!, tris[3 * t + 1]!, tris[3 * t + 2]!) < 0.5) n++;
  return n;
}
