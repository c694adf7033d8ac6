/**
 * Adaptive speech activity and loudness from frame energy, causal: the noise floor is the minimum of the
 * (2-frame averaged) energy over the last ~2 s (minimum statistics, so it learns within one 250 ms block),
 * the speech level a peak tracker that decays 3 dB/s.
 */
import { clamp, smoothstep } from './smoothing.ts';

const BLOCKS = 8;

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
  private prev = -120;

  /** Frames arrive at `frameRate` Hz. */
  constructor(frameRate: number) {
    this.blockLen = Math.max(1, Math.round(0.25 * frameRate));
    this.decayDbPerFrame = 3 / frameRate;
    this.reset();
  }

  /** Update with one frame's energy (dBFS). */
  update(energyDb: number): void {
    const e = Number.isFinite(energyDb) ? energyDb : -120;
    const smooth = 0.5 * (e + this.prev);
    this.prev = e;
    this.curMin = Math.min(this.curMin, smooth);
    if (++this.inBlock >= this.blockLen) {
      this.blockMin[this.block] = this.curMin;
      this.block = (this.block + 1) % BLOCKS;
      this.curMin = Infinity;
      this.inBlock = 0;
    }
    let f = this.curMin;
    for (let b = 0; b < BLOCKS; b++) f = Math.min(f, this.blockMin[b]!);
    this.floorDb = clamp(f, -75, -25);
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
    this.prev = -120;
    this.floorDb = -60;
    this.levelDb = -20;
  }
}
