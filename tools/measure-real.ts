// Fill the truth cache: MediaPipe FaceLandmarker measurements (and 16 kHz audio) of every real talking clip.
// `npm run measure:real [-- --force] [--cases a,b]`; clips already measured (same size and content hash) are skipped.
// Writes .cache/real/audio/<clip>.wav and .cache/real/truth/<clip>.{json,lmk.f32} (eval/measure/truthCache.ts).
import { parseArgs } from 'node:util';
import { FaceMeasurer } from '../eval/measure/FaceMeasurer.ts';
import { isCached, listClips, measureClip, REAL_CACHE } from '../eval/measure/truthCache.ts';

const { values: args } = parseArgs({
  options: {
    force: { type: 'boolean', default: false },
    cases: { type: 'string' },
  },
  allowPositionals: false,
});

const filters = args.cases ? args.cases.split(',').map((s) => s.trim()).filter(Boolean) : [];
const clips = (await listClips()).filter((c) => filters.length === 0 || filters.some((f) => c.includes(f)));
const todo: string[] = [];
for (const clip of clips) if (args.force || !(await isCached(clip))) todo.push(clip);
process.stderr.write(`measure:real: ${clips.length} clips, ${clips.length - todo.length} cached, ${todo.length} to measure -> ${REAL_CACHE}\n`);
if (todo.length > 0) {
  const started = performance.now();
  const measurer = await FaceMeasurer.open();
  try {
    for (const clip of todo) {
      const t = performance.now();
      const { frames, found } = await measureClip(measurer, clip);
      const s = (performance.now() - t) / 1000;
      process.stderr.write(`  ${clip}: ${frames} frames, face in ${found}, ${s.toFixed(1)} s (${(frames / s).toFixed(1)} frames/s)\n`);
    }
  } finally {
    await measurer.close();
  }
  const { frames, ms } = measurer.stats;
  process.stderr.write(
    `measure:real: done in ${((performance.now() - started) / 1000).toFixed(1)} s; landmarker ${(ms / Math.max(1, frames)).toFixed(1)} ms/frame in the page\n`,
  );
}
