import { loadOnnxModel, type OnnxModel } from '../../onnx/OnnxModel.ts';
import type { Device, ProviderName, TensorRtSettings } from '../../onnx/executionProviders.ts';
import { asFloat32, castFloat, type TensorData } from '../../onnx/TensorData.ts';
import { NUM_LANDMARKS, type ReferencePortrait, type Renderer, type RenderRequest, type RgbaImage } from '../../types.ts';
import { BatchScheduler, type BatchSchedulerStats } from './BatchScheduler.ts';
import { checkNeuralSet, LATENT_DOWNSCALE, LATENT_SCALE, NEURAL_CONTRACTS, NEURAL_GRAPHS, type NeuralGraph } from './contract.ts';
import { drawLandmarkImage, rgbaToPlanes } from './LandmarkImage.ts';
import { LcmScheduler } from './LcmScheduler.ts';
import { NeuralStream, type ChunkJob, type ChunkResult, type WindowShape } from './NeuralStream.ts';
import { ReferenceFeatureCache, type ReferenceCacheStats, type ReferenceFeatures } from './ReferenceFeatureCache.ts';

/** Options of NeuralRenderer.create. */
export interface NeuralRendererOptions {
  /** The four graphs: file paths or ONNX bytes. */
  graphs: Readonly<Record<NeuralGraph, string | Uint8Array>>;
  /** Output frame size, px (multiples of 8; portraits must have this size). */
  width: number;
  height: number;
  /** Execution device. Default 'cpu'. */
  device?: Device;
  /** Try cheaper providers when the device's cannot start. Default false. */
  fallback?: boolean;
  /** TensorRT settings. */
  tensorrt?: Partial<TensorRtSettings>;
  /** LCM steps, 1..4. Default 4. */
  steps?: number;
  /** New frames per chunk, K (latency = K frames + one batch). Default 4. */
  chunkFrames?: number;
  /** Motion-context frames from the previous chunk, C (0..K). Default 2. */
  contextFrames?: number;
  /** Most chunks (of different sessions) run as one batch. Default 4. */
  maxBatch?: number;
  /** Most chunks waiting for a batch; more are rejected (drop-newest). Default 64. */
  maxQueue?: number;
  /** Memory budget of cached ReferenceNet features, bytes. Default 512 MiB. */
  cacheBytes?: number;
  /** Seed of the latent noise (a stream may add its own). Default 0. */
  seed?: number;
  /** ONNX Runtime intra-op threads on CPU; 0 = its default. */
  intraOpThreads?: number;
}

/** Milliseconds of the stages of the latest batch (and of the latest reference_net run). */
export interface NeuralStageTimings {
  /** Chunks in the batch. */
  batch: number;
  referenceMs: number;
  poseGuiderMs: number;
  /** One entry per LCM step. */
  unetStepMs: number[];
  vaeMs: number;
  /** JS work around the graphs: packing tensors, sampler maths, RGBA conversion. */
  hostMs: number;
}

/** Counters for /metrics. */
export interface NeuralRendererStats {
  provider: ProviderName;
  cache: ReferenceCacheStats;
  batches: BatchSchedulerStats;
  last: NeuralStageTimings;
}

interface Portrait {
  reference: ReferencePortrait;
  /** Portrait RGB planes in [-1, 1], [3][H*W]. */
  image: Float32Array;
  /** Landmark image of the portrait's own landmarks, [3][H*W] in [0, 1]. */
  pose: Float32Array;
}

function concatBatch(parts: readonly TensorData[]): TensorData {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const per = first.data.length;
  const data = new (first.data.constructor as new (n: number) => TensorData['data'])(per * parts.length);
  parts.forEach((p, i) => (data as Float32Array).set(p.data as Float32Array, i * per));
  return { type: first.type, data, dims: [parts.length * first.dims[0]!, ...first.dims.slice(1)] };
}

/**
 * Neural Lmk2Video on ONNX Runtime: reference_net once per portrait (cached by content hash, shared
 * by sessions), then per chunk pose_guider + `steps` LCM steps of denoise_unet + vae_decoder, with
 * chunks of all sessions batched together. Sessions use openStream(); render() serves one-off clips.
 */
export class NeuralRenderer implements Renderer {
  readonly name = 'neural';
  /** Frames one batch renders (maxBatch chunks of K frames). */
  readonly maxBatch: number;
  /** Frames of motion context each window carries. */
  readonly temporalContext: number;
  /** Execution provider the graphs run on. */
  readonly provider: ProviderName;
  /** Window geometry. */
  readonly shape: WindowShape;
  private readonly portraits = new Map<string, Portrait>();
  private readonly cache: ReferenceFeatureCache;
  private readonly scheduler: BatchScheduler<ChunkJob, ChunkResult>;
  private readonly lcm: LcmScheduler;
  private readonly floatType: Record<NeuralGraph, 'float32' | 'float16'>;
  private disposed = false;
  private last: NeuralStageTimings = { batch: 0, referenceMs: 0, poseGuiderMs: 0, unetStepMs: [], vaeMs: 0, hostMs: 0 };

  private constructor(
    private readonly models: Record<NeuralGraph, OnnxModel>,
    private readonly options: Required<Omit<NeuralRendererOptions, 'tensorrt' | 'graphs'>>,
    latentChannels: number,
  ) {
    const o = options;
    this.provider = models.denoise_unet.provider;
    this.lcm = new LcmScheduler(o.steps);
    this.shape = {
      width: o.width,
      height: o.height,
      latentChannels,
      latentPixels: (o.width / LATENT_DOWNSCALE) * (o.height / LATENT_DOWNSCALE),
      chunkFrames: o.chunkFrames,
      contextFrames: o.contextFrames,
      steps: o.steps,
    };
    this.maxBatch = o.maxBatch * o.chunkFrames;
    this.temporalContext = o.contextFrames;
    this.cache = new ReferenceFeatureCache(o.cacheBytes);
    this.scheduler = new BatchScheduler({ maxBatch: o.maxBatch, maxQueue: o.maxQueue, runBatch: (jobs) => this.runBatch(jobs) });
    this.floatType = Object.fromEntries(NEURAL_GRAPHS.map((g) => [g, models[g].contract?.floatType ?? 'float32'])) as Record<NeuralGraph, 'float32' | 'float16'>;
  }

  /** Load and check the four graphs (each against its contract, then as a set); throws naming the file at fault. */
  static async create(options: NeuralRendererOptions): Promise<NeuralRenderer> {
    const o = {
      device: 'cpu' as Device,
      fallback: false,
      steps: 4,
      chunkFrames: 4,
      contextFrames: 2,
      maxBatch: 4,
      maxQueue: 64,
      cacheBytes: 512 * 2 ** 20,
      seed: 0,
      intraOpThreads: 0,
      ...options,
    };
    if (!Number.isInteger(o.chunkFrames) || o.chunkFrames < 1) throw new TypeError(`chunkFrames must be an integer >= 1, got ${o.chunkFrames}`);
    if (!Number.isInteger(o.contextFrames) || o.contextFrames < 0 || o.contextFrames > o.chunkFrames) throw new TypeError(`contextFrames must be an integer in 0..chunkFrames (${o.chunkFrames}), got ${o.contextFrames}`);
    if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1) throw new TypeError(`maxBatch must be an integer >= 1, got ${o.maxBatch}`);
    new LcmScheduler(o.steps); // validates steps before loading anything
    const models = {} as Record<NeuralGraph, OnnxModel>;
    try {
      for (const g of NEURAL_GRAPHS) {
        const src = options.graphs[g];
        if (src === undefined) throw new TypeError(`graphs.${g} is missing [expected: ${NEURAL_GRAPHS.join(', ')}]`);
        models[g] = await loadOnnxModel(src, { device: o.device, fallback: o.fallback, tensorrt: options.tensorrt, contract: NEURAL_CONTRACTS[g], label: `${g}.onnx`, intraOpThreads: o.intraOpThreads });
      }
      const shape = checkNeuralSet(
        {
          file: Object.fromEntries(NEURAL_GRAPHS.map((g) => [g, models[g].file])) as Record<NeuralGraph, string>,
          inputs: Object.fromEntries(NEURAL_GRAPHS.map((g) => [g, models[g].inputs])) as Record<NeuralGraph, ValueMetaList>,
          outputs: Object.fromEntries(NEURAL_GRAPHS.map((g) => [g, models[g].outputs])) as Record<NeuralGraph, ValueMetaList>,
        },
        { width: o.width, height: o.height },
      );
      const { graphs: _graphs, tensorrt: _trt, ...rest } = o;
      return new NeuralRenderer(models, rest, shape.latentChannels);
    } catch (err) {
      await Promise.all(Object.values(models).map((m) => m.dispose()));
      throw err;
    }
  }

  /** Check the portrait and compute its ReferenceNet features (once per content hash; later calls hit the cache). */
  async prepare(reference: ReferencePortrait): Promise<void> {
    this.assertOpen();
    const { width, height } = this.shape;
    if (reference.image.width !== width || reference.image.height !== height) {
      throw new TypeError(`neural renderer needs ${width}x${height} portraits, got ${reference.image.width}x${reference.image.height} [referenceId:${reference.id}]`);
    }
    if (reference.image.data.length !== width * height * 4) throw new TypeError(`reference image size mismatch [referenceId:${reference.id}]`);
    if (reference.landmarks.length < NUM_LANDMARKS * 2) throw new TypeError(`reference needs ${NUM_LANDMARKS} landmarks [referenceId:${reference.id}]`);
    if (!this.portraits.has(reference.id)) {
      const hw = width * height;
      const image = new Float32Array(3 * hw);
      rgbaToPlanes(reference.image, image, 0, hw, 2 / 255, -1);
      const pose = new Float32Array(3 * hw);
      rgbaToPlanes(drawLandmarkImage(reference.landmarks, { width, height }), pose, 0, hw);
      this.portraits.set(reference.id, { reference, image, pose });
    }
    await this.features(reference.id);
  }

  /** A streaming session on a prepared portrait; `seed` varies the noise per session (default: the renderer's). */
  openStream(referenceId: string, options: { seed?: number } = {}): NeuralStream {
    this.assertOpen();
    if (!this.portraits.has(referenceId)) throw new Error(`reference not prepared [referenceId:${referenceId}]`);
    return new NeuralStream(referenceId, this.shape, options.seed ?? this.options.seed, (job) => this.scheduler.submit(job));
  }

  /**
   * Render a clip: requests are grouped by portrait (in order), each group streamed in chunks of K
   * with motion context, groups batched together. One output per request, in request order.
   */
  async render(batch: RenderRequest[]): Promise<RgbaImage[]> {
    this.assertOpen();
    const groups = new Map<string, number[]>();
    batch.forEach((r, i) => {
      const g = groups.get(r.referenceId);
      if (g) g.push(i);
      else groups.set(r.referenceId, [i]);
    });
    const out: RgbaImage[] = new Array(batch.length);
    await Promise.all(
      [...groups].map(async ([id, idx]) => {
        const stream = this.openStream(id);
        const K = this.shape.chunkFrames;
        for (let s = 0; s < idx.length; s += K) {
          const part = idx.slice(s, s + K);
          const imgs = await stream.renderChunk(part.map((i) => batch[i]!));
          part.forEach((i, j) => (out[i] = imgs[j]!));
        }
        stream.close();
      }),
    );
    return out;
  }

  /** Drop a portrait and its cached features. */
  release(referenceId: string): void {
    this.portraits.delete(referenceId);
    this.cache.delete(referenceId);
  }

  /** Counters and the latest stage timings. */
  stats(): NeuralRendererStats {
    return { provider: this.provider, cache: this.cache.stats(), batches: this.scheduler.stats(), last: { ...this.last, unetStepMs: [...this.last.unetStepMs] } };
  }

  /** Reject waiting chunks and release the sessions. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.close();
    this.portraits.clear();
    this.cache.clear();
    await Promise.all(Object.values(this.models).map((m) => m.dispose()));
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('neural renderer is disposed');
  }

  private features(referenceId: string): Promise<ReferenceFeatures> {
    return this.cache.get(referenceId, async () => {
      const p = this.portraits.get(referenceId);
      if (!p) throw new Error(`reference not prepared [referenceId:${referenceId}]`);
      const t0 = performance.now();
      const input = castFloat({ type: 'float32', data: p.image, dims: [1, 3, this.shape.height, this.shape.width] }, this.floatType.reference_net);
      const out = await this.models.reference_net.run({ reference_image: input });
      this.last.referenceMs = performance.now() - t0;
      return out;
    });
  }

  /** One batch of chunks from any sessions: pose_guider, LCM steps of denoise_unet, vae_decoder. */
  private async runBatch(jobs: ChunkJob[]): Promise<ChunkResult[]> {
    const { width, height, latentChannels: LC, latentPixels: hw, chunkFrames: K, contextFrames: Cx, steps } = this.shape;
    const F = Cx + K, B = jobs.length, HW = width * height, per = LC * F * hw, frameLat = LC * hw;
    const timings: NeuralStageTimings = { batch: B, referenceMs: this.last.referenceMs, poseGuiderMs: 0, unetStepMs: [], vaeMs: 0, hostMs: 0 };
    let t = performance.now();
    const host = (): void => {
      const now = performance.now();
      timings.hostMs += now - t;
      t = now;
    };
    const refs = await Promise.all(jobs.map((j) => this.features(j.referenceId)));
    const ft = this.floatType;
    const poseImage = new Float32Array(B * 3 * F * HW);
    const refPose = new Float32Array(B * 3 * HW);
    jobs.forEach((j, b) => {
      poseImage.set(j.pose, b * 3 * F * HW);
      refPose.set(this.portraits.get(j.referenceId)?.pose ?? failPrepared(j.referenceId), b * 3 * HW);
    });
    host();
    const poseFeats = await this.models.pose_guider.run({
      pose_image: castFloat({ type: 'float32', data: poseImage, dims: [B, 3, F, height, width] }, ft.pose_guider),
      ref_pose_image: castFloat({ type: 'float32', data: refPose, dims: [B, 3, height, width] }, ft.pose_guider),
    });
    timings.poseGuiderMs = performance.now() - t;
    t = performance.now();
    const refNames = Object.keys(refs[0]!);
    const feeds: Record<string, TensorData> = { ...poseFeats };
    for (const name of refNames) feeds[name] = concatBatch(refs.map((r) => r[name]!));

    // Latents of every item, NCFHW per item: ((c * F) + f) * hw + p.
    const sample = new Float32Array(B * per);
    const denoised = new Float32Array(B * per);
    const clean = new Float32Array(frameLat);
    const noisy = new Float32Array(frameLat);
    const setFrame = (b: number, f: number, src: Float32Array): void => {
      for (let c = 0; c < LC; c++) sample.set(src.subarray(c * hw, (c + 1) * hw), b * per + (c * F + f) * hw);
    };
    jobs.forEach((j, b) => {
      for (let f = 0; f < F; f++) setFrame(b, f, j.noise.subarray(0, frameLat));
    });
    const timestep = new Float32Array(B);
    for (let s = 0; s < steps; s++) {
      // Context frames follow the previous chunk: its clean latents, noised to this step's level with this stream's noise.
      jobs.forEach((j, b) => {
        if (!j.context) return;
        for (let f = 0; f < Cx; f++) {
          clean.set(j.context.latents.subarray(f * frameLat, (f + 1) * frameLat));
          this.lcm.addNoise(s, clean, j.noise.subarray(s * frameLat, (s + 1) * frameLat), noisy);
          setFrame(b, f, noisy);
        }
      });
      timestep.fill(this.lcm.timesteps[s]!);
      feeds.sample = castFloat({ type: 'float32', data: sample, dims: [B, LC, F, height / LATENT_DOWNSCALE, width / LATENT_DOWNSCALE] }, ft.denoise_unet);
      feeds.timestep = { type: 'float32', data: timestep, dims: [B] };
      host();
      const { model_output } = await this.models.denoise_unet.run(feeds);
      timings.unetStepMs.push(performance.now() - t);
      t = performance.now();
      const eps = asFloat32(model_output!);
      if (s + 1 < steps) {
        // Next-step noise is the same for every frame and item of a stream: [C][hw] tiled over frames.
        const noise = new Float32Array(B * per);
        jobs.forEach((j, b) => {
          const src = j.noise.subarray((s + 1) * frameLat, (s + 2) * frameLat);
          for (let c = 0; c < LC; c++) for (let f = 0; f < F; f++) noise.set(src.subarray(c * hw, (c + 1) * hw), b * per + (c * F + f) * hw);
        });
        this.lcm.step(s, sample, eps, denoised, sample, noise);
      } else {
        this.lcm.step(s, sample, eps, denoised);
      }
    }

    // Decode the K new frames of every item: [B*K, LC, h, w], divided by the latent scale.
    const latent = new Float32Array(B * K * frameLat);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        for (let c = 0; c < LC; c++) {
          const src = denoised.subarray(b * per + (c * F + Cx + k) * hw, b * per + (c * F + Cx + k + 1) * hw);
          const dst = ((b * K + k) * LC + c) * hw;
          for (let p = 0; p < hw; p++) latent[dst + p] = src[p]! / LATENT_SCALE;
        }
      }
    }
    host();
    const { image } = await this.models.vae_decoder.run({ latent: castFloat({ type: 'float32', data: latent, dims: [B * K, LC, height / LATENT_DOWNSCALE, width / LATENT_DOWNSCALE] }, ft.vae_decoder) });
    timings.vaeMs = performance.now() - t;
    t = performance.now();
    const rgb = asFloat32(image!);

    const results = jobs.map((j, b): ChunkResult => {
      const images: RgbaImage[] = [];
      for (let k = 0; k < j.frames; k++) images.push(planesToRgba(rgb, (b * K + k) * 3 * HW, width, height));
      // Context for the next chunk: the last Cx real frames of this window.
      const ctxLatents = new Float32Array(Cx * frameLat);
      const ctxPose = new Float32Array(3 * Cx * HW);
      for (let i = 0; i < Cx; i++) {
        const f = j.frames + i; // window index: real frames end at Cx + frames - 1
        for (let c = 0; c < LC; c++) ctxLatents.set(denoised.subarray(b * per + (c * F + f) * hw, b * per + (c * F + f + 1) * hw), (i * LC + c) * hw);
        for (let c = 0; c < 3; c++) ctxPose.set(j.pose.subarray((c * F + f) * HW, (c * F + f + 1) * HW), (c * Cx + i) * HW);
      }
      return { images, context: { latents: ctxLatents, pose: ctxPose } };
    });
    host();
    this.last = timings;
    return results;
  }
}

type ValueMetaList = OnnxModel['inputs'];

function failPrepared(id: string): never {
  throw new Error(`reference not prepared [referenceId:${id}]`);
}

/** RGB planes in [-1, 1] at `offset` ([3][H*W]) -> a new RGBA frame. */
function planesToRgba(rgb: Float32Array, offset: number, width: number, height: number): RgbaImage {
  const n = width * height, data = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (rgb[offset + c * n + p]! + 1) * 127.5 + 0.5;
      data[4 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    data[4 * p + 3] = 255;
  }
  return { width, height, data };
}
