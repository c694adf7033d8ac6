/**
 * Adaptive speech activity and loudness from frame energy, causal: the noise floor is the minimum of the
 * (median of 5 frames; stretches touching digital silence ignored) energy over the last ~2 s (minimum statistics, so it learns within one 250 ms block),
 * the speech level a peak tracker that decays 3 dB/s.
 */
import { clamp, smoothstep } from './smoothing.ts';

const BLOCKS = 8;
const DIGITAL_SILENCE_DB = -90;

/** Tracks noise floor and speech level (dBFS) at a fixed frame rate. */
export class SpeechActivity {
  /** Noise floor estimate, dBFS. */
  floorDb = -60;
  /** Recent speech peak level, dBFS. */
  levelDb = -20;
  private readonly blockLen: number;
  private readonly decayDbPerFrame: number;
  private readonly blockMin = new Float64Array(BLOCKS);
  private curMin = Infinity;
  private inBlock = 0;
  private block = 0;
  private readonly recent = new Float64Array(5);
  private recentAt = 0;

  /** Frames arrive at `frameRate` Hz. */
  constructor(frameRate: number) {
    this.blockLen = Math.max(1, Math.round(0.25 * frameRate));
    this.decayDbPerFrame = 3 / frameRate;
    this.reset();
  }

  /** Update with one frame's energy (dBFS). */
  update(energyDb: number): void {
    const e = Number.isFinite(energyDb) ? energyDb : -120;
    const recent = this.recent;
    recent[this.recentAt] = e;
    this.recentAt = (this.recentAt + 1) % recent.length;
    const med = median5(recent);
    // Digital silence (padding, muted input) says nothing about the microphone's noise floor.
    if (Math.min(...recent) > DIGITAL_SILENCE_DB) this.curMin = Math.min(this.curMin, med);
    if (++this.inBlock >= this.blockLen) {
      this.blockMin[this.block] = this.curMin;
      this.block = (this.block + 1) % BLOCKS;
      this.curMin = Infinity;
      this.inBlock = 0;
    }
    let f = this.curMin;
    for (let b = 0; b < BLOCKS; b++) f = Math.min(f, this.blockMin[b]!);
    this.floorDb = Number.isFinite(f) ? clamp(f, -75, -25) : -60;
    this.levelDb = Math.max(e, this.levelDb - this.decayDbPerFrame, this.floorDb + 25);
  }

  /** Speech activity 0..1 of a frame at `energyDb` (0 near the floor or below -62 dBFS). */
  activity(energyDb: number): number {
    return smoothstep(this.floorDb + 9, this.floorDb + 20, energyDb) * smoothstep(-62, -50, energyDb);
  }

  /** Loudness 0..1 of a frame relative to floor and speech level. */
  loudness(energyDb: number): number {
    return clamp((energyDb - this.floorDb - 9) / (this.levelDb - this.floorDb - 9), 0, 1);
  }

  /** Back to the initial state (no noise floor learned yet). */
  reset(): void {
    this.blockMin.fill(Infinity);
    this.curMin = Infinity;
    this.inBlock = 0;
    this.block = 0;
    this.recent.fill(-120);
    this.recentAt = 0;
    this.floorDb = -60;
    this.levelDb = -20;
  }
}

function median5(a: Float64Array): number {
  const [p, q, r, s, t] = [a[0]!, a[1]!, a[2]!, a[3]!, a[4]!];
  // Median of five without sorting: the middle of the sorted order.
  const lo = Math.max(Math.min(p, q), Math.min(r, s));
  const hi = Math.min(Math.max(p, q), Math.max(r, s));
  return Math.max(Math.min(lo, hi), Math.min(Math.max(lo, hi), t));
}
