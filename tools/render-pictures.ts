// README pictures: several portraits rendered by the warp renderer with rig-made landmark sets, as a grid
// (rows: portraits; columns: mouth closed, open vowel, rounded vowel, blink) in docs/pictures/warp-grid.png.
// `npx tsx tools/render-pictures.ts [--out docs/pictures] [--full DIR] [--corpus ../shared/media/real/portraits]`
// The corpus portraits are read from the shared folder (the product does not vendor them; pictures rendered from
// them are fine); missing ones are skipped.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../engines/face/ingestReference.ts';
import { lazyInnerLipRefiner } from '../engines/face/InnerLipRefiner.ts';
import { MouthCalibration } from '../engines/motion/MouthCalibration.ts';
import { FaceRig } from '../engines/motion/FaceRig.ts';
import { renderRigPose, rigCoefficients, type RigPose } from './render/renderRigPose.ts';
import { WarpRenderer } from '../engines/render/WarpRenderer.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/pictures' },
    full: { type: 'string' },
    corpus: { type: 'string', default: join(ROOT, '../shared/media/real/portraits') },
  },
});
const SIZE = 512;
/** Tile side in the grid, px. */
const TILE = 176;

/** Portraits shown: a photo with closed lips, a smile with teeth, a painting, an illustration, a photo caught mid-word, the bundled astronaut. */
const PORTRAITS: [label: string, path: string][] = [
  ['photo, closed lips', join(args.corpus!, 'sadtalker_people_0.png')],
  ['photo, smiling with teeth', join(args.corpus!, 'edtalk_leijun.png')],
  ['painting', join(args.corpus!, 'liveportrait_s0.jpg')],
  ['illustration', join(args.corpus!, 'sadtalker_art_3.png')],
  ['photo, mouth open mid-word', join(args.corpus!, 'vexpress_aoc_ref.jpg')],
  ['bundled portrait', join(ROOT, 'assets/portraits/astronaut.png')],
];

/**
 * Mouth states as the learned mouth gives them (inner-lip opening = gap / mouth width, log width ratio; mapped onto each
 * portrait's rig by MouthCalibration, as in a session) plus other rig coefficients. 0.33 is the 95th percentile of the
 * real speakers' opening in the corpus: an open vowel as people say it.
 */
const POSES: [name: string, caption: string, mouth: [opening: number, widthLog: number], coeffs: RigPose][] = [
  ['closed', 'mouth closed (rest)', [0, 0], {}],
  ['open', 'open vowel /a/', [0.33, 0], {}],
  ['rounded', 'rounded /o u/', [0.15, -0.15], {}],
  ['blink', 'blink (lids meet)', [0, 0], { blinkLeft: 1, blinkRight: 1 }],
];

const outDir = args.out!;
await mkdir(outDir, { recursive: true });
if (args.full) await mkdir(args.full, { recursive: true });
const landmarker = new FaceLandmarker();
const renderer = new WarpRenderer();
const tiles: { input: Buffer; left: number; top: number }[] = [];
let row = 0;
try {
  for (const [label, path] of PORTRAITS) {
    if (!existsSync(path)) {
      console.log(`${label}: ${path} not found, skipped`);
      continue;
    }
    const bytes = new Uint8Array(await readFile(path));
    const reference = await ingestReference(bytes, { width: SIZE, height: SIZE, maxBytes: 20 << 20, maxPixels: 4e7, landmarker, lipRefiner: lazyInnerLipRefiner() });
    await renderer.prepare(reference);
    const rig = new FaceRig(reference.landmarks);
    // Square crop around the face (all landmarks, with room), clamped to the frame.
    const lm = reference.landmarks;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < 468; i++) {
      x0 = Math.min(x0, lm[2 * i]!); x1 = Math.max(x1, lm[2 * i]!);
      y0 = Math.min(y0, lm[2 * i + 1]!); y1 = Math.max(y1, lm[2 * i + 1]!);
    }
    const side = Math.min(SIZE, Math.round(1.2 * Math.max(x1 - x0, y1 - y0)));
    const left = Math.max(0, Math.min(SIZE - side, Math.round((x0 + x1 - side) / 2)));
    const top = Math.max(0, Math.min(SIZE - side, Math.round((y0 + y1 - side) / 2 + 0.05 * side)));
    const name = path.split('/').pop()!.replace(/\.[^.]+$/, '');
    const calibration = new MouthCalibration(rig);
    POSES.forEach(([pose, caption, [opening, widthLog], c], col) => {
      const coeffs = rigCoefficients(c);
      calibration.coefficients(opening, widthLog, coeffs);
      const frame = renderRigPose(renderer, reference, rig, coeffs);
      tiles.push({ input: Buffer.from(frame.data), left: col, top: row });
      if (args.full) void sharp(frame.data, { raw: { width: SIZE, height: SIZE, channels: 4 } }).png().toFile(join(args.full, `${name}-${pose}.png`));
      console.log(`${label} (${name}) ${pose}: ${caption} (${renderer.lastFrame.drawn} triangles, ${renderer.lastFrame.flipped} flipped)`);
    });
    // Crop each of this row's frames.
    for (const t of tiles.filter((t) => t.top === row)) {
      t.input = await sharp(t.input, { raw: { width: SIZE, height: SIZE, channels: 4 } })
        .extract({ left, top, width: side, height: side })
        .resize(TILE, TILE, { kernel: 'lanczos3' })
        .removeAlpha()
        .png()
        .toBuffer();
    }
    renderer.release(reference.id);
    row++;
  }
} finally {
  await landmarker.close();
  await renderer.dispose();
}
const gap = 4;
await sharp({ create: { width: POSES.length * (TILE + gap) - gap, height: row * (TILE + gap) - gap, channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(tiles.map((t) => ({ input: t.input, left: t.left * (TILE + gap), top: t.top * (TILE + gap) })))
  .png({ palette: true, quality: 95, effort: 10 })
  .toFile(join(outDir, 'warp-grid.png'));
console.log(`grid (${row} portraits x ${POSES.map((p) => p[0]).join(', ')}) -> ${join(outDir, 'warp-grid.png')}`);
