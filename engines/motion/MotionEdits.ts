/**
 * Facial motion editing on the intermediate 3D face (AniPortrait's "motion editing"): expression components set or
 * ramped by the client (smile, brow raise, eye widening, jaw) on top of the driven motion, and a head-pose template
 * (keyframes, looped or played once) that replaces the audio-driven head turn under the audio-driven lips, as
 * AniPortrait's pose templates do.
 */
import type { HeadPose } from '../types.ts';
import { RIG } from './rigBases.ts';

/** Expression components a client can edit, and their ranges. */
export const EXPRESSION_COMPONENTS = {
  /** Mouth corners out and up. */
  smile: [0, 1],
  /** Both brows up (negative: down). */
  browRaise: [-0.5, 1],
  /** Upper lids up (negative: a squint). */
  eyeWiden: [-1, 1],
  /** Jaw open on top of speech. */
  jaw: [0, 1],
} as const;
export type ExpressionComponent = keyof typeof EXPRESSION_COMPONENTS;
export const EXPRESSION_COMPONENT_NAMES = Object.keys(EXPRESSION_COMPONENTS) as ExpressionComponent[];

/** A head-pose keyframe: time from the template's start (ms) and angles (degrees). */
export interface PoseKeyframe {
  atMs: number;
  yawDeg: number;
  pitchDeg: number;
  rollDeg: number;
}

export interface PoseTemplate {
  keyframes: PoseKeyframe[];
  /** Play it again from the start after the last keyframe (a template under long speech); else hold the last pose. */
  loop: boolean;
}

/** A template fades in over this, and back out to the audio-driven head when removed, ms. */
const TEMPLATE_FADE_MS = 300;

interface Ramp {
  from: number;
  to: number;
  startMs: number;
  durationMs: number;
}

const smooth = (x: number) => x * x * (3 - 2 * x);

export class MotionEdits {
  private readonly ramps = new Map<ExpressionComponent, Ramp>();
  private template: { t: PoseTemplate; startMs: number } | undefined;
  private fading: { from: HeadPose; startMs: number } | undefined;
  private templateWeight = 0;
  private lastMs: number | undefined;
  private lastTemplatePose: HeadPose | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Sets components (others keep their values), each ramping from its current value over `rampMs`. */
  setExpression(values: Partial<Record<ExpressionComponent, number>>, rampMs = 0): void {
    const t = this.now();
    for (const name of EXPRESSION_COMPONENT_NAMES) {
      const to = values[name];
      if (to === undefined) continue;
      this.ramps.set(name, { from: this.value(name, t), to, startMs: t, durationMs: Math.max(0, rampMs) });
    }
  }

  /** Plays a head-pose template from now (null: back to the audio-driven head). */
  setPoseTemplate(template: PoseTemplate | null): void {
    const t = this.now();
    if (template && template.keyframes.length > 0) {
      this.template = { t: { keyframes: [...template.keyframes].sort((a, b) => a.atMs - b.atMs), loop: template.loop }, startMs: t };
      this.fading = undefined;
    } else if (this.template) {
      this.template = undefined;
      if (this.lastTemplatePose) this.fading = { from: { ...this.lastTemplatePose }, startMs: t };
    }
  }

  /** The current value of one component. */
  value(name: ExpressionComponent, t = this.now()): number {
    const r = this.ramps.get(name);
    if (!r) return 0;
    const x = r.durationMs > 0 ? Math.min(1, Math.max(0, (t - r.startMs) / r.durationMs)) : 1;
    return r.from + (r.to - r.from) * smooth(x);
  }

  /** Edits one frame's rig coefficients and pose in place (call once per frame, after the audio and face drives). */
  apply(c: Float32Array, pose: HeadPose): void {
    const t = this.now();
    const dt = this.lastMs === undefined ? 0 : Math.max(0, t - this.lastMs);
    this.lastMs = t;
    if (this.ramps.size > 0) {
      c[RIG.lipStretch] = c[RIG.lipStretch]! + 0.8 * this.value('smile', t);
      c[RIG.upperLipRaise] = c[RIG.upperLipRaise]! + 0.15 * this.value('smile', t);
      c[RIG.browRaise] = c[RIG.browRaise]! + this.value('browRaise', t);
      const widen = this.value('eyeWiden', t);
      // Widening lifts the lids above rest (negative closure); a squint closes them part way.
      c[RIG.blinkLeft] = Math.max(-0.35, c[RIG.blinkLeft]! - 0.35 * widen);
      c[RIG.blinkRight] = Math.max(-0.35, c[RIG.blinkRight]! - 0.35 * widen);
      c[RIG.jawOpen] = c[RIG.jawOpen]! + this.value('jaw', t);
    }
    if (this.template) {
      this.templateWeight = Math.min(1, this.templateWeight + dt / TEMPLATE_FADE_MS);
      const p = this.templatePose(t);
      this.lastTemplatePose = p;
      const w = smooth(this.templateWeight);
      pose.yawDeg += w * (p.yawDeg - pose.yawDeg);
      pose.pitchDeg += w * (p.pitchDeg - pose.pitchDeg);
      pose.rollDeg += w * (p.rollDeg - pose.rollDeg);
    } else if (this.fading) {
      const x = Math.min(1, (t - this.fading.startMs) / TEMPLATE_FADE_MS);
      const w = 1 - smooth(x);
      pose.yawDeg += w * (this.fading.from.yawDeg - pose.yawDeg);
      pose.pitchDeg += w * (this.fading.from.pitchDeg - pose.pitchDeg);
      pose.rollDeg += w * (this.fading.from.rollDeg - pose.rollDeg);
      if (x >= 1) this.fading = undefined;
      this.templateWeight = 0;
    }
  }

  private templatePose(t: number): HeadPose {
    const { t: tpl, startMs } = this.template!;
    const k = tpl.keyframes;
    const span = k[k.length - 1]!.atMs;
    let at = t - startMs;
    if (tpl.loop && span > 0) at %= span;
    const out: HeadPose = { yawDeg: k[0]!.yawDeg, pitchDeg: k[0]!.pitchDeg, rollDeg: k[0]!.rollDeg, tx: 0, ty: 0, tz: 0 };
    if (at <= k[0]!.atMs) return out;
    const last = k[k.length - 1]!;
    if (at >= last.atMs) return { ...out, yawDeg: last.yawDeg, pitchDeg: last.pitchDeg, rollDeg: last.rollDeg };
    let i = 1;
    while (k[i]!.atMs < at) i++;
    // Catmull-Rom through the keyframes: smooth through each one, for sparse keyframes and dense templates alike.
    const p0 = k[i - 2] ?? k[i - 1]!;
    const p1 = k[i - 1]!;
    const p2 = k[i]!;
    const p3 = k[i + 1] ?? k[i]!;
    const x = (at - p1.atMs) / Math.max(1e-6, p2.atMs - p1.atMs);
    const cr = (f: (p: PoseKeyframe) => number) =>
      0.5 * (2 * f(p1) + (f(p2) - f(p0)) * x + (2 * f(p0) - 5 * f(p1) + 4 * f(p2) - f(p3)) * x * x + (3 * f(p1) - f(p0) - 3 * f(p2) + f(p3)) * x * x * x);
    return { ...out, yawDeg: cr((p) => p.yawDeg), pitchDeg: cr((p) => p.pitchDeg), rollDeg: cr((p) => p.rollDeg) };
  }
}
