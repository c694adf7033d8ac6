/**
 * Latent Consistency Model sampler (LCM, Luo et al. 2023; same maths as diffusers' LCMScheduler):
 * SD 1.5 "scaled_linear" betas, 1-4 steps picked from the distillation's skip-step schedule, epsilon
 * prediction, consistency boundary scalings, fresh noise between steps. Pure maths, float64.
 */

/** Scheduler constants (SD 1.5 / LCM defaults). */
export interface LcmConfig {
  /** Training timesteps. */
  trainSteps: number;
  betaStart: number;
  betaEnd: number;
  /** Steps of the teacher schedule the distillation used (LCM: 50). */
  originalSteps: number;
  /** Multiplier of t inside the boundary scalings (LCM: 10). */
  timestepScaling: number;
  /** sigma_data of the consistency parameterisation (0.5). */
  sigmaData: number;
}

/** LCM defaults for SD 1.5. */
export const LCM_DEFAULTS: LcmConfig = Object.freeze({ trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012, originalSteps: 50, timestepScaling: 10, sigmaData: 0.5 });

/** Most steps the sampler allows. */
export const MAX_LCM_STEPS = 4;

/** Scalars of one step for one timestep. */
export interface LcmStepCoefficients {
  t: number;
  /** alpha_bar at t. */
  alphaProd: number;
  /** alpha_bar at the next timestep (1 after the last step). */
  alphaProdPrev: number;
  cSkip: number;
  cOut: number;
}

/** Few-step LCM schedule; `step` is the per-element update. */
export class LcmScheduler {
  /** alpha_bar(t) for t = 0..trainSteps-1. */
  readonly alphasCumprod: Float64Array;
  /** Timesteps of the schedule, descending. */
  readonly timesteps: readonly number[];
  /** Per-step scalars, aligned with `timesteps`. */
  readonly coefficients: readonly LcmStepCoefficients[];

  /** `steps` in 1..MAX_LCM_STEPS (what consistency distillation is trained for). */
  constructor(
    readonly steps: number,
    readonly config: LcmConfig = LCM_DEFAULTS,
  ) {
    if (!Number.isInteger(steps) || steps < 1 || steps > MAX_LCM_STEPS) throw new TypeError(`LCM steps must be an integer in 1..${MAX_LCM_STEPS}, got ${steps}`);
    const { trainSteps, betaStart, betaEnd } = config;
    this.alphasCumprod = new Float64Array(trainSteps);
    const s0 = Math.sqrt(betaStart), s1 = Math.sqrt(betaEnd);
    let prod = 1;
    for (let i = 0; i < trainSteps; i++) {
      const sb = s0 + ((s1 - s0) * i) / (trainSteps - 1);
      prod *= 1 - sb * sb;
      this.alphasCumprod[i] = prod;
    }
    this.timesteps = lcmTimesteps(steps, config);
    this.coefficients = this.timesteps.map((t, i) => {
      const next = this.timesteps[i + 1];
      return { t, alphaProd: this.alphasCumprod[t]!, alphaProdPrev: next === undefined ? 1 : this.alphasCumprod[next]!, ...boundaryScalings(t, config) };
    });
  }

  /**
   * One LCM step on arrays of equal length, element-wise: x0 = (x - sqrt(1-a) eps) / sqrt(a);
   * denoised = c_out x0 + c_skip x; next = sqrt(a') denoised + sqrt(1-a') noise (not after the last step).
   * Writes `denoised` and, when given, `next` (noise required then). Returns nothing; arrays may alias `sample`.
   */
  step(index: number, sample: Float32Array, modelOutput: Float32Array, denoised: Float32Array, next?: Float32Array, noise?: Float32Array): void {
    const k = this.coefficients[index];
    if (!k) throw new RangeError(`step index ${index} outside 0..${this.steps - 1}`);
    const sa = Math.sqrt(k.alphaProd), sb = Math.sqrt(1 - k.alphaProd);
    const last = index === this.steps - 1;
    if (next && !last && !noise) throw new TypeError('LCM step needs noise for the next sample');
    const na = Math.sqrt(k.alphaProdPrev), nb = Math.sqrt(1 - k.alphaProdPrev);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const d = (k.cOut * (x - sb * modelOutput[i]!)) / sa + k.cSkip * x;
      denoised[i] = d;
      if (next) next[i] = last ? d : na * d + nb * noise![i]!;
    }
  }

  /** Forward diffusion to the timestep of step `index`: sqrt(a) x0 + sqrt(1-a) noise, into `out`. */
  addNoise(index: number, clean: Float32Array, noise: Float32Array, out: Float32Array): void {
    const a = this.coefficients[index]!.alphaProd, sa = Math.sqrt(a), sb = Math.sqrt(1 - a);
    for (let i = 0; i < clean.length; i++) out[i] = sa * clean[i]! + sb * noise[i]!;
  }
}

/** LCM inference timesteps: the teacher grid k*c - 1 (c = trainSteps/originalSteps), reversed, sampled at floor(linspace). */
export function lcmTimesteps(steps: number, config: LcmConfig = LCM_DEFAULTS): number[] {
  const c = Math.floor(config.trainSteps / config.originalSteps);
  const origin = Array.from({ length: config.originalSteps }, (_, i) => (i + 1) * c - 1).reverse();
  return Array.from({ length: steps }, (_, i) => origin[Math.floor((i * origin.length) / steps)]!);
}

/** Consistency boundary scalings at t: c_skip = sd^2 / ((s t)^2 + sd^2), c_out = s t / sqrt((s t)^2 + sd^2). */
export function boundaryScalings(t: number, config: LcmConfig = LCM_DEFAULTS): { cSkip: number; cOut: number } {
  const st = t * config.timestepScaling, sd2 = config.sigmaData ** 2;
  return { cSkip: sd2 / (st * st + sd2), cOut: st / Math.sqrt(st * st + sd2) };
}
