/**
 * An independent face measurer for evaluation: MediaPipe FaceLandmarker (478 landmarks + 52 blendshapes, the
 * annotator AniPortrait trains with) running in headless Chromium (WASM, CPU delegate) via playwright-core.
 * Nothing here shares code with the product's own face engines, so it can judge their output.
 *
 * Node serves the page, the tasks-vision bundle and wasm (node_modules) and the model (../shared/models) from
 * a 127.0.0.1 http server; frames travel to the page as raw RGBA batches fetched from that server, results
 * come back as base64 float32 records.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BLENDSHAPES, LANDMARKS, PAGE_HTML, PAGE_JS, RECORD } from './pageScript.ts';
import { probeVideo, readRawFrames } from './video.ts';
import { BLENDSHAPE_NAMES } from '../../engines/face/blendshapes.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The vendored copy of ../shared/models/face_landmarker_v2_with_blendshapes.task (assets/models/NOTICE.md). */
export const DEFAULT_MODEL_PATH = join(ROOT, 'assets/models/face_landmarker.task');
const TASKS_VISION = join(ROOT, 'node_modules/@mediapipe/tasks-vision');
/** Bytes of RGBA per batch sent to the page (about 16 frames of 512x512). */
const BATCH_BYTES = 16 << 20;

/** What MediaPipe found in one frame. */
export interface FaceMeasurement {
  found: boolean;
  /** 478 landmarks flat [x,y,z,...]: x,y in image pixels, z in the same pixel scale; length 0 when not found */
  landmarks: Float32Array;
  /** the 52 blendshape scores in BLENDSHAPE_NAMES order; length 0 when not found */
  blendshapes: Float32Array;
  /** inner-lip gap (landmarks 13-14) / mouth width (61-291); NaN when not found */
  opening: number;
  /** MediaPipe's facial transformation matrix (4x4, column-major); length 0 when not found */
  matrix: Float32Array;
}

/** One RGBA frame. */
export interface RgbaFrame {
  width: number;
  height: number;
  data: Uint8Array;
}



/** Inner-lip gap (13-14) / mouth width (61-291) from flat [x,y,z] landmarks in pixels; NaN without a face. */
export function mouthOpening(landmarks: Float32Array): number {
  if (landmarks.length < LANDMARKS * 3) return Number.NaN;
  const d = (a: number, b: number): number => Math.hypot(landmarks[3 * a]! - landmarks[3 * b]!, landmarks[3 * a + 1]! - landmarks[3 * b + 1]!);
  const width = d(61, 291);
  return width > 0 ? d(13, 14) / width : Number.NaN;
}

const NOT_FOUND: FaceMeasurement = Object.freeze({ found: false, landmarks: new Float32Array(0), blendshapes: new Float32Array(0), opening: Number.NaN, matrix: new Float32Array(0) });

/** A clip being measured in VIDEO mode: push its frames in order, in as many calls as convenient. */
export interface VideoMeasureSession {
  push(frames: readonly RgbaFrame[]): Promise<FaceMeasurement[]>;
}

export class FaceMeasurer {
  private queue: Promise<unknown> = Promise.resolve();
  private nextBatch = 0;
  private mode: 'IMAGE' | 'VIDEO' | null = null;
  private videoEpoch = 0;
  private namesChecked = false;
  /** Frames measured and ms spent in the page, for speed reports. */
  readonly stats = { frames: 0, ms: 0 };

  private constructor(
    private readonly server: Server,
    private readonly context: BrowserContext,
    private readonly page: Page,
    private readonly userDataDir: string,
    private readonly batches: Map<string, Buffer>,
  ) {}

  /** Start Chromium and load the landmarker. */
  static async open(opts: { modelPath?: string } = {}): Promise<FaceMeasurer> {
    const model = await readFile(opts.modelPath ?? DEFAULT_MODEL_PATH);
    const [bundle, ...wasm] = await Promise.all([
      readFile(join(TASKS_VISION, 'vision_bundle.mjs')),
      ...WASM_FILES.map((f) => readFile(join(TASKS_VISION, 'wasm', f))),
    ]);
    const wasmByName = new Map(WASM_FILES.map((f, i) => [f, wasm[i]!]));
    const batches = new Map<string, Buffer>();
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0]!;
      const send = (type: string, body: Buffer | string): void => {
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (url === '/') return send('text/html', PAGE_HTML);
      if (url === '/page.mjs') return send('text/javascript', PAGE_JS);
      if (url === '/vision_bundle.mjs') return send('text/javascript', bundle!);
      if (url === '/model.task') return send('application/octet-stream', model);
      if (url.startsWith('/wasm/')) {
        const body = wasmByName.get(url.slice('/wasm/'.length));
        if (body) return send(url.endsWith('.wasm') ? 'application/wasm' : 'text/javascript', body);
      }
      if (url.startsWith('/batch/')) {
        const id = url.slice('/batch/'.length);
        const body = batches.get(id);
        if (body) {
          batches.delete(id);
          return send('application/octet-stream', body);
        }
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const userDataDir = await mkdtemp(join(tmpdir(), 'face-measurer-'));
    let context: BrowserContext | undefined;
    try {
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ],
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => (globalThis as unknown as { __mpReady?: unknown }).__mpReady !== undefined, undefined, { timeout: 30_000 }).catch(() => {
        throw new Error(`face measurer page did not load: ${errors.join('; ') || 'no error reported'}`);
      });
      await page.evaluate(() => (globalThis as unknown as { __mpReady: Promise<void> }).__mpReady);
      return new FaceMeasurer(server, context, page, userDataDir, batches);
    } catch (err) {
      await context?.close().catch(() => undefined);
      server.close();
      await rm(userDataDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Consecutive frames of one clip (VIDEO running mode, timestamps from fps) or independent stills (IMAGE mode when fps is omitted). */
  async measure(frames: { width: number; height: number; data: Uint8Array /* RGBA */ }[], fps?: number): Promise<FaceMeasurement[]> {
    if (fps === undefined) return this.serial(async () => {
      await this.begin('IMAGE');
      return this.runAll(frames, () => 0);
    });
    const session = this.openVideo(fps);
    return session.push(frames);
  }

  /**
   * Start a clip in VIDEO mode (fresh tracking state). Frames pushed get timestamps k * 1000 / fps ms in push order.
   * Only the most recently opened session may push (a new session or an IMAGE-mode call resets the landmarker).
   */
  openVideo(fps: number): VideoMeasureSession {
    if (!(fps > 0)) throw new RangeError(`fps must be > 0 [fps:${fps}]`);
    const epoch = ++this.videoEpoch;
    let started = false;
    let index = 0;
    return {
      push: (frames) => this.serial(async () => {
        if (epoch !== this.videoEpoch) throw new Error('a newer video session (or an image measurement) replaced this one');
        if (!started || this.mode !== 'VIDEO') {
          if (started) throw new Error('the landmarker was reset since this video session started');
          await this.begin('VIDEO', true);
          started = true;
        }
        const first = index;
        index += frames.length;
        return this.runAll(frames, (i) => Math.round(((first + i) * 1000) / fps));
      }),
    };
  }

  /** Decode with ffmpeg at `fps` (default 25, `-vf fps=25`) and measure every frame. */
  async measureVideo(path: string, fps = 25): Promise<{ fps: number; width: number; height: number; frames: FaceMeasurement[] }> {
    const { width, height } = await probeVideo(path);
    const session = this.openVideo(fps);
    const frames: FaceMeasurement[] = [];
    const perBatch = Math.max(1, Math.floor(BATCH_BYTES / (width * height * 4)));
    let batch: RgbaFrame[] = [];
    for await (const frame of readRawFrames(path, width, height, fps)) {
      batch.push(frame);
      if (batch.length >= perBatch) {
        frames.push(...(await session.push(batch)));
        batch = [];
      }
    }
    if (batch.length > 0) frames.push(...(await session.push(batch)));
    return { fps, width, height, frames };
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.context.close().catch(() => undefined);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.userDataDir, { recursive: true, force: true });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async begin(mode: 'IMAGE' | 'VIDEO', force = false): Promise<void> {
    if (this.mode === mode && !force) return;
    if (mode === 'IMAGE') this.videoEpoch++; // invalidates open video sessions
    this.mode = null;
    await this.page.evaluate((m) => (globalThis as unknown as { __mpBegin: (m: string) => Promise<void> }).__mpBegin(m), mode);
    this.mode = mode;
  }

  private async runAll(frames: readonly RgbaFrame[], timestamp: (i: number) => number): Promise<FaceMeasurement[]> {
    const out: FaceMeasurement[] = [];
    let i = 0;
    while (i < frames.length) {
      let bytes = 0;
      let j = i;
      while (j < frames.length && (j === i || bytes + frames[j]!.data.length <= BATCH_BYTES)) bytes += frames[j++]!.data.length;
      out.push(...(await this.runBatch(frames.slice(i, j), i, timestamp)));
      i = j;
    }
    return out;
  }

  private async runBatch(frames: readonly RgbaFrame[], first: number, timestamp: (i: number) => number): Promise<FaceMeasurement[]> {
    const metas = frames.map((f, k) => {
      if (f.data.length !== f.width * f.height * 4) throw new RangeError(`frame ${first + k}: ${f.data.length} bytes is not ${f.width}x${f.height} RGBA`);
      return { w: f.width, h: f.height, t: timestamp(first + k) };
    });
    const id = String(this.nextBatch++);
    this.batches.set(id, Buffer.concat(frames.map((f) => f.data)));
    const started = performance.now();
    let b64: string;
    try {
      b64 = await this.page.evaluate(
        ([url, m]) => (globalThis as unknown as { __mpRun: (u: string, m: unknown) => Promise<string> }).__mpRun(url, m),
        [`/batch/${id}`, metas] as const,
      );
    } finally {
      this.batches.delete(id);
    }
    this.stats.ms += performance.now() - started;
    this.stats.frames += frames.length;
    const raw = Buffer.from(b64, 'base64');
    const rec = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    if (rec.length !== frames.length * RECORD) throw new Error(`face measurer page returned ${rec.length} floats, expected ${frames.length * RECORD}`);
    const result = frames.map((f, k): FaceMeasurement => {
      const base = k * RECORD;
      if (rec[base] !== 1) return NOT_FOUND;
      const landmarks = new Float32Array(LANDMARKS * 3);
      for (let p = 0; p < LANDMARKS; p++) {
        landmarks[3 * p] = rec[base + 1 + 3 * p]! * f.width;
        landmarks[3 * p + 1] = rec[base + 2 + 3 * p]! * f.height;
        landmarks[3 * p + 2] = rec[base + 3 + 3 * p]! * f.width;
      }
      const blendshapes = rec.slice(base + 1 + 3 * LANDMARKS, base + 1 + 3 * LANDMARKS + BLENDSHAPES);
      const matrix = rec.slice(base + 1 + 3 * LANDMARKS + BLENDSHAPES, base + RECORD);
      return { found: true, landmarks, blendshapes, opening: mouthOpening(landmarks), matrix };
    });
    if (!this.namesChecked && result.some((r) => r.found)) await this.checkNames();
    return result;
  }

  private async checkNames(): Promise<void> {
    const names = await this.page.evaluate(() => (globalThis as unknown as { __mpNames: () => string[] | null }).__mpNames());
    if (!names) return;
    this.namesChecked = true;
    if (names.length !== BLENDSHAPES || names.some((n, i) => n !== BLENDSHAPE_NAMES[i])) {
      throw new Error(`the model's blendshape names differ from BLENDSHAPE_NAMES: ${names.join(',')}`);
    }
  }
}

const WASM_FILES = [
  'vision_wasm_internal.js', 'vision_wasm_internal.wasm', 'vision_wasm_module_internal.js', 'vision_wasm_module_internal.wasm',
  'vision_wasm_nosimd_internal.js', 'vision_wasm_nosimd_internal.wasm',
];
