/**
 * One case of `npm run eval:real`: a portrait rendered with a real clip's audio through the session pipeline
 * (AvatarPipeline + the warp engine, 20 ms chunks via tools/render/frameLoop.ts), our frames measured by the
 * FaceMeasurer as they come (never all held in memory), compared with the clip's truth measurements.
 */
import sharp from 'sharp';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference, type LipRefiner } from '../../engines/face/ingestReference.ts';
import type { MotionEngineConfig } from '../../engines/motion/createMotionStage.ts';
import { mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';
import { AvatarPipeline } from '../../engines/pipeline.ts';
import type { RenderEngine } from '../../engines/render/createRenderEngine.ts';
import type { ReferencePortrait, RgbaImage } from '../../engines/types.ts';
import { runFrameLoop } from '../../tools/render/frameLoop.ts';
import type { FaceMeasurement, FaceMeasurer } from '../measure/FaceMeasurer.ts';
import { clipAudio16k, clipPath, type Truth } from '../measure/truthCache.ts';
import { readRawFrames } from '../measure/video.ts';
import { pickFrames, type SheetColumn } from './contactSheet.ts';
import { pearsonValid, scoreOpenings, type OpeningScores } from './metrics.ts';
import { paintOutsideLips } from './paintOutsideLips.ts';

/**
 * The pipeline's `motion` option as eval:real builds it. `audio2mesh` also admits 'learned' (the trained
 * audio->mouth model) whether or not this checkout's MotionEngineConfig lists it yet.
 */
/** Motion engines of a case (the pipeline's `motion` option). */
export type MotionChoice = Partial<MotionEngineConfig>;

/** Frames sent to the measurer at once. */
const MEASURE_BATCH = 16;

/** Scores of one case. */
export interface CaseScores extends OpeningScores {
  /** share of our frames where MediaPipe finds a face */
  foundOurs: number;
  /** share of our frames with paint outside the lips (paintOutsideLips flagged) */
  paintShare: number;
  /** correlation (lag 0) of our measured opening with the opening the motion stage commanded: what rendering keeps */
  renderR: number;
}

export interface CaseResult {
  clip: string;
  speaker: string;
  fold: number;
  frames: number;
  portrait: string;
  /** which motion engine / model scored this case */
  motion: MotionChoice;
  model: string;
  scores: CaseScores;
  /** the portrait measured by MediaPipe: its opening and its own dark lower-face pixel count (the paint baseline) */
  portraitOpening: number | null;
  paintBaseline: number;
  /** largest excess dark pixels over the baseline in any frame, and the frames flagged */
  paintMaxExcess: number;
  paintFrames: number[];
  /** our opening per frame (null = no face), for plots and reruns */
  oursOpening: (number | null)[];
  /** the opening the motion stage commanded per frame (its landmarks' inner-lip gap / mouth width) */
  commandedOpening: number[];
  /** render + measure loop, time the page spent measuring our frames, whole case (incl. sheet), ms */
  timing: { loopMs: number; measureMs: number; wallMs: number };
}

/** Make a portrait (aligned, size x size) from encoded image bytes with the product's ingest (its lip refiner too, if given). */
export async function portraitFromBytes(bytes: Uint8Array, size: number, landmarker: FaceLandmarker, lipRefiner?: LipRefiner): Promise<ReferencePortrait> {
  return ingestReference(bytes, { width: size, height: size, maxBytes: 64 << 20, maxPixels: 40e6, landmarker, lipRefiner });
}

/** PNG bytes of an RGBA frame. */
export async function pngOf(frame: RgbaImage): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), { raw: { width: frame.width, height: frame.height, channels: 4 } }).png().toBuffer());
}

export interface RunCaseOptions {
  truth: Truth;
  speaker: string;
  fold: number;
  portrait: ReferencePortrait;
  portraitName: string;
  engine: RenderEngine;
  measurer: FaceMeasurer;
  motion: MotionChoice;
  model: string;
  /** frames to render and score (<= truth.frames) */
  frames: number;
  seed?: number;
  /** contact-sheet columns to fill (truth frames decoded from the clip); omitted = no sheet */
  sheetFrames?: number;
}

const nullIfNaN = (x: number): number | null => (Number.isFinite(x) ? x : null);

export async function runCase(o: RunCaseOptions): Promise<{ result: CaseResult; sheet: SheetColumn[] }> {
  const started = performance.now();
  const { truth, measurer, portrait } = o;
  const fps = truth.fps;
  const n = Math.min(o.frames, truth.frames);
  const truthOpening = truth.opening.slice(0, n);

  // The portrait's own measurement: baseline of dark lower-face pixels (beard, shadows).
  const [pm] = await measurer.measure([portrait.image]);
  const baseline = pm && pm.found ? paintOutsideLips(portrait.image, pm).interior : 0;

  const picks = o.sheetFrames ? pickFrames(truthOpening, o.sheetFrames) : [];
  const kept = new Map<number, RgbaImage>();

  const pipeline = await AvatarPipeline.create({ fps, reference: portrait, engine: o.engine, motion: o.motion, seed: o.seed ?? 1 });
  const session = measurer.openVideo(fps);
  const measured: FaceMeasurement[] = [];
  const paint: ReturnType<typeof paintOutsideLips>[] = [];
  const commanded: number[] = [];
  let batch: RgbaImage[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let measureMs = 0;
  /** Send the batch to the page; the next batch renders while this one is measured (one in flight). */
  const flush = async (): Promise<void> => {
    const frames = batch;
    batch = [];
    await inFlight;
    inFlight = (async () => {
      const t = performance.now();
      const ms = await session.push(frames);
      measureMs += performance.now() - t;
      ms.forEach((m, i) => {
        measured.push(m);
        paint.push(paintOutsideLips(frames[i]!, m, baseline));
      });
    })();
    inFlight.catch(() => undefined); // observed by the next await
  };
  const loopStarted = performance.now();
  try {
    await runFrameLoop(pipeline, await clipAudio16k(truth.clip), n, async (image, motion, index) => {
      commanded.push(mouthOpening(motion.landmarks));
      const copy: RgbaImage = { width: image.width, height: image.height, data: Uint8Array.from(image.data) };
      if (picks.includes(index)) kept.set(index, copy);
      batch.push(copy);
      if (batch.length >= MEASURE_BATCH) await flush();
    });
    if (batch.length) await flush();
    await inFlight;
  } finally {
    await pipeline.dispose();
  }
  const loopMs = performance.now() - loopStarted;

  const oursOpening = measured.map((m) => nullIfNaN(m.opening));
  const opening = scoreOpenings(oursOpening, truthOpening, fps);
  const paintFrames = paint.map((p, i) => (p.flagged ? i : -1)).filter((i) => i >= 0);
  const scores: CaseScores = {
    ...opening,
    foundOurs: measured.filter((m) => m.found).length / Math.max(1, measured.length),
    paintShare: paintFrames.length / Math.max(1, paint.length),
    renderR: pearsonValid(oursOpening, commanded),
  };

  const sheet: SheetColumn[] = [];
  if (picks.length) {
    const truthFrames = new Map<number, RgbaImage>();
    let k = 0;
    const last = Math.max(...picks);
    for await (const f of readRawFrames(clipPath(truth.clip), truth.width, truth.height, fps, last + 1)) {
      if (picks.includes(k)) truthFrames.set(k, f);
      k++;
    }
    for (const i of picks) {
      const col: SheetColumn = { index: i, fps, truthOpening: truthOpening[i] ?? null, oursOpening: oursOpening[i] ?? null, paint: paint[i]?.flagged ?? false };
      const tf = truthFrames.get(i);
      const of = kept.get(i);
      if (tf) col.truth = tf;
      if (of) col.ours = of;
      const tl = truth.landmarks.subarray(i * 478 * 3, (i + 1) * 478 * 3);
      if (Number.isFinite(tl[0]!)) col.truthLandmarks = tl;
      if (measured[i]?.found) col.oursLandmarks = measured[i]!.landmarks;
      sheet.push(col);
    }
  }

  return {
    result: {
      clip: truth.clip,
      speaker: o.speaker,
      fold: o.fold,
      frames: n,
      portrait: o.portraitName,
      motion: o.motion,
      model: o.model,
      scores,
      portraitOpening: pm ? nullIfNaN(pm.opening) : null,
      paintBaseline: baseline,
      paintMaxExcess: paint.reduce((m, p) => Math.max(m, p.excess), 0),
      paintFrames,
      oursOpening: oursOpening.map((x) => (x === null ? null : Number(x.toFixed(5)))),
      commandedOpening: commanded.map((x) => Number(x.toFixed(5))),
      timing: { loopMs: Math.round(loopMs), measureMs: Math.round(measureMs), wallMs: Math.round(performance.now() - started) },
    },
    sheet,
  };
}
