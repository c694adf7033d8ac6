/**
 * The learned mouth model (trained on real talking video, tools/train/): a window of mouth features
 * (engines/motion/mouthFeatures.ts, 100 Hz) around a video frame's time -> that frame's inner-lip opening
 * (gap / mouth width, as MediaPipe measures real speakers) and mouth width (log ratio to the speaker's rest width).
 * The window's geometry lives in a JSON file beside the graph (`<name>.json`), written by the training tool.
 */
import { readFile } from 'node:fs/promises';
import type { Device } from '../onnx/executionProviders.ts';
import type { GraphContract } from '../onnx/GraphContract.ts';
import { loadOnnxModel, type OnnxModel } from '../onnx/OnnxModel.ts';
import { asFloat32, float32Tensor } from '../onnx/TensorData.ts';

/** `window` float32 [batch, frames, dim] -> `mouth` float32 [batch, 2] (opening, widthLog). */
export const AUDIO2MOUTH_CONTRACT: GraphContract = Object.freeze({
  name: 'audio2mouth',
  inputs: [{ name: 'window', dtype: ['float32'], dims: [{ size: 'batch' }, { size: 'frames' }, { size: 'dim' }], doc: 'mouth features, 100 Hz, pastFrames before the frame time to futureFrames after it' }],
  outputs: [{ name: 'mouth', dtype: ['float32'], dims: [{ size: 'batch' }, 2], doc: 'inner-lip opening (gap / width) and log mouth-width ratio to rest' }],
}) as GraphContract;

/** Window geometry and provenance (the JSON beside the graph). */
export interface Audio2MouthInfo {
  /** Feature frames per second the window is sampled at, Hz. */
  featureRate: number;
  /** Feature frames before and after the frame time. */
  pastFrames: number;
  futureFrames: number;
  /** Values per feature frame. */
  dim: number;
}

/** Options of `OnnxAudio2Mouth.create`. */
export interface OnnxAudio2MouthOptions {
  device?: Device;
  fallback?: boolean;
}

/** A loaded Audio2Mouth graph. */
export class OnnxAudio2Mouth {
  private readonly stats = { runs: 0, frames: 0, totalRunMs: 0 };

  private constructor(
    private readonly model: OnnxModel,
    readonly info: Audio2MouthInfo,
    readonly file: string,
  ) {}

  /** Frames in one window. */
  get windowFrames(): number {
    return this.info.pastFrames + this.info.futureFrames + 1;
  }

  /** Load `path` and its `<name>.json`; errors name the file and what does not match. */
  static async create(path: string, opts: OnnxAudio2MouthOptions = {}): Promise<OnnxAudio2Mouth> {
    const infoPath = path.replace(/\.onnx$/i, '') + '.json';
    let info: Audio2MouthInfo;
    try {
      info = parseInfo(JSON.parse(await readFile(infoPath, 'utf8')));
    } catch (err) {
      throw new Error(`audio2mouth model description is missing or invalid [file:${infoPath}]: ${(err as Error).message}`);
    }
    const model = await loadOnnxModel(path, { device: opts.device ?? 'cpu', fallback: opts.fallback ?? false, intraOpThreads: 1, contract: AUDIO2MOUTH_CONTRACT });
    const sizes = model.contract?.sizes ?? {};
    const expect = (name: string, want: number): void => {
      const got = sizes[name];
      if (typeof got === 'number' && got !== want) {
        void model.dispose();
        throw new Error(`ONNX graph does not match its description [file:${path}]: input 'window' ${name}: expected ${want} (from ${infoPath}), found ${got}`);
      }
    };
    expect('frames', info.pastFrames + info.futureFrames + 1);
    expect('dim', info.dim);
    return new OnnxAudio2Mouth(model, info, path);
  }

  /** Outputs [n * 2] for `n` windows ([n * windowFrames * dim], window-major). */
  async run(windows: Float32Array, n: number): Promise<Float32Array> {
    if (n === 0) return new Float32Array(0);
    const t0 = performance.now();
    const out = (await this.model.run({ window: float32Tensor(windows, [n, this.windowFrames, this.info.dim]) }))['mouth']!;
    this.stats.runs++;
    this.stats.frames += n;
    this.stats.totalRunMs += performance.now() - t0;
    const values = asFloat32(out).slice(0, n * 2);
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) values[i] = 0;
    return values;
  }

  /** Counters for stats (ms). */
  toJSON(): { runs: number; frames: number; meanRunMs: number } {
    const s = this.stats;
    return { runs: s.runs, frames: s.frames, meanRunMs: s.runs ? s.totalRunMs / s.runs : 0 };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

function parseInfo(j: unknown): Audio2MouthInfo {
  const o = j as Record<string, unknown>;
  const int = (k: string, lo: number, hi: number): number => {
    const v = o[k];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) throw new TypeError(`${k} must be an integer ${lo}..${hi} [${k}:${String(v)}]`);
    return v;
  };
  return { featureRate: int('featureRate', 25, 400), pastFrames: int('pastFrames', 0, 400), futureFrames: int('futureFrames', 0, 40), dim: int('dim', 1, 4096) };
}
