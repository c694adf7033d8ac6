// README pictures: the default portrait rendered by the warp renderer with rig-made landmark sets.
// `npx tsx tools/render-pictures.ts [--out docs/pictures] [--full DIR]`
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../engines/face/ingestReference.ts';
import { FaceRig, NEUTRAL_POSE } from '../engines/motion/FaceRig.ts';
import { NUM_RIG_COEFFS, RIG } from '../engines/motion/rigBases.ts';
import { WarpRenderer } from '../engines/render/WarpRenderer.ts';
import type { RgbaImage } from '../engines/types.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'docs/pictures' }, full: { type: 'string' } } });
const ROOT = new URL('..', import.meta.url);
const SIZE = 512;
/** Crop around the face shown in the README, px of the 512 frame, and its output size. */
const CROP_SIDE = 320;
const OUT_SIDE = 256;
/** Tile size in the side-by-side strip. */
const STRIP_SIDE = 192;

/** Named rig coefficient sets (RIG slots), in natural ranges (FaceRig applies the per-portrait gains). */
const POSES: [name: string, caption: string, coeffs: Partial<Record<keyof typeof RIG, number>>][] = [
  ['closed', 'mouth closed (rest)', {}],
  ['open', 'open vowel /a/', { jawOpen: 1, upperLipRaise: 0.3 }],
  ['rounded', 'rounded /o u/', { jawOpen: 0.35, lipRound: 1 }],
  ['blink', 'blink (lids meet)', { blinkLeft: 1, blinkRight: 1 }],
];

const landmarker = new FaceLandmarker();
let reference;
try {
  const bytes = new Uint8Array(await readFile(new URL('assets/portraits/astronaut.png', ROOT)));
  reference = await ingestReference(bytes, { width: SIZE, height: SIZE, maxBytes: 10 << 20, maxPixels: 25e6, landmarker });
} finally {
  await landmarker.close();
}
const renderer = new WarpRenderer();
await renderer.prepare(reference);
const rig = new FaceRig(reference.landmarks);
// FaceRig scales blink and jaw per portrait: blink 1 brings this portrait's lids together, jaw 1 opens its lips to
// about half the mouth width (rig.jawOpenRatio).
console.log(`blink gains ${rig.blinkGain.map((g) => g.toFixed(2)).join('/')}, jaw gain ${rig.jawGain.toFixed(2)}, lip drop ${rig.lipDropGain.toFixed(2)}, jaw 1 opening ${rig.jawOpenRatio.toFixed(2)}`);

// Crop centred on the face (nose bridge), clamped to the frame.
const lm = reference.landmarks;
let cx = 0, cy = 0;
for (let i = 0; i < 468; i++) { cx += lm[2 * i]!; cy += lm[2 * i + 1]!; }
cx /= 468; cy /= 468;
const left = Math.max(0, Math.min(SIZE - CROP_SIDE, Math.round(cx - CROP_SIDE / 2)));
const top = Math.max(0, Math.min(SIZE - CROP_SIDE, Math.round(cy - CROP_SIDE / 2)));

const outDir = args.out!;
await mkdir(outDir, { recursive: true });
if (args.full) await mkdir(args.full, { recursive: true });
const tiles: Buffer[] = [];
for (const [name, caption, c] of POSES) {
  const coeffs = new Float32Array(NUM_RIG_COEFFS);
  for (const [k, v] of Object.entries(c)) coeffs[RIG[k as keyof typeof RIG]] = v;
  const landmarks = rig.landmarks(coeffs, NEUTRAL_POSE, new Float32Array(468 * 2));
  const frame: RgbaImage = { width: SIZE, height: SIZE, data: new Uint8Array(SIZE * SIZE * 4) };
  renderer.renderInto({ referenceId: reference.id, landmarks, frameIndex: 0, mouthOpen: c.jawOpen ?? 0 }, frame);
  const raw = { raw: { width: SIZE, height: SIZE, channels: 4 as const } };
  if (args.full) await sharp(frame.data, raw).png().toFile(join(args.full, `${name}.png`));
  const tile = await sharp(frame.data, raw)
    .extract({ left, top, width: CROP_SIDE, height: CROP_SIDE })
    .resize(OUT_SIDE, OUT_SIDE, { kernel: 'lanczos3' })
    .removeAlpha()
    .png({ palette: true, quality: 95, effort: 10 })
    .toBuffer();
  tiles.push(await sharp(tile).resize(STRIP_SIDE, STRIP_SIDE, { kernel: 'lanczos3' }).toBuffer());
  await sharp(tile).toFile(join(outDir, `warp-${name}.png`));
  console.log(`${name}: ${caption} -> ${join(outDir, `warp-${name}.png`)} (${renderer.lastFrame.drawn} triangles, ${renderer.lastFrame.flipped} flipped, ${renderer.lastFrame.collapsed} eye/mouth collapsed)`);
}
await sharp({ create: { width: STRIP_SIDE * tiles.length, height: STRIP_SIDE, channels: 3, background: { r: 0, g: 0, b: 0 } } })
  .composite(tiles.map((input, i) => ({ input, left: i * STRIP_SIDE, top: 0 })))
  .png({ palette: true, quality: 95, effort: 10 })
  .toFile(join(outDir, 'warp-strip.png'));
console.log(`strip -> ${join(outDir, 'warp-strip.png')}`);
await renderer.dispose();
