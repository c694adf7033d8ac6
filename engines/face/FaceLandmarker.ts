import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { RgbaImage } from '../types.ts';
import { spawnWorker } from '../util/spawnWorker.ts';
import type { DetectedFace, DetectRequest, WorkerReply } from './faceLandmarkerProtocol.ts';

export type { DetectedFace, FaceBox } from './faceLandmarkerProtocol.ts';

/** Options of a FaceLandmarker. */
export interface FaceLandmarkerOptions {
  /** Longest a single detect() may take, including the first model load, ms. */
  timeoutMs?: number;
}

interface Pending {
  resolve: (faces: DetectedFace[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const require = createRequire(import.meta.url);

/** Paths of the Human bundle, its models and the tfjs wasm binaries inside node_modules. */
function humanPaths(): { humanPath: string; wasmDir: string; modelDir: string } {
  const humanRoot = dirname(dirname(require.resolve('@vladmandic/human')));
  const wasmRoot = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return {
    humanPath: join(humanRoot, 'dist', 'human.node-wasm.js'),
    wasmDir: pathToFileURL(join(wasmRoot, 'dist')).href + '/',
    modelDir: pathToFileURL(join(humanRoot, 'models')).href + '/',
  };
}

/**
 * 468-point face landmark detector (MediaPipe order) running @vladmandic/human on the tfjs wasm
 * backend in a worker thread. The worker starts on the first detect() and models load then.
 */
export class FaceLandmarker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly timeoutMs: number;
  /** Number of detect() calls that reached the worker. */
  detectCount = 0;

  constructor({ timeoutMs = 60_000 }: FaceLandmarkerOptions = {}) {
    this.timeoutMs = timeoutMs;
  }

  /** True after close(). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Detect faces in an RGBA image; landmarks are in that image's pixels. The image is copied, not transferred. */
  detect(image: RgbaImage): Promise<DetectedFace[]> {
    if (this.closed) return Promise.reject(new Error('FaceLandmarker is closed'));
    if (image.data.length !== image.width * image.height * 4) {
      return Promise.reject(new TypeError(`image.data length ${image.data.length} != width*height*4 [${image.width}x${image.height}]`));
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    this.detectCount++;
    return new Promise<DetectedFace[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.updateRef();
        reject(new Error(`face detection timed out [timeoutMs:${this.timeoutMs}]`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.updateRef();
      const rgba = new Uint8Array(image.data);
      const req: DetectRequest = { id, width: image.width, height: image.height, rgba };
      worker.postMessage(req, [rgba.buffer as ArrayBuffer]);
    });
  }

  /** Stop the worker; pending detections reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('FaceLandmarker closed, pending detection aborted'));
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker(new URL('./faceLandmarkerWorker.ts', import.meta.url), humanPaths());
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      clearTimeout(p.timer);
      this.updateRef();
      if (reply.error !== undefined) p.reject(new Error(`face detection failed: ${reply.error}`));
      else p.resolve(reply.faces ?? []);
    });
    worker.on('error', (err: unknown) => this.workerDied(worker, err instanceof Error ? err : new Error(String(err))));
    worker.on('exit', (code) => this.workerDied(worker, new Error(`face landmarker worker exited [code:${code}]`)));
    this.worker = worker;
    return worker;
  }

  private workerDied(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined; // the next detect() starts a fresh worker
    this.failAll(err);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  // An idle worker must not keep the process alive; a busy one must.
  private updateRef(): void {
    if (!this.worker) return;
    if (this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}

let shared: FaceLandmarker | undefined;

/** The process-wide FaceLandmarker (created on first use; a closed one is replaced). */
export function sharedFaceLandmarker(): FaceLandmarker {
  if (!shared || shared.isClosed) shared = new FaceLandmarker();
  return shared;
}
