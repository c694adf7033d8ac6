/** Articulation cues read off one power spectrum: band centroids (formant proxies) and band ratios. */

/** Spectral cues of one frame; see `SpectralCueReader.read`. */
export interface SpectralCues {
  /** Power centroid over 100..7600 Hz, Hz. */
  centroidHz: number;
  /** Power centroid over 250..1000 Hz, Hz: a first-formant proxy (jaw height). */
  f1Hz: number;
  /** Power centroid over 900..2800 Hz, Hz: a second-formant proxy (low = rounded, high = spread). */
  f2Hz: number;
  /** Energy below 400 Hz over energy in 400..4000 Hz, dB: high in nasal murmur (/m n/). */
  lowRatioDb: number;
}

interface BinRange {
  lo: number;
  hi: number;
}

/** Reads `SpectralCues` from power spectra of a fixed FFT size; bin ranges are computed once. */
export class SpectralCueReader {
  private readonly all: BinRange;
  private readonly f1: BinRange;
  private readonly f2: BinRange;
  private readonly low: BinRange;
  private readonly mid: BinRange;
  private readonly binHz: number;

  /** For power spectra of an `fftSize`-point FFT at `sampleRate` Hz. */
  constructor(fftSize: number, sampleRate: number) {
    this.binHz = sampleRate / fftSize;
    const r = (loHz: number, hiHz: number): BinRange => ({
      lo: Math.max(0, Math.round(loHz / this.binHz)),
      hi: Math.min(fftSize / 2, Math.round(hiHz / this.binHz)),
    });
    this.all = r(100, 7600);
    this.f1 = r(250, 1000);
    this.f2 = r(900, 2800);
    this.low = r(60, 400);
    this.mid = r(400, 4000);
  }

  /** Fill `out` from `power` (length fftSize/2+1); silent spectra give mid-band defaults. */
  read(power: Float32Array, out: SpectralCues): SpectralCues {
    out.centroidHz = this.centroid(power, this.all, 1500);
    out.f1Hz = this.centroid(power, this.f1, 500);
    out.f2Hz = this.centroid(power, this.f2, 1500);
    const low = this.sum(power, this.low);
    const mid = this.sum(power, this.mid);
    out.lowRatioDb = 10 * Math.log10((low + 1e-9) / (mid + 1e-9));
    return out;
  }

  private sum(p: Float32Array, r: BinRange): number {
    let s = 0;
    for (let b = r.lo; b <= r.hi; b++) s += p[b]!;
    return s;
  }

  private centroid(p: Float32Array, r: BinRange, fallbackHz: number): number {
    let s = 0;
    let sf = 0;
    for (let b = r.lo; b <= r.hi; b++) {
      s += p[b]!;
      sf += p[b]! * b;
    }
    return s > 1e-9 ? (sf / s) * this.binHz : fallbackHz;
  }
}
