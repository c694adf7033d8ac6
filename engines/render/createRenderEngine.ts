import { join } from 'node:path';
import type { Device, TensorRtSettings } from '../onnx/executionProviders.ts';
import type { MotionFrame, ReferencePortrait, Renderer, RenderRequest, RgbaImage } from '../types.ts';
import { NEURAL_GRAPHS, type NeuralGraph } from './neural/contract.ts';
import { NeuralRenderer } from './neural/NeuralRenderer.ts';
import { WarpRenderer } from './WarpRenderer.ts';

/** Settings of the neural engine (config `renderer.neural`). */
export interface NeuralEngineSettings {
  /** Folder holding reference_net.onnx, pose_guider.onnx, denoise_unet.onnx, vae_decoder.onnx. */
  graphsDir: string;
  device: Device;
  fallback: boolean;
  tensorrt: Partial<TensorRtSettings>;
  steps: number;
  chunkFrames: number;
  contextFrames: number;
  maxBatch: number;
  maxQueue: number;
  cacheBytes: number;
  seed: number;
}

/** Which renderer, at which output size. */
export interface RenderEngineSettings {
  engine: 'warp' | 'neural';
  width: number;
  height: number;
  neural?: NeuralEngineSettings;
}

/** One session's view of a renderer: frames in, RGBA out, in chunks of `chunkFrames`. */
export interface FrameRenderer {
  /** Frames rendered together (1 for warp, K for the neural engine's temporal chunks). */
  readonly chunkFrames: number;
  /** The images may be reused by the session's next render: copy (or encode) them before calling again. */
  render(frames: readonly MotionFrame[]): Promise<RgbaImage[]>;
  /** Forget temporal context (on `clear`). */
  reset(): void;
  close(): void;
}

/** A renderer shared by the sessions of one thread. */
export interface RenderEngine {
  readonly name: 'warp' | 'neural';
  prepare(reference: ReferencePortrait): Promise<void>;
  openSession(referenceId: string, seed: number): FrameRenderer;
  release(referenceId: string): void;
  /** Counters for metrics, flat name -> value (empty for the warp engine). */
  counters(): Record<string, number>;
  dispose(): Promise<void>;
}

const toRequest = (referenceId: string) => (f: MotionFrame): RenderRequest => ({
  referenceId,
  landmarks: f.landmarks,
  frameIndex: f.index,
  mouthOpen: f.mouthOpen,
  ...(f.gaze ? { gaze: f.gaze } : {}),
});

/** Paths of the four neural graphs in `graphsDir`. */
export function neuralGraphPaths(graphsDir: string): Record<NeuralGraph, string> {
  return Object.fromEntries(NEURAL_GRAPHS.map((g) => [g, join(graphsDir, `${g}.onnx`)])) as Record<NeuralGraph, string>;
}

async function createNeural(s: RenderEngineSettings): Promise<NeuralRenderer> {
  const n = s.neural;
  if (!n) throw new TypeError('renderer.engine is neural but renderer.neural is not configured');
  return NeuralRenderer.create({
    graphs: neuralGraphPaths(n.graphsDir),
    width: s.width,
    height: s.height,
    device: n.device,
    fallback: n.fallback,
    tensorrt: n.tensorrt,
    steps: n.steps,
    chunkFrames: n.chunkFrames,
    contextFrames: n.contextFrames,
    maxBatch: n.maxBatch,
    maxQueue: n.maxQueue,
    cacheBytes: n.cacheBytes,
    seed: n.seed,
  });
}

function wrap(
  name: 'warp' | 'neural',
  renderer: Renderer,
  open: (referenceId: string, seed: number) => FrameRenderer,
  counters: () => Record<string, number> = () => ({}),
): RenderEngine {
  return {
    name,
    prepare: (ref) => renderer.prepare(ref),
    openSession: open,
    release: (id) => renderer.release(id),
    counters,
    dispose: () => renderer.dispose(),
  };
}

/** The neural engine's counters under the names the server exports. */
function neuralCounters(neural: NeuralRenderer): Record<string, number> {
  const { cache, batches } = neural.stats();
  return {
    reference_cache_hits: cache.hits,
    reference_cache_misses: cache.misses,
    reference_cache_bytes: cache.bytes,
    reference_cache_evictions: cache.evictions,
    batches: batches.batches,
    batch_items: batches.items,
    batch_dropped: batches.dropped,
  };
}

/** Build the configured renderer. The neural engine loads and validates its four graphs here. */
export async function createRenderEngine(s: RenderEngineSettings): Promise<RenderEngine> {
  if (s.engine === 'warp') {
    const warp = new WarpRenderer();
    return wrap('warp', warp, (referenceId) => {
      // Output buffers are the session's own and reused: a new 1 MiB frame per render is ~200 MiB/s of garbage at 8 sessions.
      const buffers: RgbaImage[] = [];
      const req = toRequest(referenceId);
      return {
        chunkFrames: 1,
        render: async (frames) =>
          frames.map((f, i) => {
            const out = (buffers[i] ??= { width: s.width, height: s.height, data: new Uint8Array(s.width * s.height * 4) });
            warp.renderInto(req(f), out);
            return out;
          }),
        reset: () => {},
        close: () => {
          buffers.length = 0;
        },
      };
    });
  }
  const neural = await createNeural(s);
  const chunkFrames = s.neural!.chunkFrames;
  return wrap(
    'neural',
    neural,
    (referenceId, seed) => {
      const stream = neural.openStream(referenceId, { seed });
      return {
        chunkFrames,
        render: (frames) => stream.renderChunk(frames.map(toRequest(referenceId))),
        reset: () => stream.reset(),
        close: () => stream.close(),
      };
    },
    () => neuralCounters(neural),
  );
}

/** Check at start that the configured renderer can be built (files present, graphs match the contract). */
export async function validateRenderEngine(s: RenderEngineSettings): Promise<void> {
  if (s.engine === 'warp') return;
  const neural = await createNeural(s);
  await neural.dispose();
}
