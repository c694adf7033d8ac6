/**
 * Training data of the inner-lip refiner: frames of the real talking clips, ingested as the server ingests a portrait
 * (the detector's 468 landmarks on the 512 px crop), each with its mouth patch (engines/face/innerLipPatch.ts) and
 * where MediaPipe FaceLandmarker, measuring the same crop, puts the inner lips (13, 14) in the patch's frame.
 * Usage: npx tsx tools/train/dump-lip-patches.ts [--stride 5] [--max 500] -> .cache/train/lips/
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { frameY, innerLipPatch, mouthFrame, PATCH_H, PATCH_W } from '../../engines/face/innerLipPatch.ts';
import { FaceMeasurer } from '../../eval/measure/FaceMeasurer.ts';
import { clipPath, listClips } from '../../eval/measure/truthCache.ts';
import { probeVideo, readRawFrames } from '../../eval/measure/video.ts';
import { pngOf, portraitFromBytes } from '../../eval/real/runCase.ts';

const { values } = parseArgs({ options: { stride: { type: 'string', default: '5' }, max: { type: 'string', default: '500' }, out: { type: 'string', default: '.cache/train/lips' } } });
const stride = Number(values.stride), max = Number(values.max);
await mkdir(values.out!, { recursive: true });
const measurer = await FaceMeasurer.open();
const landmarker = new FaceLandmarker();
const rows: { clip: string; frame: number; human: [number, number]; truth: [number, number] }[] = [];
const patches: Float32Array[] = [];
for (const clip of await listClips()) {
  const { width, height } = await probeVideo(clipPath(clip));
  let k = -1;
  for await (const f of readRawFrames(clipPath(clip), width, height, 25, max)) {
    if (++k % stride !== 0) continue;
    let portrait;
    try {
      portrait = await portraitFromBytes(await pngOf({ width, height, data: f.data }), 512, landmarker);
    } catch {
      continue; // no face in this frame
    }
    const [m] = await measurer.measure([portrait.image]);
    if (!m?.found) continue;
    const fr = mouthFrame(portrait.landmarks);
    patches.push(innerLipPatch(portrait.image, fr));
    rows.push({
      clip, frame: k,
      human: [frameY(fr, portrait.landmarks, 13), frameY(fr, portrait.landmarks, 14)],
      truth: [frameY(fr, m.landmarks, 13, 3), frameY(fr, m.landmarks, 14, 3)],
    });
  }
  console.log(`${clip}: ${rows.length} samples so far`);
}
const all = new Float32Array(patches.length * 3 * PATCH_H * PATCH_W);
patches.forEach((p, i) => all.set(p, i * p.length));
await writeFile(`${values.out}/patches.f32`, all);
await writeFile(`${values.out}/index.json`, JSON.stringify({ patch: [3, PATCH_H, PATCH_W], rows }));
await Promise.all([measurer.close(), landmarker.close()]);
process.exit(0);
