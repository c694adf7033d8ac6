/**
 * Embedded Audio2Mesh without weights: speech cues -> mouth rig coefficients at the feature rate.
 * Silence closes the mouth; voiced loudness and a first-formant proxy open the jaw; a low second-formant
 * proxy rounds the lips and a high one spreads them; a short energy dip inside speech (the closure of
 * /p b m/) or a nasal murmur presses them. Targets are smoothed by critically damped springs with a faster
 * attack than release and a speed limit, and the mouth leads the sound by ANTICIPATION_MS as real lips do.
 */
import type { SpeechCues } from '../audio/LogMelExtractor.ts';
import { NUM_MOUTH_COEFFS, RIG } from './rigBases.ts';
import { clamp, smoothstep, springStep, type SpringState } from './smoothing.ts';
import { SpeechActivity } from './SpeechActivity.ts';

/** One smoothed mouth state. */
export interface VisemeStep {
  /** Step j: the mouth at audio time j / featureRate s (since the last reset). */
  index: number;
  /** Mouth coefficients in RIG slots 0..NUM_MOUTH_COEFFS-1; the array is reused by the next push. */
  mouth: Float32Array;
  /** The cue frame driving this step (audio time of step j + the anticipation). */
  cue: SpeechCues;
  /** Speech activity 0..1 of that cue. */
  activity: number;
  /** Loudness 0..1 of that cue. */
  loudness: number;
}

/** Mouth leads the audio by this much, ms (lips move before the sound they shape). */
export const ANTICIPATION_MS = 30;
/** Future audio used to confirm a closure (the release burst after a dip), ms. */
export const CLOSURE_LOOKAHEAD_MS = 40;

const HISTORY = 64; // cue frames kept (power of two)
const BACK_MS = 150; // speech before a dip, ms
// Natural frequencies (rad/s) for opening / closing; ~3.9/omega s to 90%: jaw opens in ~90 ms, closes in ~80 ms.
const OMEGA_UP = [42, 30, 30, 60, 40, 40];
const OMEGA_DOWN = [48, 30, 30, 45, 40, 40];
const MAX_SPEED = 9; // coefficient units/s; jaw 1 = 14 degrees, ~2 cm at the lower lip

/** Streaming viseme model for one session. */
export class VisemeModel {
  /** A step's index lags the newest cue index by this many frames (anticipation + closure lookahead). */
  readonly delayFrames: number;
  private readonly ahead: number;
  private readonly anticipation: number;
  private readonly back: number;
  private readonly dt: number;
  private readonly cues: (SpeechCues | undefined)[] = new Array<SpeechCues | undefined>(HISTORY);
  private readonly energy = new Float32Array(HISTORY);
  private readonly activityTracker: SpeechActivity;
  private readonly springs: SpringState[] = Array.from({ length: NUM_MOUTH_COEFFS }, () => ({ x: 0, v: 0 }));
  private readonly target = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly mouth = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly step: VisemeStep;
  private count = 0;

  /** Cue frames arrive at `featureRate` Hz. */
  constructor(featureRate: number) {
    if (!(featureRate >= 25 && featureRate <= 400)) throw new TypeError(`featureRate must be 25..400 Hz [featureRate:${featureRate}]`);
    this.dt = 1 / featureRate;
    this.ahead = Math.max(1, Math.round((CLOSURE_LOOKAHEAD_MS / 1000) * featureRate));
    this.anticipation = Math.round((ANTICIPATION_MS / 1000) * featureRate);
    this.back = Math.max(2, Math.round((BACK_MS / 1000) * featureRate));
    this.delayFrames = this.ahead + this.anticipation;
    this.activityTracker = new SpeechActivity(featureRate);
    this.step = { index: 0, mouth: this.mouth, cue: undefined as unknown as SpeechCues, activity: 0, loudness: 0 };
  }

  /** Add the next cue frame; returns the mouth state it completes, or null while j < 0. */
  push(cue: SpeechCues): VisemeStep | null {
    const n = this.count++;
    this.cues[n & (HISTORY - 1)] = cue;
    this.energy[n & (HISTORY - 1)] = Number.isFinite(cue.energyDb) ? cue.energyDb : -120;
    const m = n - this.ahead;
    if (m < 0) return null;
    const driving = this.cues[m & (HISTORY - 1)]!;
    const { activity, loudness } = this.computeTargets(m, driving);
    for (let c = 0; c < NUM_MOUTH_COEFFS; c++) {
      const s = this.springs[c]!;
      const t = this.target[c]!;
      springStep(s, t, t > s.x ? OMEGA_UP[c]! : OMEGA_DOWN[c]!, this.dt, MAX_SPEED);
      this.mouth[c] = clamp(s.x, 0, 1);
    }
    const j = m - this.anticipation;
    if (j < 0) return null;
    const step = this.step;
    step.index = j;
    step.cue = driving;
    step.activity = activity;
    step.loudness = loudness;
    return step;
  }

  /** Forget audio history; the mouth state returns to closed at rest and the next cue is index 0. */
  reset(): void {
    this.count = 0;
    this.cues.fill(undefined);
    this.activityTracker.reset();
    for (const s of this.springs) s.x = s.v = 0;
    this.mouth.fill(0);
  }

  private energyAt(i: number): number {
    return i < 0 ? -120 : this.energy[i & (HISTORY - 1)]!;
  }

  private computeTargets(m: number, cue: SpeechCues): { activity: number; loudness: number } {
    const sa = this.activityTracker;
    const e = this.energyAt(m);
    sa.update(e);
    const act = sa.activity(e);
    const rel = sa.loudness(e);
    const voiced = smoothstep(0.55, 0.8, finite(cue.voicing, 0));
    const f1n = clamp((finite(cue.f1Hz, 500) - 350) / 400, 0, 1);
    const f2 = finite(cue.f2Hz, 1500);
    const centroid = finite(cue.centroidHz, 1500);

    let jaw = act * (voiced * (0.2 + 0.5 * rel + 0.3 * f1n) + (1 - voiced) * 0.22 * (0.5 + 0.5 * rel));
    let round = act * voiced * smoothstep(1350, 950, f2);
    let spread = act * (voiced * smoothstep(1700, 2200, f2) + (1 - voiced) * 0.4 * smoothstep(3000, 4500, centroid));
    const lowerRaise = act * (1 - voiced) * 0.4 * (1 - rel);

    // Closure: a dip well below both the speech just before and the speech that resumes within the lookahead.
    let backMax = -120;
    for (let i = m - this.back; i <= m - 2; i++) backMax = Math.max(backMax, this.energyAt(i));
    let aheadMax = -120;
    for (let i = m + 1; i <= m + this.ahead; i++) aheadMax = Math.max(aheadMax, this.energyAt(i));
    const speechAround = backMax > sa.floorDb + 18 && aheadMax > sa.floorDb + 18;
    const dip = speechAround ? smoothstep(8, 16, Math.min(backMax, aheadMax) - e) : 0;
    const nasal = act * voiced * smoothstep(0, 10, finite(cue.lowRatioDb, -20)) * (1 - f1n);
    const press = Math.max(dip, 0.8 * nasal);
    jaw *= 1 - press;
    round *= 1 - 0.5 * press;
    spread *= 1 - press;

    const t = this.target;
    t[RIG.jawOpen] = clamp(jaw, 0, 1);
    t[RIG.lipRound] = clamp(round, 0, 1);
    t[RIG.lipStretch] = clamp(spread, 0, 1);
    t[RIG.lipPress] = clamp(press, 0, 1);
    t[RIG.upperLipRaise] = clamp(0.35 * spread, 0, 1);
    t[RIG.lowerLipRaise] = clamp(lowerRaise * (1 - press), 0, 1);
    return { activity: act, loudness: rel };
  }
}

function finite(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
