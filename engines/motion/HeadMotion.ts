/**
 * Embedded Audio2Pose without weights: small prosody-driven nods and brow flashes on energy/pitch accents,
 * slow irregular drift that grows while speaking, idle breathing, and irregular blinks every 2-6 s.
 * Angles are bounded and smoothed by critically damped springs; all randomness comes from a seeded PRNG,
 * so equal seeds and equal audio give equal motion.
 */
import type { SpeechCues } from '../audio/LogMelExtractor.ts';
import { Prng } from './prng.ts';
import { clamp, smoothstep, springStep, type SpringState } from './smoothing.ts';

/** Head and upper-face state for one step. */
export interface HeadState {
  /** Degrees; see FaceRig's eulerToMatrix for the signs. */
  pitchDeg: number;
  yawDeg: number;
  rollDeg: number;
  /** Translation, output px. */
  tx: number;
  ty: number;
  /** Eye closure 0..1 per eye (1 = closed). */
  blinkLeft: number;
  blinkRight: number;
  /** Brow raise 0..1. */
  browRaise: number;
}

/** Bounds of the procedural head angles, degrees. */
export const HEAD_LIMITS = { yawDeg: 8, pitchDeg: 6, rollDeg: 5 } as const;

const BLINK_CLOSE_S = 0.09;
const BLINK_HOLD_S = 0.04;
const BLINK_OPEN_S = 0.16;
const HEAD_OMEGA = 9; // rad/s: ~0.4 s to settle, so nods are soft

/** Procedural head motion for one session, stepped at the feature rate. */
export class HeadMotion {
  private readonly dt: number;
  private readonly prng: Prng;
  private readonly pxPerCm: number;
  private readonly breathHz: number;
  private t = 0;
  private breathPhase: number;
  private readonly drift = { yaw: 0, pitch: 0, roll: 0 };
  private readonly springs = { yaw: { x: 0, v: 0 }, pitch: { x: 0, v: 0 }, roll: { x: 0, v: 0 }, brow: { x: 0, v: 0 } } satisfies Record<string, SpringState>;
  private engagement = 0;
  private slowEnergy = -60;
  private pitchMean = 150;
  private nod = 0;
  private brow = 0;
  private lastAccent = -10;
  private yawBias = 0;
  private rollBias = 0;
  private nextBlink: number;
  private blinkStart = -10;
  private pendingDouble = false;
  private spoke = false;
  private quietS = 0;
  private readonly out: HeadState = { pitchDeg: 0, yawDeg: 0, rollDeg: 0, tx: 0, ty: 0, blinkLeft: 0, blinkRight: 0, browRaise: 0 };

  /** Steps at `stepRate` Hz; `seed` fixes all randomness; `pxPerCm` scales translations to output pixels. */
  constructor(opts: { stepRate: number; seed: number; pxPerCm: number }) {
    this.dt = 1 / opts.stepRate;
    this.prng = new Prng(opts.seed);
    this.pxPerCm = opts.pxPerCm;
    this.breathHz = this.prng.uniform(0.2, 0.3);
    this.breathPhase = this.prng.uniform(0, 2 * Math.PI);
    this.nextBlink = this.prng.uniform(0.8, 3);
  }

  /** Advance one step with the step's cue and its speech activity (0..1); the returned object is reused. */
  step(cue: SpeechCues, activity: number): HeadState {
    const dt = this.dt;
    const r = this.prng;
    this.t += dt;
    const act = Number.isFinite(activity) ? clamp(activity, 0, 1) : 0;
    this.engagement += (act - this.engagement) * (dt / 0.5);

    // Slow drift: Ornstein-Uhlenbeck per angle (time constant 2.5 s), larger while speaking.
    const tau = 2.5;
    const k = Math.sqrt((2 * dt) / tau);
    this.drift.yaw += -this.drift.yaw * (dt / tau) + 1.6 * k * r.gaussian();
    this.drift.pitch += -this.drift.pitch * (dt / tau) + 1.0 * k * r.gaussian();
    this.drift.roll += -this.drift.roll * (dt / tau) + 0.9 * k * r.gaussian();
    const gain = 1 + 0.8 * this.engagement;

    // Accents: a voiced energy onset well above the recent level, at most one per 350 ms.
    const e = Number.isFinite(cue.energyDb) ? cue.energyDb : -120;
    const voiced = smoothstep(0.55, 0.8, Number.isFinite(cue.voicing) ? cue.voicing : 0);
    const onset = e - this.slowEnergy;
    this.slowEnergy += (e - this.slowEnergy) * (dt / 0.2);
    const pitchHz = Number.isFinite(cue.pitchHz) ? cue.pitchHz : 0;
    if (voiced > 0.5 && pitchHz > 60 && pitchHz < 500) this.pitchMean += (pitchHz - this.pitchMean) * (dt / 2);
    if (act > 0.5 && voiced > 0.5 && onset > 6 && this.t - this.lastAccent > 0.35) {
      this.lastAccent = this.t;
      const a = clamp((onset - 6) / 10, 0.3, 1) * r.uniform(0.8, 1.2);
      this.nod += 2.2 * a;
      this.yawBias = clamp(this.yawBias + 1.0 * r.gaussian(), -3, 3);
      this.rollBias = clamp(this.rollBias + 0.6 * r.gaussian(), -2, 2);
      if (pitchHz > this.pitchMean * 1.12 && r.next() < 0.35) this.brow = Math.max(this.brow, 0.5 * a);
    }
    this.nod *= Math.exp(-dt / 0.18);
    this.brow *= Math.exp(-dt / 0.4);
    this.yawBias *= Math.exp(-dt / 3);
    this.rollBias *= Math.exp(-dt / 3);

    this.breathPhase += 2 * Math.PI * this.breathHz * dt;
    const breath = Math.sin(this.breathPhase);

    const s = this.springs;
    springStep(s.yaw, clamp(gain * this.drift.yaw + this.yawBias, -HEAD_LIMITS.yawDeg, HEAD_LIMITS.yawDeg), HEAD_OMEGA, dt);
    springStep(s.pitch, clamp(gain * this.drift.pitch + this.nod + 0.35 * breath, -HEAD_LIMITS.pitchDeg, HEAD_LIMITS.pitchDeg), HEAD_OMEGA, dt);
    springStep(s.roll, clamp(gain * this.drift.roll + this.rollBias, -HEAD_LIMITS.rollDeg, HEAD_LIMITS.rollDeg), HEAD_OMEGA, dt);
    springStep(s.brow, this.brow, 25, dt);

    const o = this.out;
    o.yawDeg = clamp(s.yaw.x, -HEAD_LIMITS.yawDeg, HEAD_LIMITS.yawDeg);
    o.pitchDeg = clamp(s.pitch.x, -HEAD_LIMITS.pitchDeg, HEAD_LIMITS.pitchDeg);
    o.rollDeg = clamp(s.roll.x, -HEAD_LIMITS.rollDeg, HEAD_LIMITS.rollDeg);
    o.tx = 0;
    o.ty = -0.12 * this.pxPerCm * breath; // the head rises a little on inhale
    o.browRaise = clamp(s.brow.x, 0, 1);
    const b = this.blink(act);
    o.blinkLeft = b;
    o.blinkRight = b;
    return o;
  }

  private blink(act: number): number {
    const r = this.prng;
    // A pause (150 ms quiet) after speech invites a blink soon, but never sooner than 2 s after the last one.
    if (act > 0.5) {
      this.spoke = true;
      this.quietS = 0;
    } else if (act < 0.2) this.quietS += this.dt;
    if (this.spoke && this.quietS >= 0.15) {
      this.spoke = false;
      if (this.t - this.blinkStart > 2 && this.nextBlink - this.t > 1 && r.next() < 0.4) this.nextBlink = this.t + 0.1;
    }
    if (this.t >= this.nextBlink) {
      this.blinkStart = this.t;
      if (this.pendingDouble) {
        this.pendingDouble = false;
        this.nextBlink = this.t + r.uniform(2, 6);
      } else if (r.next() < 0.15) {
        this.pendingDouble = true;
        this.nextBlink = this.t + 0.35;
      } else this.nextBlink = this.t + r.uniform(2, 6);
    }
    const u = this.t - this.blinkStart;
    if (u < 0 || u > BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S) return 0;
    if (u < BLINK_CLOSE_S) return smoothstep(0, BLINK_CLOSE_S, u);
    if (u < BLINK_CLOSE_S + BLINK_HOLD_S) return 1;
    return 1 - smoothstep(BLINK_CLOSE_S + BLINK_HOLD_S, BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S, u);
  }
}
