/**
 * The rule-based motion stage's mouth opening on every talking clip's audio, with the speaker's own first-frame
 * landmarks (from the truth cache) as the reference: the baseline the learned model must beat, frame for frame.
 * Writes .cache/train/rules/<clip>.json { opening: number[] } at 25 fps. Usage: npx tsx tools/train/dump-rules.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';
import { NUM_LANDMARKS } from '../../engines/types.ts';
import { runMotion } from '../../eval/motionRunner.ts';
import { LANDMARKS } from '../../eval/measure/pageScript.ts';
import { clipAudio16k, isCached, listClips, loadTruth } from '../../eval/measure/truthCache.ts';

const OUT = resolve(import.meta.dirname, '../../.cache/train/rules');
const FPS = 25;

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  for (const clip of await listClips()) {
    if (!(await isCached(clip))) {
      console.log(`${clip}: no truth yet (npm run measure:real), skipped`);
      continue;
    }
    const truth = await loadTruth(clip);
    // The first frame with a face: its 468 mesh landmarks (x, y) in clip pixels.
    const k = Math.max(0, truth.found.indexOf(true));
    const reference = new Float32Array(NUM_LANDMARKS * 2);
    for (let i = 0; i < NUM_LANDMARKS; i++) {
      reference[2 * i] = truth.landmarks[(k * LANDMARKS + i) * 3]!;
      reference[2 * i + 1] = truth.landmarks[(k * LANDMARKS + i) * 3 + 1]!;
    }
    const frames = await runMotion(await clipAudio16k(clip), { fps: FPS, width: truth.width, height: truth.height, reference, engine: { audio2mesh: 'embedded' } });
    await writeFile(join(OUT, `${clip}.json`), JSON.stringify({ clip, fps: FPS, opening: frames.map((f) => mouthOpening(f.landmarks)) }));
    console.log(`${clip}: ${frames.length} frames`);
  }
}

await main();
