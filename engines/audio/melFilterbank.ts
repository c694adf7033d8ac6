/** Triangular mel filterbank over a real FFT's power bins (HTK mel scale, Slaney-style area normalisation off). */

/** Hz -> mel (HTK: 2595 log10(1 + f/700)). */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

/** mel -> Hz (inverse of `hzToMel`). */
export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/** Sparse triangular filters: filter m covers bins [firstBin[m], firstBin[m] + weights[m].length). */
export interface MelFilterbank {
  /** Number of bands. */
  readonly bands: number;
  /** Centre frequency of each band, Hz (length `bands`). */
  readonly centreHz: Float64Array;
  /** First FFT bin with a non-zero weight, per band. */
  readonly firstBin: Uint16Array;
  /** Weights per band, starting at `firstBin`. */
  readonly weights: readonly Float32Array[];
}

/** Build `bands` triangular filters from `fminHz` to `fmaxHz` for an `fftSize`-point FFT at `sampleRate` Hz. */
export function createMelFilterbank(opts: {
  bands: number;
  fftSize: number;
  sampleRate: number;
  fminHz: number;
  fmaxHz: number;
}): MelFilterbank {
  const { bands, fftSize, sampleRate, fminHz, fmaxHz } = opts;
  if (!(bands >= 1) || !(fmaxHz > fminHz) || fmaxHz > sampleRate / 2) {
    throw new TypeError(`bad mel filterbank [bands:${bands}, fmin:${fminHz}, fmax:${fmaxHz}]`);
  }
  const bins = fftSize / 2 + 1;
  const binHz = sampleRate / fftSize;
  const melLo = hzToMel(fminHz);
  const melHi = hzToMel(fmaxHz);
  const edges = new Float64Array(bands + 2);
  for (let i = 0; i < bands + 2; i++) edges[i] = melToHz(melLo + ((melHi - melLo) * i) / (bands + 1));
  const centreHz = new Float64Array(bands);
  const firstBin = new Uint16Array(bands);
  const weights: Float32Array[] = [];
  for (let m = 0; m < bands; m++) {
    const lo = edges[m]!;
    const mid = edges[m + 1]!;
    const hi = edges[m + 2]!;
    centreHz[m] = mid;
    const b0 = Math.max(0, Math.ceil(lo / binHz));
    const b1 = Math.min(bins - 1, Math.floor(hi / binHz));
    const w: number[] = [];
    for (let b = b0; b <= b1; b++) {
      const f = b * binHz;
      w.push(f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid));
    }
    // A band narrower than one bin gets the nearest bin, so no band is empty.
    if (w.every((x) => x <= 0)) {
      firstBin[m] = Math.min(bins - 1, Math.round(mid / binHz));
      weights.push(Float32Array.of(1));
    } else {
      firstBin[m] = b0;
      weights.push(Float32Array.from(w, (x) => Math.max(0, x)));
    }
  }
  return { bands, centreHz, firstBin, weights };
}
