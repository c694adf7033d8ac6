// Contact sheets of the warp renderer over a portrait corpus: every portrait at rest, half-open, wide-open jaw and a
// rounded vowel (face crops), plus a sheet of full-size mouth crops, so rendering problems can be seen at a glance.
// `npx tsx tools/render-portrait-sheet.ts [--dir ../shared/media/real/portraits] [--out .scratch/portrait-sheet] [--fresh] [--only NAME]`
// Ingested portraits are cached in <out>/ingested (use --fresh after changing engines/face).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../engines/face/ingestReference.ts';
import { lazyInnerLipRefiner } from '../engines/face/InnerLipRefiner.ts';
import { FaceRig } from '../engines/motion/FaceRig.ts';
import { renderRigPose, rigCoefficients, type RigPose } from './render/renderRigPose.ts';
import { WarpRenderer } from '../engines/render/WarpRenderer.ts';
import { buildWarpMesh } from '../engines/render/warpMesh.ts';
import type { ReferencePortrait } from '../engines/types.ts';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/media/real/portraits' },
    out: { type: 'string', default: '.scratch/portrait-sheet' },
    fresh: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SIZE = 512;
const TILE = 200;
const MOUTH_TILE = 200;

/** Rig coefficient sets shown per portrait. */
export const SHEET_POSES: [name: string, coeffs: RigPose][] = [
  ['rest', {}],
  ['half', { jawOpen: 0.5 }],
  ['wide', { jawOpen: 1, upperLipRaise: 0.3 }],
  ['rounded', { jawOpen: 0.35, lipRound: 1 }],
  ['blink', { blinkLeft: 1, blinkRight: 1 }],
];

async function ingestCached(path: string, cacheDir: string, landmarker: () => FaceLandmarker): Promise<ReferencePortrait> {
  const name = basename(path).replace(/\.[^.]+$/, '');
  const png = join(cacheDir, `${name}.png`), json = join(cacheDir, `${name}.json`);
  if (!args.fresh && existsSync(png) && existsSync(json)) {
    const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const meta = JSON.parse(await readFile(json, 'utf8')) as { id: string; landmarks: number[] };
    return { id: meta.id, image: { width: info.width, height: info.height, data: new Uint8Array(data) }, landmarks: Float32Array.from(meta.landmarks) };
  }
  const bytes = new Uint8Array(await readFile(path));
  const ref = await ingestReference(bytes, { width: SIZE, height: SIZE, maxBytes: 20 << 20, maxPixels: 4e7, landmarker: landmarker(), lipRefiner: lazyInnerLipRefiner() });
  await sharp(ref.image.data, { raw: { width: SIZE, height: SIZE, channels: 4 } }).png().toFile(png);
  await writeFile(json, JSON.stringify({ id: ref.id, landmarks: Array.from(ref.landmarks) }));
  return ref;
}

const raw = { raw: { width: SIZE, height: SIZE, channels: 4 as const } };

function box(lm: Float32Array, ids: number[] | null, pad: number): { left: number; top: number; side: number } {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  const list = ids ?? Array.from({ length: 468 }, (_, i) => i);
  for (const i of list) {
    x0 = Math.min(x0, lm[2 * i]!); x1 = Math.max(x1, lm[2 * i]!);
    y0 = Math.min(y0, lm[2 * i + 1]!); y1 = Math.max(y1, lm[2 * i + 1]!);
  }
  const side = Math.min(SIZE, Math.round(Math.max(x1 - x0, y1 - y0) * pad));
  const left = Math.max(0, Math.min(SIZE - side, Math.round((x0 + x1) / 2 - side / 2)));
  const top = Math.max(0, Math.min(SIZE - side, Math.round((y0 + y1) / 2 - side / 2)));
  return { left, top, side };
}

const MOUTH_IDS = [61, 291, 0, 17, 13, 14, 2, 152];

async function main(): Promise<void> {
  const outDir = resolve(args.out!);
  const cacheDir = join(outDir, 'ingested');
  const fullDir = join(outDir, 'full');
  await mkdir(cacheDir, { recursive: true });
  await mkdir(fullDir, { recursive: true });
  const dir = resolve(ROOT, args.dir!);
  const files = [...(await readdir(dir)).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).map((f) => join(dir, f)), join(ROOT, 'assets/portraits/astronaut.png')]
    .filter((f) => !args.only || basename(f).includes(args.only));
  let lmk: FaceLandmarker | undefined;
  const landmarker = () => (lmk ??= new FaceLandmarker());
  const renderer = new WarpRenderer();
  const rows: Buffer[] = [], mouthRows: Buffer[] = [];
  try {
    for (const file of files) {
      const name = basename(file).replace(/\.[^.]+$/, '');
      let ref: ReferencePortrait;
      try {
        ref = await ingestCached(file, cacheDir, landmarker);
      } catch (err) {
        console.log(`${name}: not ingested (${err instanceof Error ? err.message : String(err)})`);
        continue;
      }
      await renderer.prepare(ref);
      const rig = new FaceRig(ref.landmarks);
      const faceBox = box(ref.landmarks, null, 1.25);
      const mouthBox = box(ref.landmarks, MOUTH_IDS, 1.15);
      const tiles: Buffer[] = [await sharp(ref.image.data, raw).extract({ left: faceBox.left, top: faceBox.top, width: faceBox.side, height: faceBox.side }).resize(TILE, TILE).removeAlpha().png().toBuffer()];
      const mouthTiles: Buffer[] = [await sharp(ref.image.data, raw).extract({ left: mouthBox.left, top: mouthBox.top, width: mouthBox.side, height: mouthBox.side }).resize(MOUTH_TILE, MOUTH_TILE, { kernel: 'nearest' }).removeAlpha().png().toBuffer()];
      let times = '';
      for (const [pose, c] of SHEET_POSES) {
        const t0 = performance.now();
        const frame = renderRigPose(renderer, ref, rig, rigCoefficients(c));
        times += ` ${pose} ${(performance.now() - t0).toFixed(1)}ms`;
        await sharp(frame.data, raw).png().toFile(join(fullDir, `${name}-${pose}.png`));
        tiles.push(await sharp(frame.data, raw).extract({ left: faceBox.left, top: faceBox.top, width: faceBox.side, height: faceBox.side }).resize(TILE, TILE).removeAlpha().png().toBuffer());
        if (pose !== 'blink') {
          mouthTiles.push(await sharp(frame.data, raw).extract({ left: mouthBox.left, top: mouthBox.top, width: mouthBox.side, height: mouthBox.side }).resize(MOUTH_TILE, MOUTH_TILE, { kernel: 'nearest' }).removeAlpha().png().toBuffer());
        }
      }
      console.log(`${name}: jaw gain ${rig.jawGain.toFixed(2)} lip drop ${rig.lipDropGain.toFixed(2)} jaw1 ${rig.jawOpenRatio.toFixed(2)} restJaw ${rig.restJaw.toFixed(2)} restSeal ${rig.restSeal.toFixed(2)} folded in reference ${buildWarpMesh(ref.landmarks, SIZE, SIZE).foldedInReference} |${times}`);
      rows.push(await strip(tiles, TILE, name));
      mouthRows.push(await strip(mouthTiles, MOUTH_TILE, name));
      renderer.release(ref.id);
    }
  } finally {
    await lmk?.close();
  }
  await stack(rows, join(outDir, 'sheet.png'));
  await stack(mouthRows, join(outDir, 'mouths.png'));
  // Halves of the sheets too, easier to view at full resolution.
  for (let i = 0; i < rows.length; i += 4) {
    await stack(rows.slice(i, i + 4), join(outDir, `sheet-${i / 4}.png`));
    await stack(mouthRows.slice(i, i + 4), join(outDir, `mouths-${i / 4}.png`));
  }
  console.log(`sheets -> ${outDir}`);
}

async function strip(tiles: Buffer[], side: number, label: string): Promise<Buffer> {
  const w = side * tiles.length;
  const svg = Buffer.from(`<svg width="${w}" height="16"><rect width="${w}" height="16" fill="black"/><text x="4" y="12" font-size="12" fill="white" font-family="sans-serif">${label}</text></svg>`);
  return sharp({ create: { width: w, height: side + 16, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([{ input: svg, left: 0, top: 0 }, ...tiles.map((input, i) => ({ input, left: i * side, top: 16 }))])
    .png()
    .toBuffer();
}

async function stack(rows: Buffer[], path: string): Promise<void> {
  if (rows.length === 0) return;
  const metas = await Promise.all(rows.map((r) => sharp(r).metadata()));
  const w = Math.max(...metas.map((m) => m.width!)), h = metas.reduce((s, m) => s + m.height!, 0);
  let y = 0;
  const comps = rows.map((input, i) => { const c = { input, left: 0, top: y }; y += metas[i]!.height!; return c; });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 0 } } }).composite(comps).png().toFile(path);
}

await main();
