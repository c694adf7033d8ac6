/**
 * Pure scoring of the lip-sync evaluation: mouth measures from 2D landmarks, per-class "shown correctly",
 * onset timing offsets by cross-correlation, and envelope statistics for real speech.
 */
import type { Landmarks2D } from '../engines/types.ts';
import { percentileOfSorted } from '../engines/util/percentile.ts';
import type { VisemeClass } from './visemes.ts';

/** Landmark ids (MediaPipe face mesh): inner lip midpoints, mouth corners, outer eye corners. */
const UPPER_INNER = 13;
const LOWER_INNER = 14;
const CORNER_L = 61;
const CORNER_R = 291;
const EYE_L = 33;
const EYE_R = 263;

/** Mouth shape of one frame, normalised so that head scale and pose changes largely cancel. */
export interface MouthMeasure {
  /** Inner-lip gap (13-14) in units of the rest mouth width (0 = lips touch; the rig seals the reference's own gap at rest). */
  open: number;
  /** Mouth width (corner to corner) over the reference's, both relative to the outer-eye-corner distance (1 = rest). */
  width: number;
}

/** Rest geometry of the reference portrait, in eye-distance units. */
export interface MouthRest {
  /** Mouth width (61-291) / outer eye-corner distance (33-263). */
  width: number;
}

function dist(l: Landmarks2D, a: number, b: number): number {
  return Math.hypot(l[2 * a]! - l[2 * b]!, l[2 * a + 1]! - l[2 * b + 1]!);
}

/** Rest geometry of a reference's landmarks [468 * 2]. */
export function mouthRest(reference: Landmarks2D): MouthRest {
  const eye = dist(reference, EYE_L, EYE_R);
  if (!(eye > 0)) throw new TypeError('reference landmarks have no eye distance');
  return { width: dist(reference, CORNER_L, CORNER_R) / eye };
}

/** Mouth measures of one frame's landmarks [468 * 2] against the reference's rest geometry. */
export function mouthMeasure(landmarks: Landmarks2D, rest: MouthRest): MouthMeasure {
  const eye = dist(landmarks, EYE_L, EYE_R);
  const gap = dist(landmarks, UPPER_INNER, LOWER_INNER) / eye;
  const width = dist(landmarks, CORNER_L, CORNER_R) / eye;
  return { open: gap / rest.width, width: width / rest.width };
}

/** Thresholds of "shown correctly" (see `shownCorrectly` and eval/README.md), in MouthMeasure units. */
export const THRESHOLDS = Object.freeze({
  /** Lips count as together below this opening (4% of the mouth width: ~2 mm on an adult mouth). */
  closedMaxOpen: 0.04,
  /** An open vowel needs at least this opening (15% of the mouth width: ~7-8 mm). */
  openMinOpen: 0.15,
  /** A rounded shape needs the mouth this much narrower than at rest. */
  roundedMaxWidth: 0.97,
  /** A spread shape needs the mouth this much wider than at rest. */
  spreadMinWidth: 1.02,
});

/** Whether frame measure `m` shows class `c` (`other` has no criterion: always false). */
export function shownCorrectly(c: VisemeClass, m: MouthMeasure): boolean {
  const t = THRESHOLDS;
  switch (c) {
    case 'closed':
    case 'silence':
      return m.open < t.closedMaxOpen;
    case 'open':
      return m.open >= t.openMinOpen;
    case 'rounded':
      return m.width <= t.roundedMaxWidth;
    case 'spread':
      return m.width >= t.spreadMinWidth;
    case 'other':
      return false;
  }
}

/**
 * The signal that rises when the motion shows class `c` (used for onset timing):
 * closed/silence -> -open, open -> open, rounded -> -(width - 1), spread -> width - 1.
 */
export function classSignal(c: VisemeClass, m: MouthMeasure): number {
  switch (c) {
    case 'closed':
    case 'silence':
      return -m.open;
    case 'open':
      return m.open;
    case 'rounded':
      return 1 - m.width;
    case 'spread':
      return m.width - 1;
    case 'other':
      return 0;
  }
}

/** Counts of one class: frames labelled, frames shown correctly. */
export interface ClassCount {
  frames: number;
  correct: number;
}

/** Per-class counts over aligned labels and measures (lengths must match). */
export function countCorrect(labels: readonly VisemeClass[], measures: readonly MouthMeasure[], into: Partial<Record<VisemeClass, ClassCount>> = {}): Partial<Record<VisemeClass, ClassCount>> {
  if (labels.length !== measures.length) throw new TypeError(`labels and measures differ in length [${labels.length} vs ${measures.length}]`);
  for (let k = 0; k < labels.length; k++) {
    const c = labels[k]!;
    const e = (into[c] ??= { frames: 0, correct: 0 });
    e.frames++;
    if (shownCorrectly(c, measures[k]!)) e.correct++;
  }
  return into;
}

/** Rising edges: out[k] = max(0, x[k] - x[k-1]) (out[0] = 0). */
export function risingEdges(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let k = 1; k < x.length; k++) out[k] = Math.max(0, x[k]! - x[k - 1]!);
  return out;
}

/**
 * Cross-correlation sums of two equally long series, for lags -maxLag..maxLag:
 * r[lag] = sum_k a[k] * b[k + lag], each series mean-removed. Accumulates into `acc` (length 2*maxLag+1).
 */
export function crossCorrelate(a: ArrayLike<number>, b: ArrayLike<number>, maxLag: number, acc: Float64Array = new Float64Array(2 * maxLag + 1)): Float64Array {
  if (a.length !== b.length) throw new TypeError(`series differ in length [${a.length} vs ${b.length}]`);
  const n = a.length;
  const ma = mean(a), mb = mean(b);
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let s = 0;
    for (let k = Math.max(0, -lag); k < n && k + lag < n; k++) s += (a[k]! - ma) * (b[k + lag]! - mb);
    acc[lag + maxLag]! += s;
  }
  return acc;
}

/**
 * Lag of the cross-correlation peak, in frames, refined by a parabola through the peak and its neighbours.
 * Positive: `b` (the motion) comes later than `a` (the reference). NaN when there is no positive peak.
 */
export function peakLag(r: ArrayLike<number>, maxLag: number): number {
  let best = -1;
  for (let i = 0; i < r.length; i++) if (best < 0 || r[i]! > r[best]!) best = i;
  if (best < 0 || !(r[best]! > 0)) return Number.NaN;
  let frac = 0;
  if (best > 0 && best < r.length - 1) {
    const y0 = r[best - 1]!, y1 = r[best]!, y2 = r[best + 1]!;
    const den = y0 - 2 * y1 + y2;
    if (den < 0) frac = Math.max(-0.5, Math.min(0.5, (0.5 * (y0 - y2)) / den));
  }
  return best - maxLag + frac;
}

/** Onset timing accumulator of one class over many utterances. */
export class OnsetTiming {
  readonly maxLag: number;
  private readonly acc: Float64Array;
  /** Class onsets seen (rising edges of the label indicator). */
  onsets = 0;

  constructor(maxLag = 6) {
    this.maxLag = maxLag;
    this.acc = new Float64Array(2 * maxLag + 1);
  }

  /** Add one utterance: `isClass[k]` 1/0 from the labels, `signal[k]` from classSignal of the motion. */
  add(isClass: ArrayLike<number>, signal: ArrayLike<number>): void {
    const a = risingEdges(isClass);
    for (let k = 0; k < a.length; k++) if (a[k]! > 0) this.onsets++;
    crossCorrelate(a, risingEdges(signal), this.maxLag, this.acc);
  }

  /** Offset of the motion's onsets from the labels' onsets, frames (positive = motion late). */
  offsetFrames(): number {
    return peakLag(this.acc, this.maxLag);
  }
}

/** Arithmetic mean (NaN for an empty series). */
export function mean(x: ArrayLike<number>): number {
  if (x.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/** Pearson correlation of two equally long series (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TypeError(`series differ in length [${a.length} vs ${b.length}]`);
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma, db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

/**
 * Speech envelope per video frame: RMS level in dB of the samples of frame k ([k/fps, (k+1)/fps)),
 * floored at `floorDb` below the 95th percentile of the frames (so digital silence does not dominate).
 */
export function frameEnvelopeDb(samples: Float32Array, sampleRate: number, fps: number, numFrames: number, floorDb = 50): Float64Array {
  const out = new Float64Array(numFrames);
  for (let k = 0; k < numFrames; k++) {
    const a = Math.round((k * sampleRate) / fps);
    const b = Math.min(samples.length, Math.round(((k + 1) * sampleRate) / fps));
    let s = 0;
    for (let i = a; i < b; i++) s += samples[i]! * samples[i]!;
    out[k] = b > a ? 10 * Math.log10(s / (b - a) + 1e-12) : -120;
  }
  const top = percentile(out, 0.95);
  for (let k = 0; k < numFrames; k++) out[k] = Math.max(out[k]!, top - floorDb);
  return out;
}

/**
 * Pause frames: the frame and `holdFrames` frames either side are all more than `belowDb` under the
 * envelope's 95th percentile.
 */
export function pauseMask(envelopeDb: ArrayLike<number>, belowDb = 30, holdFrames = 2): Uint8Array {
  const top = percentile(envelopeDb, 0.95);
  const n = envelopeDb.length;
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    let quiet = true;
    for (let j = Math.max(0, k - holdFrames); j <= Math.min(n - 1, k + holdFrames) && quiet; j++) quiet = envelopeDb[j]! < top - belowDb;
    out[k] = quiet ? 1 : 0;
  }
  return out;
}

/** Correlation of `b` with `a` delayed by each lag in -maxLag..maxLag; returns the best lag and its r. */
export function bestLagCorrelation(a: ArrayLike<number>, b: ArrayLike<number>, maxLag: number): { lag: number; r: number } {
  let best = { lag: 0, r: Number.NEGATIVE_INFINITY };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const xa: number[] = [], xb: number[] = [];
    for (let k = Math.max(0, -lag); k < a.length && k + lag < b.length; k++) {
      xa.push(a[k]!);
      xb.push(b[k + lag]!);
    }
    const r = pearson(xa, xb);
    if (r > best.r) best = { lag, r };
  }
  return best;
}

/** q-quantile (0..1) by nearest rank of a copy of `x`. */
export function percentile(x: ArrayLike<number>, q: number): number {
  return percentileOfSorted(Float64Array.from(x).sort(), q);
}
