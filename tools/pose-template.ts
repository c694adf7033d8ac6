// Extract a head-pose template from any video: `npm run pose-template -- --video in.mp4 --out pose.json [--hz 10]`.
// The head angles are measured per frame with MediaPipe FaceLandmarker (Chromium), taken relative to the clip's mean
// pose, clamped to +-30 degrees and sampled at --hz; the output is a ready `poseTemplate` control message (looped).
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { headAnglesFromMatrix } from '../engines/face/mediaPipePose.ts';
import { FaceMeasurer } from '../eval/measure/FaceMeasurer.ts';
import { MAX_KEYFRAMES } from '../server/session/editMessages.ts';

const USAGE = 'usage: npm run pose-template -- --video IN.mp4 --out POSE.json [--hz 10]';
const { values } = parseArgs({ options: { video: { type: 'string' }, out: { type: 'string' }, hz: { type: 'string', default: '10' } } });
if (!values.video || !values.out) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const hz = Number(values.hz);
if (!(hz >= 1 && hz <= 25)) {
  process.stderr.write(`--hz must be 1..25\n${USAGE}\n`);
  process.exit(2);
}
const measurer = await FaceMeasurer.open();
const { frames } = await measurer.measureVideo(values.video, 25).finally(() => measurer.close());
const angles = frames.map((f, i) => (f.found ? { i, ...headAnglesFromMatrix(f.matrix) } : null)).filter((a) => a !== null);
if (angles.length === 0) {
  process.stderr.write(`no face found in ${values.video}\n`);
  process.exit(3);
}
const mean = (k: 'yawDeg' | 'pitchDeg' | 'rollDeg') => angles.reduce((s, a) => s + a[k], 0) / angles.length;
const m = { yawDeg: mean('yawDeg'), pitchDeg: mean('pitchDeg'), rollDeg: mean('rollDeg') };
const step = 25 / hz;
const clamp = (v: number) => Math.round(Math.max(-30, Math.min(30, v)) * 10) / 10;
const keyframes: number[][] = [];
for (const a of angles) {
  if (keyframes.length >= MAX_KEYFRAMES) break;
  const atMs = Math.round((a.i * 1000) / 25);
  if (keyframes.length > 0 && atMs - keyframes.at(-1)![0]! < (step * 1000) / 25 - 1) continue;
  keyframes.push([atMs - Math.round((angles[0]!.i * 1000) / 25), clamp(a.yawDeg - m.yawDeg), clamp(a.pitchDeg - m.pitchDeg), clamp(a.rollDeg - m.rollDeg)]);
}
await writeFile(values.out, `${JSON.stringify({ type: 'poseTemplate', loop: true, keyframes })}\n`);
process.stderr.write(`pose-template: ${keyframes.length} keyframes over ${(keyframes.at(-1)![0]! / 1000).toFixed(1)} s from ${angles.length} of ${frames.length} frames -> ${values.out}\n`);
