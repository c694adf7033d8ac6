// Per-stage cost of the realtime pipeline on this machine: `npm run bench [-- --frames N --out FILE]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { LogMelExtractor, type SpeechCues } from '../engines/audio/LogMelExtractor.ts';
import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../engines/face/ingestReference.ts';
import { Audio2Landmarks } from '../engines/motion/Audio2Landmarks.ts';
import { createMotionStage } from '../engines/motion/createMotionStage.ts';
import { CANONICAL_VERTICES } from '../engines/motion/canonicalMesh.ts';
import { NEUTRAL_POSE } from '../engines/motion/FaceRig.ts';
import { HeadMotion, type HeadState } from '../engines/motion/HeadMotion.ts';
import { NUM_RIG_COEFFS, RIG } from '../engines/motion/rigBases.ts';
import { VisemeModel } from '../engines/motion/VisemeModel.ts';
import { WarpRenderer } from '../engines/render/WarpRenderer.ts';
import { NUM_LANDMARKS, type HeadPose, type MotionFrame } from '../engines/types.ts';
import { OpusDecoder, OpusEncoder } from '../server/media/OpusCodec.ts';
import { Resampler, resampleAll } from '../server/media/Resampler.ts';
import type { EncodedVideoFrame } from '../server/media/VideoEncoder.ts';
import { loadVideoEncoderFactory, resolveEncoderBackend } from '../server/media/videoEncoderFactory.ts';
import { VideoPacketizer } from '../server/media/VideoPacketizer.ts';
import { benchFanout } from './fanout.ts';
import { readWav } from '../server/media/wav.ts';
import { benchNeural } from './neural.ts';
import { printTable, summarize, timeIt, type TimingSummary } from './stats.ts';

const { values: args } = parseArgs({
  options: { frames: { type: 'string', default: '250' }, out: { type: 'string' }, renderer: { type: 'string', default: 'warp' } },
});
const FRAMES = Math.max(20, Number(args.frames));
const FPS = 25;
const ROOT = new URL('..', import.meta.url);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');

function writeJson(name: string, data: unknown): void {
  const out = args.out ?? new URL(`bench-output/${name}-${stamp}.json`, ROOT).pathname;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(data, null, 2));
  console.log(`wrote ${out}`);
}

if (args.renderer === 'neural') {
  const rows = await benchNeural();
  writeJson('bench-neural', { date: new Date().toISOString(), rows });
  process.exit(0);
} else if (args.renderer !== 'warp') {
  console.error(`--renderer must be warp or neural, got ${args.renderer}`);
  process.exit(2);
}

const wav = await readWav(new URL('assets/speech/jfk.wav', ROOT).pathname);
const speech16k = wav.samples;
const speech48k = await resampleAll(speech16k, wav.sampleRate, 48000);
const landmarker = new FaceLandmarker();
const reference = await ingestReference(new Uint8Array(await readFile(new URL('assets/portraits/astronaut.png', ROOT))), {
  width: 512,
  height: 512,
  maxBytes: 10 << 20,
  maxPixels: 25e6,
  landmarker,
});
await landmarker.close();

const results: Record<string, TimingSummary> = {};

// Audio in: one 20 ms Opus packet -> PCM (two per video frame at 25 fps).
const encoder = new OpusEncoder();
const packets = encoder.push(speech48k.subarray(0, 48000 * 10));
const opus = new OpusDecoder();
results['opus decode (20 ms packet)'] = summarize(await timeIt(packets.length, (i) => opus.decodeFloat(packets[i % packets.length]!)));
const resampler = await Resampler.create({ inputRate: 48000, outputRate: 16000 });
results['resample 48k->16k (20 ms)'] = summarize(await timeIt(FRAMES * 2, (i) => resampler.push(speech48k.subarray((i % 400) * 960, (i % 400) * 960 + 960))));

// Features alone, per video frame of audio (40 ms).
const hop = 16000 / FPS;
const features = new LogMelExtractor();
results['features: log-mel (per frame)'] = summarize(await timeIt(FRAMES, (i) => features.push(speech16k.subarray((i * hop) % (speech16k.length - hop), ((i * hop) % (speech16k.length - hop)) + hop))));

// Motion (features + mesh + pose + projection), per video frame.
const motion = new Audio2Landmarks({ fps: FPS, width: 512, height: 512, referenceLandmarks: reference.landmarks, seed: 1 });
const frames: MotionFrame[] = [];
results['motion: audio -> landmarks (per frame)'] = summarize(
  await timeIt(FRAMES, (i) => {
    const at = (i * hop) % (speech16k.length - hop);
    frames.push(...motion.push(speech16k.subarray(at, at + hop)));
  }, 0),
);

// The default motion stage: the learned mouth (ONNX Runtime, one window per frame) + embedded head, per video frame.
{
  const learned = await createMotionStage({ fps: FPS, width: 512, height: 512, referenceLandmarks: reference.landmarks, seed: 1, engine: { audio2mesh: 'learned' } });
  results['motion: learned mouth, audio -> landmarks (per frame)'] = summarize(
    await timeIt(FRAMES, async (i) => {
      const at = (i * hop) % (speech16k.length - hop);
      await learned.push(speech16k.subarray(at, at + hop));
    }),
  );
  await learned.dispose();
}

// Motion sub-stages, per video frame, each driven directly on realistic inputs: the log-mel cues of the whole
// speech clip, and the mouths, head states, meshes and poses that the stages before produce from them
// (as Audio2Landmarks composes them, on the same fitted rig of the portrait). A video frame is
// featureRate / FPS cue steps (4 at 100 Hz and 25 fps) of VisemeModel and HeadMotion, then one deform and one projection.
{
  const rig = motion.rig;
  const rate = features.featureRate;
  const stepsPerFrame = rate / FPS;
  const cues = new LogMelExtractor().push(speech16k);
  const steps: { cue: SpeechCues; activity: number; mouth: Float32Array; head: HeadState }[] = [];
  const visemes = new VisemeModel(rate);
  const head = new HeadMotion({ stepRate: rate, seed: 1, pxPerCm: rig.pxPerCm });
  for (const cue of cues) {
    const s = visemes.push(cue);
    if (s) steps.push({ cue: s.cue, activity: s.activity, mouth: s.mouth.slice(), head: { ...head.step(s.cue, s.activity) } });
  }
  // Frame k samples step floor((k + 1/2) * stepsPerFrame), as Audio2Landmarks does (expression scale 1, no override).
  const clipFrames = Math.floor((steps.length - stepsPerFrame / 2) / stepsPerFrame);
  const coeffs: Float32Array[] = [];
  const poses: HeadPose[] = [];
  const meshes: Float32Array[] = [];
  for (let k = 0; k < clipFrames; k++) {
    const { mouth, head: h } = steps[Math.floor((k + 0.5) * stepsPerFrame)]!;
    const c = new Float32Array(NUM_RIG_COEFFS);
    for (let i = 0; i < mouth.length; i++) c[i] = Math.min(1.2, Math.max(0, mouth[i]!));
    c[RIG.blinkLeft] = h.blinkLeft;
    c[RIG.blinkRight] = h.blinkRight;
    c[RIG.browRaise] = h.browRaise;
    coeffs.push(c);
    poses.push({ pitchDeg: h.pitchDeg, yawDeg: h.yawDeg, rollDeg: h.rollDeg, tx: h.tx, ty: h.ty, tz: 0 });
    meshes.push(rig.deformPortrait(c).slice());
  }
  // Retargeting offset (reference - neutral projection), as FaceRig keeps it.
  const base = rig.project(CANONICAL_VERTICES, NEUTRAL_POSE, new Float32Array(NUM_LANDMARKS * 2));
  for (let i = 0; i < base.length; i++) base[i] = reference.landmarks[i]! - base[i]!;

  // Mesh: cue steps through the viseme model, then the frame's coefficients through the portrait's rig bases.
  const visemeRun = new VisemeModel(rate);
  results['motion: mesh (visemes + rig deform)'] = summarize(
    await timeIt(FRAMES, (i) => {
      for (let q = 0; q < stepsPerFrame; q++) visemeRun.push(cues[(i * stepsPerFrame + q) % cues.length]!);
      rig.deformPortrait(coeffs[i % clipFrames]!);
    }, 0),
  );
  // Pose: cue steps through the head motion (Audio2Pose).
  const headRun = new HeadMotion({ stepRate: rate, seed: 1, pxPerCm: rig.pxPerCm });
  results['motion: pose (head motion)'] = summarize(
    await timeIt(FRAMES, (i) => {
      for (let q = 0; q < stepsPerFrame; q++) {
        const s = steps[(i * stepsPerFrame + q) % steps.length]!;
        headRun.step(s.cue, s.activity);
      }
    }, 0),
  );
  // Projection: the frame's mesh under its pose and the fitted camera, retargeted onto the reference.
  const projected = new Float32Array(NUM_LANDMARKS * 2);
  results['motion: projection (pose + camera -> 468 landmarks)'] = summarize(
    await timeIt(FRAMES, (i) => {
      rig.project(meshes[i % clipFrames]!, poses[i % clipFrames]!, projected);
      for (let j = 0; j < projected.length; j++) projected[j] = projected[j]! + base[j]!;
    }, 0),
  );
}

// Render.
const renderer = new WarpRenderer();
await renderer.prepare(reference);
const rendered: Uint8Array[] = [];
results['render: warp 512x512'] = summarize(
  await timeIt(FRAMES, async (i) => {
    const f = frames[i % frames.length]!;
    const [img] = await renderer.render([{ referenceId: reference.id, landmarks: f.landmarks, frameIndex: i, mouthOpen: f.mouthOpen }]);
    if (rendered.length < 50) rendered.push(img!.data.slice());
  }),
);

// Encode + packetize, with every backend that loads here; the default ('auto') one feeds the per-frame total.
const defaultBackend = (await resolveEncoderBackend('auto')).backend;
const backends = defaultBackend === 'libav' ? (['libav', 'webcodecs'] as const) : (['webcodecs'] as const);
for (const backend of backends) {
  const createEncoder = await loadVideoEncoderFactory(backend);
  for (const codec of ['h264', 'vp8'] as const) {
    const enc = createEncoder({ codec, width: 512, height: 512, fps: FPS, bitrateKbps: 1200, keyframeIntervalFrames: 100 });
    const n = codec === 'vp8' && backend === 'webcodecs' ? Math.min(FRAMES, 100) : FRAMES;
    let last: EncodedVideoFrame | undefined;
    results[`encode: ${codec} 512x512 (${backend})`] = summarize(await timeIt(n, async (i) => (last = await enc.encode(rendered[i % rendered.length]!, i * 40_000))));
    enc.close();
    if (backend !== defaultBackend) continue;
    const packetizer = new VideoPacketizer({ codec, payloadType: 96, ssrc: 1234 });
    const frame = last!;
    results[`packetize: ${codec}`] = summarize(await timeIt(n, (i) => packetizer.packetize(frame, i * 3600)));
  }
}
resampler.close();
await renderer.dispose();
Object.assign(results, await benchFanout(FRAMES));

const budgetMs = 1000 / FPS;
const perVideoFrame =
  2 * results['opus decode (20 ms packet)']!.mean +
  2 * results['resample 48k->16k (20 ms)']!.mean +
  results['motion: learned mouth, audio -> landmarks (per frame)']!.mean +
  results['render: warp 512x512']!.mean +
  results[`encode: h264 512x512 (${defaultBackend})`]!.mean +
  results['packetize: h264']!.mean;

console.log(`\nPer-stage cost on this machine (${FRAMES} frames, ${FPS} fps, 512x512; one thread)\n`);
printTable(Object.entries(results).map(([stage, s]) => ({ stage, 'mean ms': s.mean.toFixed(3), 'p50 ms': s.p50.toFixed(3), 'p95 ms': s.p95.toFixed(3), 'max ms': s.max.toFixed(3), n: s.n })));
const motionParts = ['features: log-mel (per frame)', 'motion: mesh (visemes + rig deform)', 'motion: pose (head motion)', 'motion: projection (pose + camera -> 468 landmarks)'];
const motionSum = motionParts.reduce((a, k) => a + results[k]!.mean, 0);
console.log(`\nMotion sub-stages of the rule-based stage (features + mesh + pose + projection): ${motionSum.toFixed(3)} ms mean per frame; whole rule-based stage: ${results['motion: audio -> landmarks (per frame)']!.mean.toFixed(3)} ms; learned (default): ${results['motion: learned mouth, audio -> landmarks (per frame)']!.mean.toFixed(3)} ms`);
console.log(`\nCPU per video frame, H.264 default path (${defaultBackend} encoder): ${perVideoFrame.toFixed(2)} ms of a ${budgetMs} ms frame budget`);
console.log(`-> about ${Math.floor(budgetMs / perVideoFrame)} sessions per core at ${FPS} fps before WebRTC/SRTP overhead\n`);

writeJson('bench', { date: new Date().toISOString(), frames: FRAMES, fps: FPS, encoder: defaultBackend, stages: results, perVideoFrameMs: perVideoFrame });
process.exit(0);
