import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { sharedFaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { lazyInnerLipRefiner } from '../engines/face/InnerLipRefiner.ts';
import { ReferenceCache } from '../engines/face/ReferenceCache.ts';
import type { ReferencePortrait } from '../engines/types.ts';
import type { Config } from './config.ts';
import { logger } from './logger.ts';
import { NotFoundError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { WorkerReference } from './media/pipelineProtocol.ts';

/** Project root, for config paths given relative to it. */
const ROOT = new URL('..', import.meta.url);

/** Portrait ingest and lookup for the API; the default portrait is ingested at start. */
export class ReferenceService {
  private readonly cache: ReferenceCache;
  /** Pinned: never evicted from memory or disk by the cache bounds. */
  private defaultRef: ReferencePortrait | undefined;

  constructor(
    private readonly config: Config,
    private readonly metrics: Metrics,
  ) {
    const { reference, video } = config;
    this.cache = new ReferenceCache({
      landmarker: sharedFaceLandmarker(),
      lipRefiner: reference.refineLips ? lazyInnerLipRefiner((err) => this.onLipRefinerUnavailable(err)) : undefined,
      width: video.width,
      height: video.height,
      maxBytes: reference.maxBytes,
      maxPixels: reference.maxPixels,
      memoryEntries: reference.memoryEntries,
      maxStored: reference.maxStored,
      diskDir: reference.cacheDir ? resolve(new URL(ROOT).pathname, reference.cacheDir) : undefined,
    });
  }

  private onLipRefinerUnavailable(err: Error): void {
    logger.warn({ err: err.message }, 'inner-lip refiner unavailable: portraits keep the detector\'s lips');
  }

  /** Ingest the configured default portrait; fails loudly if it has no usable face. */
  async start(): Promise<void> {
    const path = resolve(new URL(ROOT).pathname, this.config.reference.default);
    const bytes = await readFile(path).catch((e: Error) => {
      throw new Error(`cannot read reference.default ${path}: ${e.message}`);
    });
    this.defaultRef = await this.ingest(new Uint8Array(bytes));
  }

  /** Ingest (or find cached) portrait bytes. */
  async ingest(bytes: Uint8Array): Promise<ReferencePortrait> {
    const before = this.cache.detectorRuns;
    const ref = await this.cache.getOrIngest(bytes);
    if (this.cache.detectorRuns > before) this.metrics.referencesIngested.inc();
    return ref;
  }

  /** A stored portrait by id ('default' names the configured default). */
  async get(id: string): Promise<ReferencePortrait> {
    if (this.defaultRef && (id === 'default' || id === this.defaultRef.id)) return this.defaultRef;
    // The cache answers undefined for malformed ids without touching disk.
    const ref = await this.cache.get(id);
    if (!ref) throw new NotFoundError(`unknown reference "${id.slice(0, 80)}"`);
    return ref;
  }

  /** Wire form: `{ id, width, height, landmarks: [[x, y] x 468] }`. */
  toJson(ref: ReferencePortrait): { id: string; width: number; height: number; landmarks: number[][] } {
    const landmarks: number[][] = [];
    for (let i = 0; i < ref.landmarks.length; i += 2) {
      landmarks.push([Math.round(ref.landmarks[i]! * 100) / 100, Math.round(ref.landmarks[i + 1]! * 100) / 100]);
    }
    return { id: ref.id, width: ref.image.width, height: ref.image.height, landmarks };
  }

  /** Form sent to a pipeline worker. */
  toWorker(ref: ReferencePortrait): WorkerReference {
    return { id: ref.id, width: ref.image.width, height: ref.image.height, rgba: ref.image.data, landmarks: ref.landmarks };
  }

  async close(): Promise<void> {
    await sharedFaceLandmarker().close();
  }
}
