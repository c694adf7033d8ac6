/**
 * Real faces, real voices: render each real talking clip's first frame (or any portrait) with the clip's own
 * audio through the session pipeline, measure our frames with MediaPipe FaceLandmarker (eval/measure) and compare
 * with the same measurement of the real video (the truth cache, `npm run measure:real`).
 *
 * `npm run eval:real [-- --audio2mesh embedded|learned|onnx] [--cases a,b] [--quick] [--portrait FILE|name]
 *   [--out eval-output/real.json] [--no-sheets] [--seed N] [--size PX]`
 * eval/README.md explains the scores.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { createRenderEngine } from '../engines/render/createRenderEngine.ts';
import { DEFAULT_INNER_LIPS_PATH, InnerLipRefiner } from '../engines/face/InnerLipRefiner.ts';
import type { ReferencePortrait } from '../engines/types.ts';
import { loadConfig } from '../server/config.ts';
import { FaceMeasurer } from './measure/FaceMeasurer.ts';
import { clipPath, isCached, listClips, loadTruth, measureClip, PORTRAITS_DIR } from './measure/truthCache.ts';
import { firstFrame } from './measure/video.ts';
import { writeContactSheet } from './real/contactSheet.ts';
import { CLOSED_OPENING, MAX_LAG_MS, summarize } from './real/metrics.ts';
import { DARK_FRACTION, LIP_DILATE } from './real/paintOutsideLips.ts';
import { pngOf, portraitFromBytes, runCase, type CaseResult, type CaseScores, type MotionChoice } from './real/runCase.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SPEAKERS = join(ROOT, 'eval/real/speakers.json');
const HOLDOUT_DIR = join(ROOT, 'models/audio2mouth/holdout');
const QUICK_SECONDS = 4;

const USAGE = `usage: npm run eval:real -- [options]
  --audio2mesh E    embedded | learned | onnx (default: configs/default.yaml's motion.audio2mesh)
  --audio2mesh-path F  model for --audio2mesh onnx|learned when no hold-out model applies
  --cases a,b       only clips whose name contains one of these
  --quick           first ${QUICK_SECONDS} s of one clip per hold-out fold (all matching clips with --cases)
  --portrait P      a portrait file, or a name in ../shared/media/real/portraits (default: each clip's first frame)
  --out PATH        default eval-output/real.json (contact sheets go to <dir of out>/real/<clip>.png)
  --no-sheets       skip the contact sheets
  --no-refine-lips  portraits keep the detector's inner lips (default: refined as the server does, by the hold-out
                    refiner of the clip's fold for its own first frame)
  --seed N, --size PX  head-motion seed (1), output size (512)`;

const { values: args } = parseArgs({
  options: {
    audio2mesh: { type: 'string' },
    'audio2mesh-path': { type: 'string' },
    cases: { type: 'string' },
    quick: { type: 'boolean', default: false },
    portrait: { type: 'string' },
    out: { type: 'string', default: 'eval-output/real.json' },
    'no-sheets': { type: 'boolean', default: false },
    'no-refine-lips': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    size: { type: 'string', default: '512' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const wallStarted = performance.now();
const size = Number(args.size);
const seed = Number(args.seed);
const speakers = (JSON.parse(await readFile(SPEAKERS, 'utf8')) as { clips: Record<string, { speaker: string; fold: number }> }).clips;

// Clips.
const filters = args.cases ? args.cases.split(',').map((s) => s.trim()).filter(Boolean) : [];
let clips = (await listClips()).filter((c) => filters.length === 0 || filters.some((f) => c.includes(f)));
if (args.quick && filters.length === 0) {
  const seen = new Set<number>();
  clips = clips.filter((c) => {
    const fold = speakers[c]?.fold ?? -1;
    if (seen.has(fold)) return false;
    seen.add(fold);
    return true;
  });
}
if (clips.length === 0) {
  process.stderr.write(`eval:real: no clip matches ${args.cases}\n`);
  process.exit(2);
}

// Motion engine: the server's default config, --audio2mesh overriding; 'learned' uses the clip's hold-out model.
const baseMotion: MotionChoice = { ...loadConfig().motion };
if (args.audio2mesh) baseMotion.audio2mesh = args.audio2mesh as MotionChoice['audio2mesh'];
if (args['audio2mesh-path']) baseMotion.audio2meshPath = resolve(args['audio2mesh-path']);
function motionFor(clip: string): { motion: MotionChoice; model: string } {
  const fold = speakers[clip]?.fold;
  if (baseMotion.audio2mesh === 'learned') {
    const holdout = join(HOLDOUT_DIR, `fold${fold}.onnx`);
    if (fold !== undefined && existsSync(holdout)) {
      return { motion: { ...baseMotion, audio2mesh: 'learned', audio2meshPath: holdout }, model: `learned hold-out ${join('models/audio2mouth/holdout', basename(holdout))} (never saw this speaker)` };
    }
    return { motion: baseMotion, model: `learned ${baseMotion.audio2meshPath ?? '(engine default model)'} -- NOT held out: no fold${fold}.onnx` };
  }
  if (baseMotion.audio2mesh === 'onnx') return { motion: baseMotion, model: `onnx ${baseMotion.audio2meshPath}` };
  return { motion: baseMotion, model: baseMotion.audio2mesh ?? 'embedded' };
}

// Inner-lip refiner: a clip's own first frame is refined by the model that never saw its speaker.
const LIPS_HOLDOUT_DIR = join(ROOT, 'models/lips/holdout');
const refiners = new Map<string, InnerLipRefiner>();
async function lipRefinerFor(fold: number | undefined): Promise<{ refiner?: InnerLipRefiner; name: string }> {
  if (args['no-refine-lips']) return { name: 'none' };
  const holdout = fold === undefined ? undefined : join(LIPS_HOLDOUT_DIR, `fold${fold}.onnx`);
  const path = holdout && existsSync(holdout) ? holdout : DEFAULT_INNER_LIPS_PATH;
  let refiner = refiners.get(path);
  if (!refiner) refiners.set(path, (refiner = await InnerLipRefiner.create(path)));
  return { refiner, name: path === holdout ? `hold-out ${join('models/lips/holdout', basename(path))}` : 'shipped models/lips/inner_lips.onnx' };
}

// Portrait: --portrait FILE or corpus name, else each clip's first frame.
async function portraitFile(p: string): Promise<string> {
  if (existsSync(p)) return p;
  const names = await readdir(PORTRAITS_DIR);
  const hit = names.find((f) => f === p) ?? names.find((f) => f.replace(/\.[^.]+$/, '') === p);
  if (!hit) throw new Error(`portrait not found: ${p} (not a file, nor one of ${names.join(', ')})`);
  return join(PORTRAITS_DIR, hit);
}

const outPath = resolve(args.out);
const sheetDir = join(dirname(outPath), 'real');
await mkdir(sheetDir, { recursive: true });

const measurer = await FaceMeasurer.open();
const landmarker = new FaceLandmarker();
const engine = await createRenderEngine({ engine: 'warp', width: size, height: size });
const results: CaseResult[] = [];
let truthMeasureS = 0;
try {
  // Truth for clips not yet in the cache (normally `npm run measure:real` has filled it).
  for (const clip of clips) {
    if (await isCached(clip)) continue;
    const t = performance.now();
    process.stderr.write(`eval:real: measuring the truth of ${clip} (not cached)\n`);
    await measureClip(measurer, clip);
    truthMeasureS += (performance.now() - t) / 1000;
  }
  let fixedPortrait: { portrait: ReferencePortrait; name: string } | undefined;
  if (args.portrait) {
    const file = await portraitFile(args.portrait);
    const lips = await lipRefinerFor(undefined);
    fixedPortrait = { portrait: await portraitFromBytes(new Uint8Array(await readFile(file)), size, landmarker, lips.refiner), name: `${basename(file)} (lips: ${lips.name})` };
  }
  for (const clip of clips) {
    const truth = await loadTruth(clip);
    const who = speakers[clip] ?? { speaker: clip, fold: -1 };
    const frames = args.quick ? Math.min(truth.frames, QUICK_SECONDS * truth.fps) : truth.frames;
    let portrait = fixedPortrait;
    if (!portrait) {
      try {
        const lips = await lipRefinerFor(who.fold);
        portrait = { portrait: await portraitFromBytes(await pngOf(await firstFrame(clipPath(clip))), size, landmarker, lips.refiner), name: `${clip} frame 0 (lips: ${lips.name})` };
      } catch (err) {
        process.stderr.write(`eval:real: ${clip}: first frame rejected as a portrait: ${(err as Error).message}\n`);
        continue;
      }
    }
    const { motion, model } = motionFor(clip);
    const { result, sheet } = await runCase({
      truth, speaker: who.speaker, fold: who.fold, portrait: portrait.portrait, portraitName: portrait.name, engine, measurer, motion, model, frames, seed,
      ...(args['no-sheets'] ? {} : { sheetFrames: 10 }),
    }).catch((err: unknown) => {
      throw new Error(`eval:real: ${clip} with motion ${model}: ${(err as Error).message}`, { cause: err });
    });
    results.push(result);
    if (sheet.length) {
      const s = result.scores;
      await writeContactSheet(
        join(sheetDir, `${clip}.png`),
        `${clip}  (${who.speaker})  r=${s.r.toFixed(2)} lag ${s.lagMs} ms  amp ${s.ampRatio.toFixed(2)}  model: ${model}`,
        sheet,
      );
    }
    process.stderr.write(`  ${clip}: ${frames} frames, r ${result.scores.r.toFixed(3)}, ${(result.timing.wallMs / 1000).toFixed(1)} s\n`);
  }
} finally {
  await engine.dispose();
  await landmarker.close();
  await measurer.close();
  await Promise.all([...refiners.values()].map((r) => r.dispose()));
}

// Report.
const summary = summarize(results.map((r) => ({ speaker: r.speaker, scores: r.scores as unknown as Record<keyof CaseScores, number> })));
const wallS = (performance.now() - wallStarted) / 1000;
const measured = measurer.stats;
const report = {
  config: {
    quick: args.quick,
    cases: filters,
    portrait: args.portrait ?? 'each clip\'s first frame',
    refineLips: !args['no-refine-lips'],
    size,
    seed,
    fps: 25,
    renderer: 'warp',
    motion: baseMotion,
    constants: { CLOSED_OPENING, MAX_LAG_MS, paint: { LIP_DILATE, DARK_FRACTION } },
  },
  engine: { audio2mesh: baseMotion.audio2mesh, models: Object.fromEntries(results.map((r) => [r.clip, r.model])) },
  overall: summary.overall,
  overSpeakers: summary.overSpeakers,
  bySpeaker: summary.bySpeaker,
  cases: results,
  timing: {
    wallS: Number(wallS.toFixed(1)),
    truthMeasureS: Number(truthMeasureS.toFixed(1)),
    measurerFramesPerS: Number((measured.frames / Math.max(1e-9, measured.ms / 1000)).toFixed(1)),
  },
};
await mkdir(dirname(outPath), { recursive: true });
await writeFile(outPath, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`);

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '  - ');
const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(100 * x)}%` : '-');
const header = `${'case'.padEnd(42)} ${'frames'.padStart(6)}  r0    r   lagms  amp   p95  closed o/t  found paint rendr`;
const row = (name: string, frames: string, s: Record<keyof CaseScores, number>): string =>
  `${name.padEnd(42)} ${frames.padStart(6)} ${f2(s.r0).padStart(5)} ${f2(s.r).padStart(5)} ${(Number.isFinite(s.lagMs) ? s.lagMs.toFixed(0) : '-').padStart(5)} ${f2(s.ampRatio).padStart(5)} ${f2(s.p95Ratio).padStart(5)} ${pct(s.closedOurs).padStart(5)}/${pct(s.closedTruth).padEnd(5)} ${pct(s.foundOurs).padStart(5)} ${pct(s.paintShare).padStart(5)} ${f2(s.renderR).padStart(5)}`;
const lines = [header];
for (const r of results) lines.push(row(r.clip, String(r.frames), r.scores as unknown as Record<keyof CaseScores, number>));
lines.push(row(`mean over ${summary.cases} cases`, '', summary.overall));
lines.push(row(`mean over ${summary.speakers} speakers`, '', summary.overSpeakers));
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`audio2mesh: ${baseMotion.audio2mesh}; ${results.length} cases in ${wallS.toFixed(0)} s; measurer ${report.timing.measurerFramesPerS} frames/s; ${outPath}${args['no-sheets'] ? '' : `, sheets in ${sheetDir}`}\n`);
