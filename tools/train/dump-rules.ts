/**
 * The rule-based motion stage's mouth opening on every talking clip's audio, with the speaker's own first-frame
 * landmarks (from the truth cache) as the reference: the baseline the learned model must beat, frame for frame.
 * Writes .cache/train/rules/<clip>.json { opening: number[] } at 25 fps. Usage: npx tsx tools/train/dump-rules.ts
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { decodeClipAudio } from './clipAudio.ts';
import { mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';
import { createMotionStage } from '../../engines/motion/createMotionStage.ts';
import { NUM_LANDMARKS } from '../../engines/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TALKING = resolve(ROOT, '../shared/media/real/talking');
const TRUTH = join(ROOT, '.cache/real/truth');
const OUT = join(ROOT, '.cache/train/rules');
const CHUNK = 320;
const FPS = 25;

/** First frame with a face: its 468 landmarks (x, y) in clip pixels. */
async function referenceOf(clip: string): Promise<{ landmarks: Float32Array; width: number; height: number }> {
  const truth = JSON.parse(await readFile(join(TRUTH, `${clip}.json`), 'utf8')) as { width: number; height: number; found: boolean[] };
  const lmk = new Float32Array((await readFile(join(TRUTH, `${clip}.lmk.f32`))).buffer.slice(0));
  const k = Math.max(0, truth.found.indexOf(true));
  const landmarks = new Float32Array(NUM_LANDMARKS * 2);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    landmarks[2 * i] = lmk[(k * 478 + i) * 3]!;
    landmarks[2 * i + 1] = lmk[(k * 478 + i) * 3 + 1]!;
  }
  return { landmarks, width: truth.width, height: truth.height };
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const engine = process.argv[2] === 'learned' ? { audio2mesh: 'learned' as const } : {};
  const clips = (await readdir(TALKING)).filter((f) => f.endsWith('.mp4')).map((f) => basename(f, '.mp4')).sort();
  for (const clip of clips) {
    let ref;
    try {
      ref = await referenceOf(clip);
    } catch {
      console.log(`${clip}: no truth yet, skipped`);
      continue;
    }
    const pcm = await decodeClipAudio(join(TALKING, `${clip}.mp4`));
    const stage = await createMotionStage({ fps: FPS, width: ref.width, height: ref.height, referenceLandmarks: ref.landmarks, engine });
    const opening: number[] = [];
    const total = Math.ceil((pcm.length / 16000) * FPS);
    for (let at = 0; at < pcm.length; at += CHUNK) for (const f of await stage.push(pcm.subarray(at, at + CHUNK))) opening.push(mouthOpening(f.landmarks));
    for (let guard = 0; opening.length < total && guard < 1000; guard++) for (const f of await stage.push(new Float32Array(CHUNK))) opening.push(mouthOpening(f.landmarks));
    await stage.dispose();
    await writeFile(join(OUT, `${clip}${process.argv[2] === 'learned' ? '.learned' : ''}.json`), JSON.stringify({ clip, fps: FPS, opening: opening.slice(0, total) }));
    console.log(`${clip}: ${total} frames`);
  }
}

await main();
