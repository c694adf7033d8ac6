// Offline reenactment against real drivers: `npm run eval:reenact [-- --seconds 8] [--drivers a,b] [--portraits x,y]`.
// Each driving video (../shared/media/real/driving, plus talking clips) is rendered onto each portrait through
// `npm run render -- --video` (tools/render/renderFile.ts); driver and avatar are measured by MediaPipe FaceLandmarker
// and compared frame by frame: jaw (mouth opening) correlation, head yaw RMS after removing each side's mean, face found.
// Writes eval-output/reenact.json and a contact sheet per case (driver row above the avatar row).
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderFile } from '../tools/render/renderFile.ts';
import { FaceMeasurer } from './measure/FaceMeasurer.ts';
import { readRawFrames, probeVideo } from './measure/video.ts';
import { pickFrames, writeContactSheet, type SheetColumn } from './real/contactSheet.ts';
import { alignOffline, faceSeriesOf, type FollowScore } from './reenact/faceSeries.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const REAL = join(ROOT, '../shared/media/real');
const OUT = join(ROOT, 'eval-output/reenact');
const FPS = 25;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, drivers: { type: 'string' }, portraits: { type: 'string' } } });
const seconds = Number(values.seconds);
const pick = (all: string[], filter: string | undefined) => (filter ? all.filter((f) => filter.split(',').some((p) => f.includes(p))) : all);
const drivers = pick(
  [...(await readdir(join(REAL, 'driving'))).filter((f) => f.endsWith('.mp4')).map((f) => join(REAL, 'driving', f)), join(REAL, 'talking/EDTalk__uncrop_Obama.mp4'), join(REAL, 'talking/LatentSync__demo1.mp4')],
  values.drivers,
);
const portraits = pick([join(ROOT, 'assets/portraits/astronaut.png'), join(REAL, 'portraits/liveportrait_s6.jpg'), join(REAL, 'portraits/sadtalker_art_0.png')], values.portraits);

async function framesOf(path: string, n: number): Promise<{ width: number; height: number; data: Uint8Array }[]> {
  const { width, height } = await probeVideo(path);
  const out = [];
  for await (const f of readRawFrames(path, width, height, FPS, n)) out.push(f);
  return out;
}

await mkdir(OUT, { recursive: true });
const tmp = await mkdtemp(join(tmpdir(), 'eval-reenact-'));
const measurer = await FaceMeasurer.open();
const cases: (FollowScore & { driver: string; portrait: string; frames: number; faceFound: number })[] = [];
try {
  for (const driver of drivers) {
    const truthFrames = (await measurer.measureVideo(driver, FPS)).frames.slice(0, seconds * FPS);
    for (const portrait of portraits) {
      const name = `${basename(driver, '.mp4')}__${basename(portrait).replace(/\.\w+$/, '')}`;
      const out = join(tmp, `${name}.mp4`);
      await renderFile({ videoPath: driver, portraitPath: portrait, outPath: out, maxSeconds: seconds, fps: FPS });
      const oursFrames = (await measurer.measureVideo(out, FPS)).frames;
      const score = alignOffline(faceSeriesOf(truthFrames), faceSeriesOf(oursFrames));
      const faceFound = oursFrames.filter((f) => f.found).length;
      cases.push({ driver: basename(driver), portrait: basename(portrait), frames: oursFrames.length, faceFound, ...score });
      process.stderr.write(
        `${name}: jaw r ${score.jawR.toFixed(3)} (amplitude ${score.jawAmplitude.toFixed(2)}), yaw r ${score.yawR.toFixed(3)} RMS ${score.yawRmsDeg.toFixed(2)} deg (driver std ${score.driverYawStd.toFixed(1)}), lag ${score.lag}, face ${faceFound}/${oursFrames.length}\n`,
      );
      const picks = pickFrames(truthFrames.map((f) => (f.found ? f.opening : null)), 8);
      const [truthImgs, oursImgs] = await Promise.all([framesOf(driver, seconds * FPS), framesOf(out, seconds * FPS)]);
      const columns: SheetColumn[] = picks.map((i) => ({
        index: i,
        fps: FPS,
        ...(truthImgs[i] ? { truth: truthImgs[i] } : {}),
        ...(oursImgs[i] ? { ours: oursImgs[i] } : {}),
        truthOpening: truthFrames[i]?.found ? truthFrames[i]!.opening : null,
        oursOpening: oursFrames[i]?.found ? oursFrames[i]!.opening : null,
        ...(truthFrames[i]?.found ? { truthLandmarks: truthFrames[i]!.landmarks } : {}),
        ...(oursFrames[i]?.found ? { oursLandmarks: oursFrames[i]!.landmarks } : {}),
      }));
      await writeContactSheet(join(OUT, `${name}.png`), `${name}: jaw r ${score.jawR.toFixed(2)}, yaw RMS ${score.yawRmsDeg.toFixed(1)} deg`, columns);
    }
  }
} finally {
  await measurer.close();
  await rm(tmp, { recursive: true, force: true });
}
const mean = (f: (c: (typeof cases)[number]) => number) => cases.reduce((s, c) => s + f(c), 0) / cases.length;
const summary = {
  cases: cases.length,
  jawR: { mean: mean((c) => c.jawR), min: Math.min(...cases.map((c) => c.jawR)) },
  yawRmsDeg: { mean: mean((c) => c.yawRmsDeg), max: Math.max(...cases.map((c) => c.yawRmsDeg)) },
  faceFound: mean((c) => c.faceFound / c.frames),
};
await writeFile(join(ROOT, 'eval-output/reenact.json'), `${JSON.stringify({ date: new Date().toISOString(), seconds, summary, cases }, null, 2)}\n`);
console.log(`\nreenactment, ${cases.length} cases (${drivers.length} drivers x ${portraits.length} portraits, ${seconds} s each)`);
console.log(`jaw r mean ${summary.jawR.mean.toFixed(3)} (min ${summary.jawR.min.toFixed(3)}); yaw RMS mean ${summary.yawRmsDeg.mean.toFixed(2)} deg (max ${summary.yawRmsDeg.max.toFixed(2)}); face found ${(100 * summary.faceFound).toFixed(1)} %`);
console.log(`sheets: ${OUT}/*.png, numbers: eval-output/reenact.json`);
