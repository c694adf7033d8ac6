import { EXPRESSION_COMPONENTS, EXPRESSION_COMPONENT_NAMES, type ExpressionComponent, type PoseKeyframe, type PoseTemplate } from '../../engines/motion/MotionEdits.ts';

/** Longest expression ramp, ms. */
const MAX_RAMP_MS = 10_000;
/** Keyframes in one pose template (a 24 s template at 10 Hz fits a 4 KB control message). */
export const MAX_KEYFRAMES = 240;
/** Template angles are clamped to what the warp keeps believable, degrees (as `pose`). */
const MAX_TEMPLATE_DEG = 30;
const MAX_TEMPLATE_MS = 10 * 60_000;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * `{type:"edit", smile?, browRaise?, eyeWiden?, jaw?, rampMs?}`: expression components set (each in its range:
 * smile 0..1, browRaise -0.5..1, eyeWiden -1..1, jaw 0..1), ramped from their current values over rampMs.
 */
export function parseEdit(m: Record<string, unknown>): { values: Partial<Record<ExpressionComponent, number>>; rampMs: number } | { error: string } {
  const values: Partial<Record<ExpressionComponent, number>> = {};
  for (const key of Object.keys(m)) {
    if (key === 'type' || key === 'rampMs') continue;
    if (!(EXPRESSION_COMPONENT_NAMES as string[]).includes(key)) return { error: `edit: unknown component "${key.slice(0, 40)}"; expected ${EXPRESSION_COMPONENT_NAMES.join(', ')}` };
    const [lo, hi] = EXPRESSION_COMPONENTS[key as ExpressionComponent];
    const v = m[key];
    if (!finite(v) || v < lo || v > hi) return { error: `edit.${key} must be a finite number in ${lo}..${hi}` };
    values[key as ExpressionComponent] = v;
  }
  if (Object.keys(values).length === 0) return { error: `edit needs at least one of ${EXPRESSION_COMPONENT_NAMES.join(', ')}` };
  const rampMs = m.rampMs ?? 0;
  if (!finite(rampMs) || rampMs < 0 || rampMs > MAX_RAMP_MS) return { error: `edit.rampMs must be 0..${MAX_RAMP_MS}` };
  return { values, rampMs };
}

/**
 * `{type:"poseTemplate", keyframes:[[ms, yaw, pitch, roll], ...], loop?:true}` (times from the start, non-decreasing;
 * angles in degrees, +-30), or `{type:"poseTemplate", reset:true}`.
 */
export function parsePoseTemplate(m: Record<string, unknown>): { template: PoseTemplate | null } | { error: string } {
  if (m.reset === true) return { template: null };
  const k = m.keyframes;
  if (!Array.isArray(k) || k.length === 0 || k.length > MAX_KEYFRAMES) return { error: `poseTemplate.keyframes must be 1..${MAX_KEYFRAMES} entries [ms, yaw, pitch, roll], or reset:true` };
  if (m.loop !== undefined && typeof m.loop !== 'boolean') return { error: 'poseTemplate.loop must be a boolean' };
  const keyframes: PoseKeyframe[] = [];
  let last = 0;
  for (let i = 0; i < k.length; i++) {
    const e = k[i] as unknown;
    if (!Array.isArray(e) || e.length !== 4 || !e.every(finite)) return { error: `poseTemplate.keyframes[${i}] must be [ms, yaw, pitch, roll] of finite numbers` };
    const [atMs, yawDeg, pitchDeg, rollDeg] = e as [number, number, number, number];
    if (atMs < last || atMs > MAX_TEMPLATE_MS) return { error: `poseTemplate.keyframes[${i}]: times must not decrease and stay within ${MAX_TEMPLATE_MS} ms` };
    if (![yawDeg, pitchDeg, rollDeg].every((a) => Math.abs(a) <= MAX_TEMPLATE_DEG)) return { error: `poseTemplate.keyframes[${i}]: angles must be within +-${MAX_TEMPLATE_DEG} degrees` };
    last = atMs;
    keyframes.push({ atMs, yawDeg, pitchDeg, rollDeg });
  }
  return { template: { keyframes, loop: m.loop === true } };
}
