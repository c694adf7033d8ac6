import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../../engines/face/ingestReference.ts';
import { FaceRig, NEUTRAL_POSE } from '../../engines/motion/FaceRig.ts';
import { MouthCalibration } from '../../engines/motion/MouthCalibration.ts';
import { NUM_RIG_COEFFS } from '../../engines/motion/rigBases.ts';
import { faceTopology } from '../../engines/render/faceTopology.ts';
import { sealedLips } from '../../engines/render/mouthInterior.ts';
import { buildWarpMesh } from '../../engines/render/warpMesh.ts';
import { WarpRenderer } from '../../engines/render/WarpRenderer.ts';
import type { ReferencePortrait, RgbaImage } from '../../engines/types.ts';
import { inLandmarkPolygon, LIPS_OUTER } from '../../engines/util/landmarkPolygon.ts';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url);
const { innerLipUpper: INNER_UPPER, innerLipLower: INNER_LOWER } = faceTopology();
const INNER = [...INNER_UPPER, ...INNER_LOWER.slice(1, -1).reverse()];

let base: ReferencePortrait;
let width = 0;
const renderer = new WarpRenderer();

before(async () => {
  const landmarker = new FaceLandmarker();
  try {
    base = await ingestReference(new Uint8Array(await readFile(PORTRAIT)), { width: 512, height: 512, maxBytes: 5e6, maxPixels: 4e7, landmarker });
  } finally {
    await landmarker.close();
  }
  width = Math.hypot(base.landmarks[2 * 308]! - base.landmarks[2 * 78]!, base.landmarks[2 * 308 + 1]! - base.landmarks[2 * 78 + 1]!);
}, { timeout: 60_000 });
after(() => renderer.dispose());

/** The lower inner lip (corners kept) moved down by `px`, tapering toward the corners. */
function parted(lm: Float32Array, px: number): Float32Array {
  const out = Float32Array.from(lm);
  INNER_LOWER.slice(1, -1).forEach((id, i, ids) => {
    const t = (i + 1) / (ids.length + 1);
    out[2 * id + 1] = lm[2 * id + 1]! + px * Math.sin(Math.PI * t);
  });
  return out;
}

/** Median colour of the lip band (inside the outer lip contour, outside the inner one). */
function lipColour(img: RgbaImage, lm: Float32Array): [number, number, number] {
  const ch: number[][] = [[], [], []];
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    if (!inLandmarkPolygon(x + 0.5, y + 0.5, lm, LIPS_OUTER) || inLandmarkPolygon(x + 0.5, y + 0.5, lm, INNER)) continue;
    for (let c = 0; c < 3; c++) ch[c]!.push(img.data[(y * img.width + x) * 4 + c]!);
  }
  return ch.map((v) => v.sort((a, b) => a - b)[v.length >> 1]!) as [number, number, number];
}

/** A copy of `img` with the inner-lip polygon of `lm` filled with `rgb`. */
function paintGap(img: RgbaImage, lm: Float32Array, rgb: readonly number[]): RgbaImage {
  const out: RgbaImage = { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    if (inLandmarkPolygon(x + 0.5, y + 0.5, lm, INNER)) out.data.set(rgb, (y * img.width + x) * 4);
  }
  return out;
}

test('a reference "opening" that shows neither cavity nor teeth counts as closed lips; a dark one as an opening', () => {
  const lm = parted(base.landmarks, 0.12 * width);
  const mesh = buildWarpMesh(lm, 512, 512);
  const lips = lipColour(base.image, lm);
  assert.equal(sealedLips(paintGap(base.image, lm, lips), mesh), undefined, 'lip-coloured gap');
  assert.ok(sealedLips(paintGap(base.image, lm, [35, 20, 20]), mesh), 'dark gap');
});

test('lips read as slightly apart, with the dark seam of closed lips between them, count as closed; wider ones as an opening', () => {
  // The detector reads closed lips as up to ~0.07 of the mouth width apart; the seam between them is dark.
  const closed = Float32Array.from(base.landmarks);
  INNER_UPPER.forEach((id, i) => {
    const low = INNER_LOWER[i]!;
    closed[2 * low] = closed[2 * id]!;
    closed[2 * low + 1] = closed[2 * id + 1]!;
  });
  const dark = [35, 20, 20];
  const slight = parted(closed, 0.075 * width);
  assert.equal(sealedLips(paintGap(base.image, slight, dark), buildWarpMesh(slight, 512, 512)), undefined, 'gap ~0.06');
  const apart = parted(closed, 0.12 * width);
  assert.ok(sealedLips(paintGap(base.image, apart, dark), buildWarpMesh(apart, 512, 512)), 'gap ~0.1');
});

test('an open-mouth reference\'s lips nearly closed show a dark gap between them, not repainted lips', async () => {
  // The astronaut shows her teeth (lip gap ~0.19 of the mouth width); 0.045 is a quarter of that: the lips are sealing.
  await renderer.prepare(base);
  const rig = new FaceRig(base.landmarks);
  const c = new MouthCalibration(rig).coefficients(0.045, 0, new Float32Array(NUM_RIG_COEFFS));
  const lm = rig.landmarks(c, NEUTRAL_POSE, new Float32Array(468 * 2));
  const out: RgbaImage = { width: 512, height: 512, data: new Uint8Array(512 * 512 * 4) };
  renderer.renderInto({ referenceId: base.id, landmarks: lm, frameIndex: 0, mouthOpen: 0.045 }, out);
  const luma = (x: number, y: number): number => {
    const o = (y * 512 + x) * 4;
    return 0.299 * out.data[o]! + 0.587 * out.data[o + 1]! + 0.114 * out.data[o + 2]!;
  };
  const band: number[] = [];
  const gap: number[] = [];
  for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) {
    if (inLandmarkPolygon(x + 0.5, y + 0.5, lm, INNER)) gap.push(luma(x, y));
    else if (inLandmarkPolygon(x + 0.5, y + 0.5, lm, LIPS_OUTER)) band.push(luma(x, y));
  }
  const lipLuma = band.sort((a, b) => a - b)[Math.floor(band.length * 0.6)]!;
  const dark = gap.filter((l) => l < 0.6 * lipLuma).length / gap.length;
  assert.ok(gap.length > 100, `gap pixels: ${gap.length}`);
  // Before: the repainted (sealed) lips filled the gap, 3 % dark; now the interior shows, ~50 %.
  assert.ok(dark > 0.3, `dark share of the gap ${(100 * dark).toFixed(0)} %`);
});
