import type { PipelineControl } from '../../engines/pipeline.ts';
import { parseEdit, parsePoseTemplate } from './editMessages.ts';
import { parseFaceMessage, parseFaceMix } from './faceMessages.ts';

/** Largest control message accepted by default, bytes (config limits.controlMessageBytes). */
export const MAX_CONTROL_BYTES = 4096;

/** Token bucket: at most `perSecond` messages a second on average, bursts up to `perSecond`. */
export class RateLimiter {
  private tokens: number;
  private last: number;
  /** Messages refused so far. */
  refused = 0;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = perSecond;
    this.last = now;
  }

  /** True if one more message may pass at time `now` (ms). */
  take(now: number): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refused++;
    return false;
  }
}
/** Head pose overrides are clamped to +-this many degrees. */
const MAX_POSE_DEG = 30;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Parse one message from the `control` data channel; never throws. */
export function parseControlMessage(data: string | Buffer, maxBytes = MAX_CONTROL_BYTES): { message: PipelineControl } | { error: string } {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > maxBytes) return { error: `control message larger than ${maxBytes} bytes` };
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { error: 'control message is not JSON' };
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return { error: 'control message must be a JSON object' };
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'clear':
      return { message: { type: 'clear' } };
    case 'pose':
      if (m.reset === true) return { message: { type: 'pose', reset: true } };
      if (![m.yaw, m.pitch, m.roll].every(finite)) return { error: 'pose needs finite numbers yaw, pitch, roll (degrees), or reset:true' };
      return {
        message: {
          type: 'pose',
          yaw: clamp(m.yaw as number, -MAX_POSE_DEG, MAX_POSE_DEG),
          pitch: clamp(m.pitch as number, -MAX_POSE_DEG, MAX_POSE_DEG),
          roll: clamp(m.roll as number, -MAX_POSE_DEG, MAX_POSE_DEG),
        },
      };
    case 'expression':
      if (!finite(m.scale)) return { error: 'expression needs a finite number scale (0..2)' };
      return { message: { type: 'expression', scale: clamp(m.scale, 0, 2) } };
    case 'face': {
      const face = parseFaceMessage(m);
      return 'error' in face ? face : { message: { type: 'face', sample: face.sample } };
    }
    case 'faceMix': {
      const mix = parseFaceMix(m);
      return 'error' in mix ? mix : { message: { type: 'faceMix', mouth: mix.mouth } };
    }
    case 'edit': {
      const edit = parseEdit(m);
      return 'error' in edit ? edit : { message: { type: 'edit', values: edit.values, rampMs: edit.rampMs } };
    }
    case 'poseTemplate': {
      const t = parsePoseTemplate(m);
      return 'error' in t ? t : { message: { type: 'poseTemplate', template: t.template } };
    }
    case 'view':
      if (m.mode !== 'video' && m.mode !== 'landmarks') return { error: 'view needs mode "video" or "landmarks"' };
      return { message: { type: 'view', mode: m.mode } };
    default:
      return { error: `unknown control message type ${JSON.stringify(m.type)}; expected clear, pose, expression, edit, poseTemplate, face, faceMix or view` };
  }
}
