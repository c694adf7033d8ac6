/**
 * Training data, audio side: the learned mouth model's input features (engines/motion/mouthFeatures.ts) for every
 * talking clip of ../shared/media/real/talking, computed by the runtime's own streaming extractor.
 * Writes .cache/train/features/<clip>.f32 (frames x dim float32, frame n centred at n * 10 ms) and <clip>.json.
 * Usage: npx tsx tools/train/dump-features.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LogMelExtractor } from '../../engines/audio/LogMelExtractor.ts';
import { MOUTH_CUE_NAMES, MouthFeatureBuilder } from '../../engines/motion/mouthFeatures.ts';
import { clipAudio16k, isCached, listClips } from '../../eval/measure/truthCache.ts';

const OUT = resolve(import.meta.dirname, '../../.cache/train/features');
const CHUNK = 320;

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  for (const clip of await listClips()) {
    if (await isCached(clip)) await dumpClip(clip);
    else console.log(`${clip}: not in the truth cache (npm run measure:real), skipped`);
  }
}

async function dumpClip(clip: string): Promise<void> {
  const pcm = await clipAudio16k(clip);
  const mel = new LogMelExtractor();
  const builder = new MouthFeatureBuilder(mel.dim, mel.featureRate);
  const rows: Float32Array[] = [];
  for (let at = 0; at < pcm.length; at += CHUNK) for (const f of mel.push(pcm.subarray(at, at + CHUNK))) rows.push(builder.push(f));
  const data = new Float32Array(rows.length * builder.dim);
  rows.forEach((r, i) => data.set(r, i * builder.dim));
  await writeFile(join(OUT, `${clip}.f32`), new Uint8Array(data.buffer));
  await writeFile(join(OUT, `${clip}.json`), JSON.stringify({ clip, featureRate: mel.featureRate, dim: builder.dim, bands: mel.dim, cues: MOUTH_CUE_NAMES, frames: rows.length, audioSeconds: pcm.length / 16000 }));
  console.log(`${clip}: ${rows.length} frames x ${builder.dim}`);
}

await main();
