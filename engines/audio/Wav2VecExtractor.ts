/**
 * wav2vec 2.0 features from an ONNX graph, streamed over overlapping windows at 50 Hz.
 *
 * Frame grid: frame f has the receptive field of wav2vec's feature encoder (400 samples, stride 320) on
 * samples [320 f - 40, 320 f + 360), so its centre is the middle of its 20 ms slot: timeMs = 20 f + 10.
 * Audio before the stream start counts as zeros. Window w covers frames [w H - L, w H + H + R) (L left
 * context, H hop, R right lookahead frames), i.e. N = 320 (L + H + R) + 80 samples, is normalised to zero
 * mean and unit variance (as Wav2Vec2FeatureExtractor does per utterance), and emits only frames
 * [w H, w H + H), each exactly once. The first frame of a hop waits longest: 20 (H + R) - 7.5 ms past its centre.
 */
import type { Device } from '../onnx/executionProviders.ts';
import { formatShape, type GraphContract } from '../onnx/GraphContract.ts';
import { loadOnnxModel, type OnnxModel } from '../onnx/OnnxModel.ts';
import { asFloat32, float32Tensor } from '../onnx/TensorData.ts';
import type { FeatureFrame } from '../types.ts';
import { sanitizeAudio, type AsyncAudioFeatureExtractor } from './AsyncAudioFeatureExtractor.ts';

/** Samples per wav2vec frame (the feature encoder's total stride). */
export const WAV2VEC_STRIDE = 320;
/** Receptive field of one wav2vec frame, samples. */
export const WAV2VEC_FIELD = 400;
/** Offset of frame 0's receptive field from the stream start, samples (centres frames in their 20 ms slots). */
const FIELD_OFFSET = -40;
/** Most lookahead the design's latency budget allows, ms. */
export const MAX_FEATURE_LOOKAHEAD_MS = 80;
const VAR_EPS = 1e-7; // as Wav2Vec2FeatureExtractor

/**
 * ONNX contract of the wav2vec graph: `input_values` float32 [batch, samples] (16 kHz, normalised per window)
 * -> `last_hidden_state` float32 [batch, frames, dim], frames = floor((samples - 400) / 320) + 1 (checked by a
 * warm-up run at load). `dim` may be any fixed size (768 for wav2vec2-base, 1024 for large) or symbolic; the
 * tiny test graphs use 32. batch must be 1 or symbolic; samples symbolic or exactly the window length.
 */
export const WAV2VEC_CONTRACT: GraphContract = Object.freeze({
  name: 'wav2vec',
  inputs: [{ name: 'input_values', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'samples' }], doc: '16 kHz mono, zero mean and unit variance per window' }],
  outputs: [{ name: 'last_hidden_state', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, { size: 'dim' }], doc: '50 Hz hidden states' }],
}) as GraphContract;

/** Options of `Wav2VecExtractor.create`. */
export interface Wav2VecOptions {
  /** Past audio each window sees before its hop, ms, rounded to 20 ms frames (default 1000). */
  leftContextMs?: number;
  /** New frames per window, ms, a multiple of 20 (default 40): one ORT run per hop. */
  hopMs?: number;
  /** Future audio each window sees after its hop, ms, rounded to 20 ms frames (default 40). */
  rightContextMs?: number;
  /** Execution device (default cpu). */
  device?: Device;
  /** Try cheaper providers when the device's cannot start (default false). */
  fallback?: boolean;
  /** Threads inside one ORT operator; 0 = ORT default (default 1: sessions run side by side). */
  intraOpThreads?: number;
  /** Name used in messages when loading from bytes. */
  label?: string;
}

/** Streaming wav2vec features for one session; see the file comment for the window layout. */
export class Wav2VecExtractor implements AsyncAudioFeatureExtractor {
  /** Frames per second, Hz. */
  readonly featureRate = 16000 / WAV2VEC_STRIDE;
  /** Centre of frame 0, ms (the middle of its 20 ms slot). */
  readonly firstCentreMs = 10;
  /** Hidden size of the graph (last axis of last_hidden_state). */
  readonly dim: number;
  /** Most audio past a frame's centre needed before it is emitted (the first frame of a hop), ms. */
  readonly lookaheadMs: number;
  /** Frames per window: left context, hop, right lookahead. */
  readonly leftFrames: number;
  readonly hopFrames: number;
  readonly rightFrames: number;
  /** Samples per window. */
  readonly windowSamples: number;
  /** Path or label of the graph. */
  readonly file: string;

  private readonly model: OnnxModel;
  private readonly window: Float32Array;
  private buf = new Float32Array(16000 * 4);
  private bufStart = 0; // absolute sample index of buf[0]
  private total = 0; // samples received since the last reset
  private nextWindow = 0;
  private gen = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly stats = { windows: 0, frames: 0, nonFiniteSamples: 0, clippedSamples: 0, lastRunMs: 0, totalRunMs: 0 };

  private constructor(model: OnnxModel, dim: number, left: number, hop: number, right: number) {
    this.model = model;
    this.file = model.file;
    this.dim = dim;
    this.leftFrames = left;
    this.hopFrames = hop;
    this.rightFrames = right;
    this.windowSamples = WAV2VEC_STRIDE * (left + hop + right) + (WAV2VEC_FIELD - WAV2VEC_STRIDE);
    this.window = new Float32Array(this.windowSamples);
    this.lookaheadMs = Wav2VecExtractor.lookaheadFor(hop, right);
  }

  /** Lookahead (ms) of a window layout with `hop` and `right` frames. */
  static lookaheadFor(hopFrames: number, rightFrames: number): number {
    // End of the window (320 (w H + H + R) + 40) minus the centre of its first hop frame (320 w H + 160).
    return ((WAV2VEC_STRIDE * (hopFrames + rightFrames) + (WAV2VEC_FIELD - WAV2VEC_STRIDE) - WAV2VEC_FIELD / 2) * 1000) / 16000;
  }

  /**
   * Load the graph (path, bytes, or an already loaded OnnxModel that this extractor then owns), check it against
   * WAV2VEC_CONTRACT, and run one silent window to learn `dim` and check the frame count.
   * Errors name the file, the expected and the found shapes.
   */
  static async create(source: string | Uint8Array | OnnxModel, opts: Wav2VecOptions = {}): Promise<Wav2VecExtractor> {
    const { leftContextMs = 1000, hopMs = 40, rightContextMs = 40, device = 'cpu', fallback = false, intraOpThreads = 1, label } = opts;
    const left = Math.round(leftContextMs / 20);
    const hop = Math.round(hopMs / 20);
    const right = Math.round(rightContextMs / 20);
    if (!(left >= 0 && left <= 1500)) throw new TypeError(`leftContextMs must be 0..30000 [leftContextMs:${leftContextMs}]`);
    if (!(hop >= 1 && hop <= 50)) throw new TypeError(`hopMs must be 20..1000 [hopMs:${hopMs}]`);
    if (!(right >= 0 && right <= 50)) throw new TypeError(`rightContextMs must be 0..1000 [rightContextMs:${rightContextMs}]`);
    const lookahead = Wav2VecExtractor.lookaheadFor(hop, right);
    if (lookahead > MAX_FEATURE_LOOKAHEAD_MS) {
      throw new TypeError(`hopMs + rightContextMs give ${lookahead} ms of lookahead, over ${MAX_FEATURE_LOOKAHEAD_MS} ms [hopMs:${hopMs}, rightContextMs:${rightContextMs}]`);
    }
    const model = typeof source === 'object' && 'run' in source ? source : await loadOnnxModel(source, { device, fallback, intraOpThreads, contract: WAV2VEC_CONTRACT, ...(label ? { label } : {}) });
    try {
      const dim = await Wav2VecExtractor.probe(model, left, hop, right);
      return new Wav2VecExtractor(model, dim, left, hop, right);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  /** Check declared axes and one silent run; returns the hidden size. */
  private static async probe(model: OnnxModel, left: number, hop: number, right: number): Promise<number> {
    const frames = left + hop + right;
    const n = WAV2VEC_STRIDE * frames + (WAV2VEC_FIELD - WAV2VEC_STRIDE);
    const input = model.inputs.find((m) => m.name === 'input_values');
    const output = model.outputs.find((m) => m.name === 'last_hidden_state');
    if (!input || !output) throw new Error(`ONNX graph lacks input_values or last_hidden_state [file:${model.file}]`);
    const fixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
    const problems: string[] = [];
    if (fixed(input.shape[0]) && input.shape[0] !== 1) problems.push(`input 'input_values' batch: expected 1 or dynamic, found ${input.shape[0]}`);
    if (fixed(input.shape[1]) && input.shape[1] !== n) problems.push(`input 'input_values' samples: expected ${n} (window) or dynamic, found ${input.shape[1]}`);
    if (problems.length) throw new Error(`ONNX graph does not fit the wav2vec window [file:${model.file}, expected input ${formatShape([1, n])}, found ${formatShape(input.shape)}]: ${problems.join('; ')}`);
    const out = (await model.run({ input_values: float32Tensor(new Float32Array(n), [1, n]) })).last_hidden_state!;
    const [b, t, d] = out.dims;
    if (out.dims.length !== 3 || b !== 1 || t !== frames || !(d! > 0)) {
      throw new Error(
        `wav2vec graph gives the wrong frame count for a window [file:${model.file}, input ${formatShape([1, n])}, expected last_hidden_state ${formatShape([1, frames, fixed(output.shape[2]) ? output.shape[2] : 'dim'])} (frames = floor((samples - 400) / 320) + 1), found ${formatShape(out.dims)}]`,
      );
    }
    return d!;
  }

  /** Feed 16 kHz samples (NaN/Inf -> 0, clamped to [-1, 1], copied now); resolves with the frames completed, in order. */
  pushAsync(pcm16k: Float32Array): Promise<FeatureFrame[]> {
    if (this.disposed) return Promise.reject(new Error(`Wav2VecExtractor is disposed [file:${this.file}]`));
    this.append(pcm16k);
    const gen = this.gen;
    const p = this.tail.then(() => this.drain(gen));
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Forget all audio; pushes still running resolve with no frames. */
  reset(): void {
    this.gen++;
    this.total = 0;
    this.bufStart = 0;
    this.nextWindow = 0;
  }

  /** Counters for stats (run times in ms). */
  toJSON(): { windows: number; frames: number; nonFiniteSamples: number; clippedSamples: number; lastRunMs: number; meanRunMs: number; lookaheadMs: number } {
    const s = this.stats;
    return { windows: s.windows, frames: s.frames, nonFiniteSamples: s.nonFiniteSamples, clippedSamples: s.clippedSamples, lastRunMs: s.lastRunMs, meanRunMs: s.windows ? s.totalRunMs / s.windows : 0, lookaheadMs: this.lookaheadMs };
  }

  /** Release the ORT session; later pushes reject. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.gen++;
    await this.tail;
    await this.model.dispose();
  }

  /** First sample of window w (may be negative: zeros before the stream start). */
  private windowStart(w: number): number {
    return WAV2VEC_STRIDE * (w * this.hopFrames - this.leftFrames) + FIELD_OFFSET;
  }

  private append(pcm: Float32Array): void {
    // Keep only what the next pending window still needs, then make room.
    const keepFrom = Math.max(0, Math.min(this.total, this.windowStart(this.nextWindow)));
    if (keepFrom > this.bufStart) {
      this.buf.copyWithin(0, keepFrom - this.bufStart, this.total - this.bufStart);
      this.bufStart = keepFrom;
    }
    const live = this.total - this.bufStart;
    if (live + pcm.length > this.buf.length) {
      const grown = new Float32Array(Math.max(2 * this.buf.length, live + pcm.length));
      grown.set(this.buf.subarray(0, live));
      this.buf = grown;
    }
    const { nonFinite, clipped } = sanitizeAudio(pcm, this.buf, this.total - this.bufStart);
    this.stats.nonFiniteSamples += nonFinite;
    this.stats.clippedSamples += clipped;
    this.total += pcm.length;
  }

  private async drain(gen: number): Promise<FeatureFrame[]> {
    const frames: FeatureFrame[] = [];
    for (;;) {
      if (gen !== this.gen) return [];
      const w = this.nextWindow;
      const s0 = this.windowStart(w);
      if (this.total < s0 + this.windowSamples) return frames;
      const x = this.window;
      let mean = 0;
      for (let i = 0; i < x.length; i++) {
        const t = s0 + i;
        const v = t < 0 ? 0 : this.buf[t - this.bufStart]!;
        x[i] = v;
        mean += v;
      }
      mean /= x.length;
      let v2 = 0;
      for (let i = 0; i < x.length; i++) v2 += (x[i]! - mean) ** 2;
      const inv = 1 / Math.sqrt(v2 / x.length + VAR_EPS);
      const input = new Float32Array(x.length); // ORT may read it after this call returns; never reuse
      for (let i = 0; i < x.length; i++) input[i] = (x[i]! - mean) * inv;
      const t0 = performance.now();
      const out = await this.model.run({ input_values: float32Tensor(input, [1, input.length]) });
      if (gen !== this.gen) return [];
      const ms = performance.now() - t0;
      this.stats.lastRunMs = ms;
      this.stats.totalRunMs += ms;
      this.stats.windows++;
      const hidden = out.last_hidden_state!;
      const values = asFloat32(hidden);
      const D = this.dim;
      if (hidden.dims[1] !== this.leftFrames + this.hopFrames + this.rightFrames || hidden.dims[2] !== D) {
        throw new Error(`wav2vec output shape changed [file:${this.file}, expected ${formatShape([1, this.leftFrames + this.hopFrames + this.rightFrames, D])}, found ${formatShape(hidden.dims)}]`);
      }
      for (let i = 0; i < this.hopFrames; i++) {
        const f = w * this.hopFrames + i;
        const at = (this.leftFrames + i) * D;
        const v = values.slice(at, at + D);
        for (let k = 0; k < D; k++) if (!Number.isFinite(v[k]!)) v[k] = 0;
        frames.push({ timeMs: (f * 1000) / this.featureRate + this.firstCentreMs, values: v });
      }
      this.stats.frames += this.hopFrames;
      this.nextWindow = w + 1;
    }
  }
}
