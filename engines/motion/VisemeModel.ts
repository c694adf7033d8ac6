/**
 * Embedded Audio2Mesh without weights: speech cues -> mouth rig coefficients at the feature rate.
 * Silence closes the mouth; voiced loudness and a first-formant proxy open the jaw; a low second-formant
 * proxy and a low spectral centroid round the lips and a high second-formant proxy spreads them. Bilabial
 * closures press the lips together: a voiced low-band murmur with a low second-formant proxy (the voice bar
 * of /b/, the murmur of /m/) or a short silent dip inside speech (the closure of /p/; /t k/ closures count
 * less, or fully when the release burst is low like a /p/'s). The lips are planned to meet where the closure
 * starts and to part at its release (closing ~60 ms, opening ~50 ms, as real lips); other targets are
 * smoothed by critically damped springs with a faster attack than release and speed limits, and the mouth
 * leads the sound by ANTICIPATION_MS as real lips do.
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
/** Future audio used to see a closure coming (and its release burst), ms. */
export const CLOSURE_LOOKAHEAD_MS = 40;

const HISTORY = 64; // cue frames kept (power of two)
const BACK_MS = 150; // speech before a dip, ms
// Natural frequencies (rad/s) for opening / closing; ~3.9/omega s to 90%: jaw opens in ~90 ms, closes in ~80 ms,
// rounding ~85 ms; the press follows its planned trajectory (below) within ~15 ms.
const OMEGA_UP = [42, 45, 30, 120, 40, 40];
const OMEGA_DOWN = [48, 45, 30, 120, 40, 40];
// Speed limits, coefficient units/s: jaw 1 = 14 degrees, ~2 cm at the lower lip (~180 mm/s); press 1 closes the
// whole lip gap (~1 cm at most: ~200 mm/s, the peak speed of lips closing for /p b m/).
const MAX_SPEED = [9, 6, 6, 20, 8, 8];
// Planned press: the target ramps up from PRESS_LEAD_MS before the closure to full PRESS_MEET_MS before it, holds
// PRESS_HOLD_MS past its last frame and falls within PRESS_RELEASE_MS more; with the spring and the speed limit
// the lips take ~60 ms to close (meeting at the acoustic closure) and ~50-60 ms to part after the release.
const PRESS_LEAD_MS = 40;
const PRESS_MEET_MS = 0;
const PRESS_HOLD_MS = 0;
const PRESS_RELEASE_MS = 40;
const MAX_DIP_MS = 160; // an energy dip longer than this is a pause, not a closure
const ROUND_AHEAD_MS = 20; // rounding starts this much before the rounded sound (on top of the anticipation)
const UNPLACED_DIP = 0.3; // press of a silent closure whose place is unknown (p, t or k)

/** Streaming viseme model for one session. */
export class VisemeModel {
  /** A step's index lags the newest cue index by this many frames (anticipation + closure lookahead). */
  readonly delayFrames: number;
  private readonly ahead: number;
  private readonly anticipation: number;
  private readonly back: number;
  private readonly dt: number;
  private readonly lead: number;
  private readonly meet: number;
  private readonly hold: number;
  private readonly release: number;
  private readonly maxDip: number;
  private readonly roundAhead: number;
  private readonly cues: (SpeechCues | undefined)[] = new Array<SpeechCues | undefined>(HISTORY);
  private readonly energy = new Float32Array(HISTORY);
  /** Closure evidence 0..1 of each cue frame (see closureEvidence); silent dips are revised at their release. */
  private readonly closure = new Float32Array(HISTORY);
  private readonly murmur = new Float32Array(HISTORY);
  private readonly dip = new Float32Array(HISTORY);
  /** Lip rounding 0..1 of each cue frame (see roundingOf). */
  private readonly rounding = new Float32Array(HISTORY);
  private readonly activityTracker: SpeechActivity;
  private readonly springs: SpringState[] = Array.from({ length: NUM_MOUTH_COEFFS }, () => ({ x: 0, v: 0 }));
  private readonly target = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly mouth = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly step: VisemeStep;
  private count = 0;
  private dipRun = 0; // consecutive silent-dip frames up to the newest cue

  /** Cue frames arrive at `featureRate` Hz. */
  constructor(featureRate: number) {
    if (!(featureRate >= 25 && featureRate <= 400)) throw new TypeError(`featureRate must be 25..400 Hz [featureRate:${featureRate}]`);
    this.dt = 1 / featureRate;
    const frames = (ms: number): number => Math.round((ms / 1000) * featureRate);
    this.ahead = Math.max(1, frames(CLOSURE_LOOKAHEAD_MS));
    this.anticipation = frames(ANTICIPATION_MS);
    this.back = Math.max(2, frames(BACK_MS));
    this.delayFrames = this.ahead + this.anticipation;
    this.lead = Math.min(this.delayFrames, Math.max(1, frames(PRESS_LEAD_MS)));
    this.meet = Math.min(this.lead - 1, frames(PRESS_MEET_MS));
    this.hold = frames(PRESS_HOLD_MS);
    this.release = Math.max(1, frames(PRESS_RELEASE_MS));
    this.maxDip = Math.max(2, frames(MAX_DIP_MS));
    this.roundAhead = Math.min(this.ahead, frames(ROUND_AHEAD_MS));
    this.activityTracker = new SpeechActivity(featureRate);
    this.step = { index: 0, mouth: this.mouth, cue: undefined as unknown as SpeechCues, activity: 0, loudness: 0 };
  }

  /** Add the next cue frame; returns the mouth state it completes, or null while j < 0. */
  push(cue: SpeechCues): VisemeStep | null {
    const n = this.count++;
    this.cues[n & (HISTORY - 1)] = cue;
    this.energy[n & (HISTORY - 1)] = Number.isFinite(cue.energyDb) ? cue.energyDb : -120;
    this.closure[n & (HISTORY - 1)] = this.closureEvidence(n, cue);
    this.rounding[n & (HISTORY - 1)] = this.roundingOf(n, cue);
    const m = n - this.ahead;
    if (m < 0) return null;
    const driving = this.cues[m & (HISTORY - 1)]!;
    const { activity, loudness } = this.computeTargets(m, driving, n);
    for (let c = 0; c < NUM_MOUTH_COEFFS; c++) {
      const s = this.springs[c]!;
      const t = this.target[c]!;
      springStep(s, t, t > s.x ? OMEGA_UP[c]! : OMEGA_DOWN[c]!, this.dt, MAX_SPEED[c]!);
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
    this.closure.fill(0);
    this.murmur.fill(0);
    this.dip.fill(0);
    this.rounding.fill(0);
    this.dipRun = 0;
    this.activityTracker.reset();
    for (const s of this.springs) s.x = s.v = 0;
    this.mouth.fill(0);
  }

  private energyAt(i: number): number {
    return i < 0 ? -120 : this.energy[i & (HISTORY - 1)]!;
  }

  /** Targets of the mouth at audio time m - anticipation, from cue m and the closure evidence up to cue `newest`. */
  private computeTargets(m: number, cue: SpeechCues, newest: number): { activity: number; loudness: number } {
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
    // Rounding anticipates the rounded sound (lips protrude before it): the strongest rounding of the next
    // ROUND_AHEAD_MS; it takes over from spreading.
    let round = 0;
    for (let i = m; i <= Math.min(newest, m + this.roundAhead); i++) round = Math.max(round, this.rounding[i & (HISTORY - 1)]!);
    let spread = act * (voiced * smoothstep(1700, 2200, f2) + (1 - voiced) * 0.4 * smoothstep(3000, 4500, centroid)) * (1 - round);
    const lowerRaise = act * (1 - voiced) * 0.4 * (1 - rel);

    // Planned closure: each closure frame i pulls the press of the mouth at time j = m - anticipation up along
    // a smooth ramp that starts `lead` frames before it and is complete `meet` frames before it, holds `hold`
    // frames after it and lets go over `release` frames.
    const j = m - this.anticipation;
    let press = 0;
    const from = Math.max(0, j - this.hold - this.release);
    const to = Math.min(newest, j + this.lead);
    for (let i = from; i <= to; i++) {
      const ev = this.closure[i & (HISTORY - 1)]!;
      if (ev <= press) continue;
      const d = i - j;
      const k = d > this.meet ? smoothstep(this.lead, this.meet, d) : d >= -this.hold ? 1 : smoothstep(-this.hold - this.release, -this.hold, d);
      press = Math.max(press, ev * k);
    }
    jaw *= 1 - 0.3 * press;
    round *= 1 - 0.5 * press;
    spread *= 1 - 0.5 * press;

    const t = this.target;
    t[RIG.jawOpen] = clamp(jaw, 0, 1);
    t[RIG.lipRound] = clamp(round, 0, 1);
    t[RIG.lipStretch] = clamp(spread, 0, 1);
    t[RIG.lipPress] = clamp(press, 0, 1);
    t[RIG.upperLipRaise] = clamp(0.35 * spread, 0, 1);
    t[RIG.lowerLipRaise] = clamp(lowerRaise * (1 - press), 0, 1);
    return { activity: act, loudness: rel };
  }

  /**
   * Lip rounding of cue frame n (the newest): rounding lowers the formants, so a loud voiced sound with a low
   * second-formant proxy and a first formant that is not high (/o/, not the open /a/), or with a low spectral
   * centroid and no high second formant (/u/, not /i/), is rounded. Nasal murmurs (well under the speech
   * level) are not.
   */
  private roundingOf(n: number, cue: SpeechCues): number {
    const sa = this.activityTracker;
    const e = this.energyAt(n);
    const voiced = smoothstep(0.55, 0.8, finite(cue.voicing, 0));
    const f2 = finite(cue.f2Hz, 1500);
    const centroid = finite(cue.centroidHz, 1500);
    const f1 = finite(cue.f1Hz, 500);
    const back = smoothstep(1350, 950, f2) * smoothstep(750, 550, f1);
    const dark = smoothstep(700, 500, centroid) * smoothstep(2000, 1650, f2);
    const loud = 1 - smoothstep(5, 10, sa.levelDb - e);
    return sa.activity(e) * voiced * loud * Math.max(back, dark);
  }

  /**
   * Closure evidence of cue frame n (the newest): a voiced low-band murmur with a low second-formant proxy
   * (bilabial place: the voice bar of /b/, the murmur of /m/; /d g n/ have a high one), or a dip well below the
   * speech of the last BACK_MS (a silent closure; dips longer than MAX_DIP_MS are pauses). A silent closure's
   * place shows only in its release burst: its frames get UNPLACED_DIP until then, and are revised when the
   * burst arrives (a low burst centroid, as of /p/, gives full evidence; the high bursts of /t k/ little).
   */
  private closureEvidence(n: number, cue: SpeechCues): number {
    const sa = this.activityTracker;
    const e = this.energyAt(n);
    let backMax = -120;
    for (let i = n - this.back; i <= n - 2; i++) backMax = Math.max(backMax, this.energyAt(i));
    const speechBefore = smoothstep(sa.floorDb + 14, sa.floorDb + 22, backMax);
    const voiced = smoothstep(0.55, 0.8, finite(cue.voicing, 0));
    const labial = smoothstep(1800, 1300, finite(cue.f2Hz, 1500));
    const drop = backMax - e;
    const murmur = sa.activity(e) * voiced * smoothstep(4, 9, Math.max(drop, sa.levelDb - e)) * smoothstep(3, 8, finite(cue.lowRatioDb, -20)) *
      smoothstep(650, 400, finite(cue.centroidHz, 1500)) * labial;
    const dip = speechBefore * (1 - voiced) * smoothstep(10, 18, drop);
    const short = dip * (1 - smoothstep(this.maxDip / 2, this.maxDip, this.dipRun));
    this.murmur[n & (HISTORY - 1)] = murmur;
    this.dip[n & (HISTORY - 1)] = short;
    if (dip > 0.5) {
      this.dipRun++;
    } else if (this.dipRun > 0) {
      // The release of a silent closure: its burst (this frame) tells the place.
      const run = this.dipRun;
      this.dipRun = 0;
      if (run <= this.maxDip && e > sa.floorDb + 15) {
        const w = UNPLACED_DIP + (1 - UNPLACED_DIP) * smoothstep(2000, 1300, finite(cue.centroidHz, 3000));
        for (let i = Math.max(0, n - run); i < n; i++) {
          const r = i & (HISTORY - 1);
          this.closure[r] = Math.max(this.murmur[r]!, this.dip[r]! * w);
        }
      }
    }
    return Math.max(murmur, short * UNPLACED_DIP);
  }
}

function finite(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
