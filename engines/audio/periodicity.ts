/**
 * Voicing and pitch of one analysis window by the normalised cross-correlation function (NCCF) on a
 * 2x-decimated copy: a peak near 1 at some lag in the 80..400 Hz range means periodic (voiced) sound.
 * Written here because no small maintained library does streaming NCCF without allocation.
 */

/** Result of `PeriodicityAnalyser.analyse`. */
export interface Periodicity {
  /** Peak NCCF, 0..1 (0 aperiodic or silent, ~1 strongly periodic). */
  voicing: number;
  /** Frequency of the peak lag, Hz (meaningful only when `voicing` is high). */
  pitchHz: number;
}

/** Reusable NCCF analyser for windows of a fixed length at `sampleRate` Hz. */
export class PeriodicityAnalyser {
  private readonly dec: Float32Array;
  private readonly cum: Float64Array;
  private readonly nccf: Float64Array;
  private readonly minLag: number;
  private readonly maxLag: number;
  private readonly decRate: number;
  private readonly out: Periodicity = { voicing: 0, pitchHz: 0 };

  /** `windowLength` samples at `sampleRate` Hz; pitch searched in `[minHz, maxHz]`. */
  constructor(windowLength: number, sampleRate: number, minHz = 80, maxHz = 400) {
    const n = windowLength >> 1;
    this.dec = new Float32Array(n);
    this.cum = new Float64Array(n + 1);
    this.decRate = sampleRate / 2;
    this.minLag = Math.max(2, Math.floor(this.decRate / maxHz));
    this.maxLag = Math.min(n - 8, Math.ceil(this.decRate / minHz));
    this.nccf = new Float64Array(this.maxLag + 2);
  }

  /** Analyse `window` (length as constructed). The returned object is reused by the next call. */
  analyse(window: Float32Array): Periodicity {
    const dec = this.dec;
    const n = dec.length;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const a = window[2 * i]!;
      const b = window[2 * i + 1]!;
      const c = 2 * i + 2 < window.length ? window[2 * i + 2]! : b;
      dec[i] = 0.25 * a + 0.5 * b + 0.25 * c; // [1 2 1]/4 low-pass before taking every other sample
      mean += dec[i]!;
    }
    mean /= n;
    const cum = this.cum;
    cum[0] = 0;
    for (let i = 0; i < n; i++) {
      dec[i] = dec[i]! - mean;
      cum[i + 1] = cum[i]! + dec[i]! * dec[i]!;
    }
    const out = this.out;
    out.voicing = 0;
    out.pitchHz = 0;
    if (cum[n]! < 1e-9 * n) return out;
    const nccf = this.nccf;
    let best = 0;
    for (let lag = this.minLag; lag <= this.maxLag; lag++) {
      let r = 0;
      for (let i = 0, m = n - lag; i < m; i++) r += dec[i]! * dec[i + lag]!;
      const e0 = cum[n - lag]!;
      const e1 = cum[n]! - cum[lag]!;
      const v = e0 > 0 && e1 > 0 ? r / Math.sqrt(e0 * e1) : 0;
      nccf[lag] = v;
      if (v > best) best = v;
    }
    if (best <= 0) return out;
    // The shortest lag that peaks near the maximum is the period; its multiples peak just as high (octave errors).
    let bestLag = this.minLag;
    for (let lag = this.minLag; lag <= this.maxLag; lag++) {
      const v = nccf[lag]!;
      const isPeak = (lag === this.minLag || v >= nccf[lag - 1]!) && (lag === this.maxLag || v >= nccf[lag + 1]!);
      if (isPeak && v >= 0.9 * best) {
        bestLag = lag;
        break;
      }
    }
    const peak = nccf[bestLag]!;
    const bestPrev = bestLag > this.minLag ? nccf[bestLag - 1]! : peak;
    const bestNext = bestLag < this.maxLag ? nccf[bestLag + 1]! : peak;
    // Parabolic interpolation of the peak lag for a finer pitch estimate.
    const denom = bestPrev - 2 * peak + bestNext;
    const shift = denom < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (bestPrev - bestNext)) / denom)) : 0;
    out.voicing = Math.max(0, Math.min(1, best));
    out.pitchHz = this.decRate / (bestLag + shift);
    return out;
  }
}
