import { Prng } from '../../motion/prng.ts';
import type { RenderRequest, RgbaImage } from '../../types.ts';
import { drawLandmarkImage, rgbaToPlanes } from './LandmarkImage.ts';

/** Window geometry shared by a renderer and its streams. */
export interface WindowShape {
  width: number;
  height: number;
  latentChannels: number;
  /** Latent pixels per frame (width/8 * height/8). */
  latentPixels: number;
  /** New frames per chunk, K. */
  chunkFrames: number;
  /** Motion-context frames before them, C. Window length F = C + K. */
  contextFrames: number;
  /** LCM steps. */
  steps: number;
}

/** Clean latents and pose planes of the last C frames of a chunk, reused as the next chunk's context. */
export interface MotionContext {
  /** [C][latentChannels][latentPixels], flat, clean (denoised) latents. */
  latents: Float32Array;
  /** [3][C][H*W] pose planes of those frames (the pose_image layout of one item). */
  pose: Float32Array;
}

/** One chunk of one stream, as the batch runner receives it. */
export interface ChunkJob {
  referenceId: string;
  /** Pose planes of the window, [3][F][H*W] (one item of pose_image, values in [0, 1]). */
  pose: Float32Array;
  /** Previous chunk's context, or undefined on the first chunk (context frames are then sampled freely). */
  context: MotionContext | undefined;
  /** Initial noise and per-step noise of one frame, [steps][latentChannels * latentPixels]; reused by every frame. */
  noise: Float32Array;
  /** Frames the caller asked for (<= K; the rest of the window repeats the last landmarks). */
  frames: number;
}

/** What the batch runner gives back for one chunk. */
export interface ChunkResult {
  images: RgbaImage[];
  context: MotionContext;
}

/**
 * One session's streaming state on the neural renderer: chunks of K frames, each window prefixed
 * by the previous chunk's last C frames as motion context, so the temporal layers join chunks.
 * Chunks of one stream run in order; noise is fixed per stream (seeded) so frames do not flicker.
 */
export class NeuralStream {
  private context: MotionContext | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly noise: Float32Array;
  private readonly scratch: RgbaImage;
  /** Chunks rendered so far. */
  chunks = 0;

  constructor(
    /** Portrait this stream animates (must be prepared). */
    readonly referenceId: string,
    private readonly shape: WindowShape,
    seed: number,
    private readonly submit: (job: ChunkJob) => Promise<ChunkResult>,
  ) {
    const rng = new Prng(seed);
    const per = shape.latentChannels * shape.latentPixels;
    this.noise = new Float32Array(shape.steps * per);
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = rng.gaussian();
    this.scratch = { width: shape.width, height: shape.height, data: new Uint8Array(shape.width * shape.height * 4) };
  }

  /** New frames per chunk, K. */
  get chunkFrames(): number {
    return this.shape.chunkFrames;
  }

  /**
   * Render the next 1..K frames (a short chunk is padded with its last landmarks, and only the
   * asked frames come back). Calls queue behind each other; returns one RGBA frame per request.
   */
  renderChunk(requests: readonly RenderRequest[]): Promise<RgbaImage[]> {
    if (this.closed) return Promise.reject(new Error(`neural stream is closed [referenceId:${this.referenceId}]`));
    const { chunkFrames } = this.shape;
    if (requests.length < 1 || requests.length > chunkFrames) return Promise.reject(new TypeError(`a chunk takes 1..${chunkFrames} frames, got ${requests.length}`));
    for (const r of requests) {
      if (r.referenceId !== this.referenceId) return Promise.reject(new TypeError(`request for portrait ${r.referenceId} on a stream of ${this.referenceId} [frameIndex:${r.frameIndex}]`));
    }
    const run = this.tail.then(() => this.runChunk(requests));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Forget the motion context (after `clear`): the next chunk starts fresh. */
  reset(): void {
    this.context = undefined;
  }

  /** Refuse further chunks; the one in flight finishes. */
  close(): void {
    this.closed = true;
  }

  private async runChunk(requests: readonly RenderRequest[]): Promise<RgbaImage[]> {
    const { width, height, chunkFrames, contextFrames } = this.shape;
    const F = contextFrames + chunkFrames, hw = width * height;
    const pose = new Float32Array(3 * F * hw);
    const ctx = this.context;
    for (let f = 0; f < F; f++) {
      if (f < contextFrames && ctx) {
        for (let c = 0; c < 3; c++) pose.set(ctx.pose.subarray((c * contextFrames + f) * hw, (c * contextFrames + f + 1) * hw), (c * F + f) * hw);
        continue;
      }
      // Without context the context slots show the first new frame's pose; short chunks repeat the last one.
      const k = Math.min(Math.max(0, f - contextFrames), requests.length - 1);
      drawLandmarkImage(requests[k]!.landmarks, { width, height }, this.scratch);
      rgbaToPlanes(this.scratch, pose, f * hw, F * hw);
    }
    const result = await this.submit({ referenceId: this.referenceId, pose, context: ctx, noise: this.noise, frames: requests.length });
    this.context = result.context;
    this.chunks++;
    return result.images;
  }
}
