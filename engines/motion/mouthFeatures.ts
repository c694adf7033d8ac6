/**
 * Per-step input of the learned mouth model: the log-mel frame (running-normalised bands) plus speech cues made
 * gain-free (energy relative to the running noise floor and speech level). The training tools and the runtime
 * stage build it with this one class, so what the model saw in training is what it sees live.
 */
import type { LogMelFrame } from '../audio/LogMelExtractor.ts';
import { SpeechActivity } from './SpeechActivity.ts';

/** Cue values appended after the mel bands. */
export const MOUTH_CUE_NAMES = ['activity', 'loudness', 'levelRelDb', 'voicing', 'f1kHz', 'f2kHz', 'centroidkHz', 'lowRatioDb'] as const;

/** Builds one feature vector per log-mel frame (causal: uses nothing after the frame). */
export class MouthFeatureBuilder {
  /** Values per step: mel bands + cues. */
  readonly dim: number;
  private readonly activity: SpeechActivity;

  constructor(readonly bands: number, featureRate: number) {
    this.dim = bands + MOUTH_CUE_NAMES.length;
    this.activity = new SpeechActivity(featureRate);
  }

  /** Feature vector of `frame` written into `out` (length `dim`), which is returned. */
  push(frame: LogMelFrame, out = new Float32Array(this.dim)): Float32Array {
    const b = this.bands;
    for (let i = 0; i < b; i++) {
      const v = frame.values[i]!;
      out[i] = Number.isFinite(v) ? Math.max(-8, Math.min(8, v)) : 0;
    }
    const e = Number.isFinite(frame.energyDb) ? frame.energyDb : -120;
    const sa = this.activity;
    sa.update(e);
    out[b] = sa.activity(e);
    out[b + 1] = sa.loudness(e);
    out[b + 2] = Math.max(-60, Math.min(10, e - sa.levelDb)) / 20;
    out[b + 3] = finite(frame.voicing, 0);
    out[b + 4] = finite(frame.f1Hz, 500) / 1000;
    out[b + 5] = finite(frame.f2Hz, 1500) / 1000;
    out[b + 6] = finite(frame.centroidHz, 1500) / 1000;
    out[b + 7] = Math.max(-40, Math.min(40, finite(frame.lowRatioDb, 0))) / 20;
    return out;
  }

  /** Forget the noise floor and speech level (after `clear`). */
  reset(): void {
    this.activity.reset();
  }
}

function finite(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
