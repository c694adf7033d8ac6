/**
 * Per-video-frame regressors from ONNX graphs (Audio2Mesh, Audio2Pose) run over a sliding window of features:
 * each call feeds up to `contextFrames` earlier frames plus the new ones and keeps only the new frames'
 * outputs, so a graph with a causal temporal receptive field <= contextFrames + 1 gives exactly its
 * whole-sequence output while streaming.
 */
import type { Device } from '../onnx/executionProviders.ts';
import { formatShape, type GraphContract } from '../onnx/GraphContract.ts';
import { loadOnnxModel, type OnnxModel } from '../onnx/OnnxModel.ts';
import { asFloat32, float32Tensor } from '../onnx/TensorData.ts';
import { NUM_LANDMARKS } from '../types.ts';

/** Audio2Mesh: `features` float32 [batch, frames, dim] -> `offsets` float32 [batch, frames, 1404] (468 x 3 canonical cm). */
export const AUDIO2MESH_CONTRACT: GraphContract = Object.freeze({
  name: 'audio2mesh',
  inputs: [{ name: 'features', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, { size: 'dim' }], doc: 'audio features at the video fps' }],
  outputs: [{ name: 'offsets', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, NUM_LANDMARKS * 3], doc: 'vertex offsets from the neutral mesh, canonical cm' }],
}) as GraphContract;

/** Audio2Pose: `features` float32 [batch, frames, dim] -> `pose` float32 [batch, frames, 6] (Euler x y z degrees, translation x y z cm). */
export const AUDIO2POSE_CONTRACT: GraphContract = Object.freeze({
  name: 'audio2pose',
  inputs: [{ name: 'features', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, { size: 'dim' }], doc: 'audio features at the video fps' }],
  outputs: [{ name: 'pose', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, 6], doc: 'pitch, yaw, roll (degrees), tx, ty, tz (cm, relative to the reference)' }],
}) as GraphContract;

/** Options of the ONNX frame models. */
export interface OnnxFrameModelOptions {
  /** Earlier frames fed with the new ones (the graph's causal receptive field - 1). */
  contextFrames?: number;
  device?: Device;
  fallback?: boolean;
  /** Threads inside one ORT operator (default 1). */
  intraOpThreads?: number;
  /** Name used in messages when loading from bytes. */
  label?: string;
}

/** A `features -> <output>` graph run over a sliding window of feature frames. */
export class OnnxFrameModel {
  /** Feature size the graph takes (its `dim` axis), or undefined when the graph leaves it symbolic. */
  readonly featureDim: number | undefined;
  /** Values per output frame (1404 or 6). */
  readonly outDim: number;
  /** Earlier frames fed as context. */
  readonly contextFrames: number;
  /** Path or label of the graph. */
  readonly file: string;
  private readonly model: OnnxModel;
  private readonly output: string;
  private history = new Float32Array(0); // last contextFrames feature frames, oldest first
  private historyFrames = 0;
  private dim = 0;
  private readonly stats = { runs: 0, frames: 0, lastRunMs: 0, totalRunMs: 0 };

  protected constructor(model: OnnxModel, output: string, outDim: number, contextFrames: number) {
    this.model = model;
    this.file = model.file;
    this.output = output;
    this.outDim = outDim;
    this.contextFrames = contextFrames;
    const d = model.contract?.sizes['dim'];
    this.featureDim = typeof d === 'number' && d > 0 ? d : undefined;
  }

  /** Load and check `source` against `contract`; the model is disposed again when the check fails. */
  protected static async loadChecked(source: string | Uint8Array, contract: GraphContract, opts: OnnxFrameModelOptions): Promise<OnnxModel> {
    const { device = 'cpu', fallback = false, intraOpThreads = 1, label, contextFrames = 0 } = opts;
    if (!(Number.isInteger(contextFrames) && contextFrames >= 0 && contextFrames <= 1000)) throw new TypeError(`contextFrames must be an integer 0..1000 [contextFrames:${contextFrames}]`);
    const model = await loadOnnxModel(source, { device, fallback, intraOpThreads, contract, ...(label ? { label } : {}) });
    const b = model.inputs[0]?.shape[0];
    if (typeof b === 'number' && b > 1) {
      await model.dispose();
      throw new Error(`ONNX graph does not match the ${contract.name} contract [file:${model.file}]: batch: expected 1 or dynamic, found ${b}`);
    }
    return model;
  }

  /**
   * Outputs for `frames` new feature frames (`features` [frames * dim], frame-major), in `[frames * outDim]`.
   * Calls must not overlap (the motion stage serialises them).
   */
  async run(features: Float32Array, frames: number): Promise<Float32Array> {
    if (frames === 0) return new Float32Array(0);
    const dim = features.length / frames;
    if (!Number.isInteger(dim) || (this.featureDim !== undefined && dim !== this.featureDim)) {
      throw new TypeError(`features do not fit the graph [file:${this.file}, expected ${formatShape([1, frames, this.featureDim ?? 'dim'])}, found ${features.length} values for ${frames} frames]`);
    }
    if (dim !== this.dim) {
      this.dim = dim;
      this.history = new Float32Array(this.contextFrames * dim);
      this.historyFrames = 0;
    }
    const h = this.historyFrames;
    const input = new Float32Array((h + frames) * dim);
    input.set(this.history.subarray((this.contextFrames - h) * dim));
    input.set(features, h * dim);
    const t0 = performance.now();
    const out = (await this.model.run({ features: float32Tensor(input, [1, h + frames, dim]) }))[this.output]!;
    const ms = performance.now() - t0;
    this.stats.runs++;
    this.stats.frames += frames;
    this.stats.lastRunMs = ms;
    this.stats.totalRunMs += ms;
    if (out.dims.length !== 3 || out.dims[1] !== h + frames || out.dims[2] !== this.outDim) {
      throw new Error(`ONNX output has the wrong shape [file:${this.file}, expected ${this.output} ${formatShape([1, h + frames, this.outDim])}, found ${formatShape(out.dims)}]`);
    }
    // Slide the context: keep the newest contextFrames frames of [history, features].
    if (this.contextFrames > 0) {
      const keep = Math.min(this.contextFrames, h + frames);
      this.history.set(input.subarray((h + frames - keep) * dim), (this.contextFrames - keep) * dim);
      this.historyFrames = keep;
    }
    const values = asFloat32(out).slice(h * this.outDim);
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) values[i] = 0;
    return values;
  }

  /** Forget the context (after `clear`). */
  reset(): void {
    this.historyFrames = 0;
  }

  /** Counters for stats (run times in ms). */
  toJSON(): { runs: number; frames: number; lastRunMs: number; meanRunMs: number } {
    const s = this.stats;
    return { runs: s.runs, frames: s.frames, lastRunMs: s.lastRunMs, meanRunMs: s.runs ? s.totalRunMs / s.runs : 0 };
  }

  /** Release the ORT session. Idempotent. */
  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
