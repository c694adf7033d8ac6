import FFT from 'fft.js';
import { AUDIO_RATE, type AudioFeatureExtractor, type FeatureFrame } from '../types.ts';
import { createMelFilterbank, type MelFilterbank } from './melFilterbank.ts';
import { PeriodicityAnalyser } from './periodicity.ts';
import { SpectralCueReader, type SpectralCues } from './spectralCues.ts';

/** Per-frame prosody and articulation cues that the embedded motion models read. */
export interface SpeechCues extends SpectralCues {
  /** RMS level of the 25 ms window, dBFS (full-scale sine = -3 dB, digital silence = -120 dB). */
  energyDb: number;
  /** Periodicity 0..1 (NCCF peak); voiced speech is typically > 0.6. */
  voicing: number;
  /** Pitch estimate, Hz (meaningful only when `voicing` is high). */
  pitchHz: number;
}

/** A log-mel feature frame plus its speech cues. */
export interface LogMelFrame extends FeatureFrame, SpeechCues {}

/** Feature extractor that emits `LogMelFrame`s (the embedded motion models need the cues). */
export interface CueFeatureExtractor extends AudioFeatureExtractor {
  push(pcm16k: Float32Array): LogMelFrame[];
}

/** Options of `LogMelExtractor`. */
export interface LogMelOptions {
  /** Mel bands (default 80, 60..7600 Hz). */
  bands?: number;
  /** 'running': causal per-band mean/variance normalisation (default); 'none': raw natural-log mel power. */
  normalize?: 'running' | 'none';
  /** Time constant of the running statistics, s (default 5). */
  normTimeConstantS?: number;
}

const HOP = 160; // 10 ms at 16 kHz
const WIN = 400; // 25 ms at 16 kHz
const FFT_SIZE = 512;
const RING = 2048; // power of two, > WIN + HOP
const LOG_FLOOR = 1e-6; // ~ -96 dBFS in windowed-FFT power units: keeps digital silence finite and modest
const VAR_FLOOR = 0.25;

/**
 * Streaming log-mel features at 100 Hz: 25 ms Hann window, 10 ms hop, 512-point FFT (fft.js).
 * Frame n is centred at sample n*160 (timeMs = 10 n; audio before the stream start counts as zeros),
 * so it is emitted once 12.5 ms of audio past its centre has arrived.
 * Each returned frame owns a new `values` array (frames may be kept by the caller).
 */
export class LogMelExtractor implements CueFeatureExtractor {
  /** Frames per second, Hz. */
  readonly featureRate = AUDIO_RATE / HOP;
  /** Mel bands per frame. */
  readonly dim: number;
  /** Right half-window: audio needed past a frame's centre, ms. */
  readonly lookaheadMs = ((WIN / 2) * 1000) / AUDIO_RATE;
  /** Centre frequency of each mel band, Hz. */
  readonly bandCentresHz: Float64Array;

  private readonly normalize: boolean;
  private readonly normFrames: number;
  private readonly fft = new FFT(FFT_SIZE);
  private readonly mel: MelFilterbank;
  private readonly hann = new Float32Array(WIN);
  private readonly ring = new Float32Array(RING);
  private readonly raw = new Float32Array(WIN);
  private readonly fftIn = new Float64Array(FFT_SIZE);
  private readonly fftOut: number[];
  private readonly power = new Float32Array(FFT_SIZE / 2 + 1);
  private readonly mean: Float64Array;
  private readonly var: Float64Array;
  private readonly periodicity = new PeriodicityAnalyser(WIN, AUDIO_RATE);
  private readonly cueReader = new SpectralCueReader(FFT_SIZE, AUDIO_RATE);
  private readonly cues: SpectralCues = { centroidHz: 0, f1Hz: 0, f2Hz: 0, lowRatioDb: 0 };
  private total = 0; // samples received since the last reset
  private nextFrame = 0;
  private framesSeen = 0;
  private nonFinite = 0;
  private clipped = 0;

  constructor(opts: LogMelOptions = {}) {
    const { bands = 80, normalize = 'running', normTimeConstantS = 5 } = opts;
    if (!Number.isInteger(bands) || bands < 8 || bands > 128) throw new TypeError(`bands must be an integer 8..128 [bands:${bands}]`);
    if (normalize !== 'running' && normalize !== 'none') throw new TypeError(`normalize must be 'running' or 'none' [normalize:${String(normalize)}]`);
    if (!(normTimeConstantS > 0)) throw new TypeError(`normTimeConstantS must be > 0 [normTimeConstantS:${normTimeConstantS}]`);
    this.dim = bands;
    this.normalize = normalize === 'running';
    this.normFrames = normTimeConstantS * this.featureRate;
    this.mel = createMelFilterbank({ bands, fftSize: FFT_SIZE, sampleRate: AUDIO_RATE, fminHz: 60, fmaxHz: 7600 });
    this.bandCentresHz = this.mel.centreHz;
    this.fftOut = this.fft.createComplexArray() as number[];
    this.mean = new Float64Array(bands);
    this.var = new Float64Array(bands);
    for (let i = 0; i < WIN; i++) this.hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WIN); // periodic Hann
  }

  /** Feed 16 kHz samples of any length; NaN/Inf count as 0 and samples are clamped to [-1, 1]. */
  push(pcm16k: Float32Array): LogMelFrame[] {
    const frames: LogMelFrame[] = [];
    let off = 0;
    while (off < pcm16k.length) {
      // Never overwrite samples that the next pending frame still needs.
      const oldestNeeded = this.nextFrame * HOP - WIN / 2;
      const room = oldestNeeded + RING - this.total;
      const n = Math.min(pcm16k.length - off, room);
      for (let i = 0; i < n; i++) {
        let x = pcm16k[off + i]!;
        if (!Number.isFinite(x)) {
          x = 0;
          this.nonFinite++;
        }
        if (x > 1 || x < -1) {
          x = x > 1 ? 1 : -1;
          this.clipped++;
        }
        this.ring[(this.total + i) & (RING - 1)] = x;
      }
      this.total += n;
      off += n;
      while (this.nextFrame * HOP + WIN / 2 <= this.total) frames.push(this.computeFrame(this.nextFrame++));
    }
    return frames;
  }

  /** Forget all audio and statistics; the next sample is time 0 again. */
  reset(): void {
    this.total = 0;
    this.nextFrame = 0;
    this.framesSeen = 0;
    this.ring.fill(0);
    this.mean.fill(0);
    this.var.fill(0);
  }

  /** Counters for stats. */
  toJSON(): { samples: number; frames: number; nonFiniteSamples: number; clippedSamples: number } {
    return { samples: this.total, frames: this.nextFrame, nonFiniteSamples: this.nonFinite, clippedSamples: this.clipped };
  }

  private computeFrame(n: number): LogMelFrame {
    const start = n * HOP - WIN / 2;
    const raw = this.raw;
    let sumSq = 0;
    for (let i = 0; i < WIN; i++) {
      const t = start + i;
      const x = t < 0 ? 0 : this.ring[t & (RING - 1)]!;
      raw[i] = x;
      sumSq += x * x;
      this.fftIn[i] = x * this.hann[i]!;
    }
    this.fft.realTransform(this.fftOut, this.fftIn);
    const out = this.fftOut;
    const power = this.power;
    for (let b = 0; b <= FFT_SIZE / 2; b++) {
      const re = out[2 * b]!;
      const im = out[2 * b + 1]!;
      power[b] = re * re + im * im;
    }

    const values = new Float32Array(this.dim);
    const { firstBin, weights } = this.mel;
    this.framesSeen++;
    // Running statistics: exact average while warming up, then an exponential window (causal only).
    const alpha = 1 / Math.min(this.framesSeen, this.normFrames);
    for (let m = 0; m < this.dim; m++) {
      const w = weights[m]!;
      const b0 = firstBin[m]!;
      let e = 0;
      for (let k = 0; k < w.length; k++) e += w[k]! * power[b0 + k]!;
      const lm = Math.log(e + LOG_FLOOR);
      if (!this.normalize) {
        values[m] = lm;
        continue;
      }
      const d = lm - this.mean[m]!;
      this.mean[m] = this.mean[m]! + alpha * d;
      this.var[m] = (1 - alpha) * (this.var[m]! + alpha * d * d);
      values[m] = (lm - this.mean[m]!) / Math.sqrt(this.var[m]! + VAR_FLOOR);
    }

    const per = this.periodicity.analyse(raw);
    const cues = this.cueReader.read(power, this.cues);
    return {
      timeMs: (n * HOP * 1000) / AUDIO_RATE,
      values,
      energyDb: 10 * Math.log10(sumSq / WIN + 1e-12),
      voicing: per.voicing,
      pitchHz: per.pitchHz,
      centroidHz: cues.centroidHz,
      f1Hz: cues.f1Hz,
      f2Hz: cues.f2Hz,
      lowRatioDb: cues.lowRatioDb,
    };
  }
}
