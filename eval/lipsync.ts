/**
 * Lip-sync evaluation of the motion stage.
 * `npm run eval:lipsync [-- --quick] [--fps 25] [--out eval-output/lipsync.json] [--mouth learned|embedded] [--wav2vec F.onnx --audio2mesh F.onnx --audio2pose F.onnx]`
 *
 * 1. Synthetic speech with known phoneme timing: eSpeak-ng sentences in several voices, rates and pitches
 *    (phoneme events from libespeak-ng's C API), mapped to viseme classes; per class, the share of frames
 *    the motion shows correctly and the onset timing offset (eval/README.md defines both).
 * 2. Real speech (assets/speech/jfk.wav, ../shared/media/speech/LJ001-000[1-6].wav when present): correlation
 *    of the mouth opening with the speech envelope, and the mean opening during pauses.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readWav } from '../server/media/wav.ts';
import { resampleAll } from '../server/media/Resampler.ts';
import type { MotionEngineConfig } from '../engines/motion/createMotionStage.ts';
import { AUDIO_RATE } from '../engines/types.ts';
import { speak, type EspeakVoice } from './espeakPhonemes.ts';
import { canonicalReference, runMotion } from './motionRunner.ts';
import {
  bestLagCorrelation, classSignal, countCorrect, frameEnvelopeDb, mean, mouthMeasure, mouthRest, OnsetTiming, pauseMask, pearson,
  THRESHOLDS, type ClassCount,
} from './scoring.ts';
import { signalWindows, stopSegments } from './stops.ts';
import { labelSegments, SCORED_CLASSES, VISEME_CLASSES, type VisemeClass } from './visemes.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** Sentences rich in bilabials, open, rounded and spread vowels, with pauses (commas, full stops). */
export const SENTENCES: readonly string[] = [
  'Bob bought a big map of the moon.',
  'Peter picked a pepper, then he stopped.',
  'Who would lose two blue shoes at noon?',
  'We see three green sheep eating cheese.',
  'Father saw a large car in the dark park.',
  'My mom made more lemon muffins, maybe.',
  'Please keep the window open in the evening.',
  'Go slowly through the old town, Joe.',
  'The birch canoe slid on the smooth planks.',
  'A pale blue balloon popped above my head.',
];

/** Voice settings cycled over the sentences: voices x rates x pitches (`en` is eSpeak's British English voice). */
export const VOICES: readonly EspeakVoice[] = [
  { voice: 'en-us', rateWpm: 175, pitch: 50 },
  { voice: 'en', rateWpm: 140, pitch: 40 },
  { voice: 'en-us+f3', rateWpm: 160, pitch: 70 },
  { voice: 'en+m3', rateWpm: 210, pitch: 35 },
  { voice: 'en-us+f2', rateWpm: 230, pitch: 60, range: 80 },
  { voice: 'en-gb-x-rp', rateWpm: 120, pitch: 55, range: 30 },
];

const PAD_S = 0.4; // silence before and after each utterance
const NOISE = 3e-4; // ~ -70 dBFS background noise, like a quiet microphone

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    fps: { type: 'string', default: '25' },
    out: { type: 'string', default: 'eval-output/lipsync.json' },
    // The mouth engine (default: the config default, the learned mouth), or ONNX graphs by path.
    mouth: { type: 'string' },
    wav2vec: { type: 'string' },
    audio2mesh: { type: 'string' },
    audio2pose: { type: 'string' },
  },
});
if (args.mouth !== undefined && args.mouth !== 'learned' && args.mouth !== 'embedded') {
  process.stderr.write(`--mouth must be learned or embedded [mouth:${args.mouth}]\n`);
  process.exit(2);
}
const engine: Partial<MotionEngineConfig> | undefined = args.wav2vec || args.audio2mesh || args.audio2pose || args.mouth
  ? {
      ...(args.mouth ? { audio2mesh: args.mouth as 'learned' | 'embedded' } : {}),
      ...(args.wav2vec ? { features: 'wav2vec' as const, wav2vecPath: args.wav2vec } : {}),
      ...(args.audio2mesh ? { audio2mesh: 'onnx' as const, audio2meshPath: args.audio2mesh } : {}),
      ...(args.audio2pose ? { audio2pose: 'onnx' as const, audio2posePath: args.audio2pose } : {}),
    }
  : undefined;

const fps = Number(args.fps);
if (!(fps >= 10 && fps <= 60)) {
  console.error(`--fps must be 10..60 [fps:${args.fps}]`);
  process.exit(2);
}
const started = performance.now();
const reference = canonicalReference();
const rest = mouthRest(reference);

// ---- 1. synthetic speech with phoneme timing ----
const counts: Partial<Record<VisemeClass, ClassCount>> = {};
const timing = new Map<VisemeClass, OnsetTiming>(SCORED_CLASSES.map((c) => [c, new OnsetTiming(6)]));
const sums = new Map<VisemeClass, { open: number; width: number; n: number }>();
const utterances: { text: string; voice: EspeakVoice; seconds: number; frames: number; phonemes: number }[] = [];
const combos: [string, EspeakVoice][] = [];
for (let s = 0; s < SENTENCES.length; s++) {
  // Full: every sentence in every voice setting; quick: one setting per sentence, cycling.
  if (args.quick) combos.push([SENTENCES[s]!, VOICES[s % VOICES.length]!]);
  else for (const v of VOICES) combos.push([SENTENCES[s]!, v]);
}
let seed = 7;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;

for (const [text, voice] of combos) {
  const spoken = await speak(text, voice);
  const pcm = await resampleAll(spoken.samples, spoken.sampleRate, AUDIO_RATE);
  const pad = Math.round(PAD_S * AUDIO_RATE);
  const audio = new Float32Array(pcm.length + 2 * pad);
  audio.set(pcm, pad);
  for (let i = 0; i < audio.length; i++) audio[i]! += NOISE * rand();
  // Labels: phoneme events with each stop's label moved over its closure (measured on eSpeak's own clean audio).
  const segments = stopSegments(spoken.phonemes, signalWindows(spoken.samples, spoken.sampleRate), spoken.sampleRate)
    .map((g) => ({ cls: g.cls, sample: Math.round((g.sample * AUDIO_RATE) / spoken.sampleRate) + pad }));
  const frames = await runMotion(audio, { fps, reference, ...(engine ? { engine } : {}) });
  const labels = labelSegments(segments, AUDIO_RATE, fps, frames.length, pad + pcm.length);
  const measures = frames.map((f) => mouthMeasure(f.landmarks, rest));
  countCorrect(labels, measures, counts);
  for (const c of SCORED_CLASSES) {
    timing.get(c)!.add(labels.map((l) => (l === c ? 1 : 0)), measures.map((m) => classSignal(c, m)));
  }
  labels.forEach((c, k) => {
    const e = sums.get(c) ?? { open: 0, width: 0, n: 0 };
    e.open += measures[k]!.open;
    e.width += measures[k]!.width;
    e.n++;
    sums.set(c, e);
  });
  utterances.push({ text, voice, seconds: audio.length / AUDIO_RATE, frames: frames.length, phonemes: spoken.phonemes.length });
}

interface ClassRow {
  cls: VisemeClass;
  frames: number;
  correct: number | null;
  share: number | null;
  offsetFrames: number | null;
  offsetMs: number | null;
  onsets: number;
  meanOpen: number;
  meanWidth: number;
}
const classRows: ClassRow[] = VISEME_CLASSES.map((cls) => {
  const c = counts[cls] ?? { frames: 0, correct: 0 };
  const scored = cls !== 'other';
  const t = timing.get(cls);
  const off = t ? t.offsetFrames() : Number.NaN;
  const s = sums.get(cls) ?? { open: Number.NaN, width: Number.NaN, n: 1 };
  return {
    cls,
    frames: c.frames,
    correct: scored ? c.correct : null,
    share: scored && c.frames > 0 ? c.correct / c.frames : null,
    offsetFrames: Number.isFinite(off) ? off : null,
    offsetMs: Number.isFinite(off) ? (off * 1000) / fps : null,
    onsets: t ? t.onsets : 0,
    meanOpen: s.open / s.n,
    meanWidth: s.width / s.n,
  };
});

// ---- 2. real speech ----
const realFiles = [join(ROOT, 'assets/speech/jfk.wav')];
for (let i = 1; i <= 6; i++) realFiles.push(join(ROOT, `../shared/media/speech/LJ001-000${i}.wav`));
interface RealRow {
  file: string;
  seconds: number;
  r: number;
  bestLag: number;
  rBestLag: number;
  pauseFrames: number;
  meanOpenPause: number | null;
  meanOpenSpeech: number;
}
const realRows: RealRow[] = [];
for (const file of realFiles.filter((f) => existsSync(f))) {
  const wav = await readWav(file);
  const pcm = await resampleAll(wav.samples, wav.sampleRate, AUDIO_RATE);
  const frames = await runMotion(pcm, { fps, reference, ...(engine ? { engine } : {}) });
  const open = frames.map((f) => mouthMeasure(f.landmarks, rest).open);
  const env = frameEnvelopeDb(pcm, AUDIO_RATE, fps, frames.length);
  const pause = pauseMask(env);
  const best = bestLagCorrelation(env, open, 3);
  const inPause = open.filter((_, k) => pause[k] === 1);
  const inSpeech = open.filter((_, k) => pause[k] === 0);
  realRows.push({
    file: file.startsWith(ROOT) ? file.slice(ROOT.length) : file,
    seconds: pcm.length / AUDIO_RATE,
    r: pearson(env, open),
    bestLag: best.lag,
    rBestLag: best.r,
    pauseFrames: inPause.length,
    meanOpenPause: inPause.length > 0 ? mean(inPause) : null,
    meanOpenSpeech: mean(inSpeech),
  });
}

// ---- report ----
const f = (x: number | null, d = 2): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const pct = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(0)}%`);
const line = (cells: string[], widths: number[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

const synthSeconds = utterances.reduce((s, u) => s + u.seconds, 0);
console.log(`\nLip-sync on eSpeak-ng speech: ${utterances.length} utterances, ${synthSeconds.toFixed(1)} s, ${fps} fps, ${new Set(utterances.map((u) => u.voice.voice)).size} voices`);
const w1 = [8, 7, 9, 8, 9, 7, 9, 9];
console.log(line(['class', 'frames', 'correct', 'offset', 'offset', 'onsets', 'mean', 'mean'], w1));
console.log(line(['', '', '', 'frames', 'ms', '', 'open', 'width'], w1));
for (const r of classRows) {
  console.log(line([r.cls, String(r.frames), pct(r.share), f(r.offsetFrames), f(r.offsetMs, 0), String(r.onsets), f(r.meanOpen, 3), f(r.meanWidth, 3)], w1));
}
console.log(
  `correct = closed/silence: open < ${THRESHOLDS.closedMaxOpen}; open: open >= ${THRESHOLDS.openMinOpen}; ` +
    `rounded: width <= ${THRESHOLDS.roundedMaxWidth}; spread: width >= ${THRESHOLDS.spreadMinWidth}`,
);
console.log('open = inner-lip gap / rest mouth width; width = mouth width / rest width; offset > 0: motion late');

console.log(`\nReal speech: mouth opening vs speech envelope (dB), ${fps} fps`);
const w2 = [26, 6, 6, 5, 7, 6, 10, 10];
console.log(line(['file', 's', 'r', 'lag', 'r@lag', 'pause', 'open', 'open'], w2));
console.log(line(['', '', '', '', '', 'frames', 'pause', 'speech'], w2));
for (const r of realRows) {
  console.log(line([r.file.replace(/^.*\//, ''), f(r.seconds, 1), f(r.r), String(r.bestLag), f(r.rBestLag), String(r.pauseFrames), f(r.meanOpenPause, 3), f(r.meanOpenSpeech, 3)], w2));
}
console.log('pause = frame and 2 frames either side > 30 dB under the 95th percentile level; lag > 0: mouth after sound');

const seconds = (performance.now() - started) / 1000;
const outPath = resolve(ROOT, args.out!);
const report = {
  createdAt: new Date().toISOString(),
  fps,
  engine: engine ?? 'default (learned mouth)',
  runtimeS: Number(seconds.toFixed(1)),
  definitions: {
    open: 'inner-lip gap (landmarks 13-14) in units of the rest mouth width (61-291), both scaled by the outer eye-corner distance (33-263); the rig seals the reference lips at rest, so 0 = lips touch',
    width: 'mouth width (61-291) / rest mouth width, both scaled by the outer eye-corner distance',
    thresholds: THRESHOLDS,
    frameLabel: 'the label segment at the frame centre (k + 1/2) / fps: the phoneme sounding there, except that each stop (p t k b d g tS dZ) also covers its closure (the silent tail of the preceding phoneme, up to 150 ms, and a voiced stop\'s voice bar); bilabial closure = closed, bilabial release (burst, aspiration) = other; eval/README.md',
    offset: 'peak of the cross-correlation of class onsets (rising edges of the label indicator) with rising edges of the class signal, summed over utterances, parabola-refined; positive = motion late',
    pause: 'frame and 2 frames either side more than 30 dB under the 95th percentile frame level',
  },
  synthetic: { utterances, classes: classRows },
  real: realRows,
};
await mkdir(dirname(outPath), { recursive: true });
await writeFile(outPath, JSON.stringify(report, null, 2) + '\n');
console.log(`\nwrote ${outPath} in ${seconds.toFixed(1)} s`);
