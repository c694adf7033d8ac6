import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { NUM_LANDMARKS, type ReferencePortrait } from '../types.ts';
import { ingestReference, referenceIdOf, type IngestOptions } from './ingestReference.ts';

/** Options of a ReferenceCache: ingest options plus cache bounds. */
export interface ReferenceCacheOptions extends IngestOptions {
  /** Most portraits kept in memory (least recently used dropped first; default 32). */
  memoryEntries?: number;
  /** Folder for `<id>.png` + `<id>.json`, so a restart does not redo detection; none = memory only. */
  diskDir?: string;
  /** Most portraits kept on disk; the least recently used are removed (default 1000). */
  maxStored?: number;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;

/** True when `id` has the shape of a reference id (64 lowercase hex chars); anything else never touches disk. */
export function isReferenceId(id: string): boolean {
  return ID_PATTERN.test(id);
}

interface StoredLandmarks {
  width: number;
  height: number;
  landmarks: number[];
  /** Set when the inner lips were refined (entries stored without it are re-ingested by a refining cache). */
  lipsRefined?: boolean;
}

/** Ingested portraits by content hash: a memory LRU over an optional disk folder. */
export class ReferenceCache {
  private readonly memory = new Map<string, ReferencePortrait>();
  private readonly inflight = new Map<string, Promise<ReferencePortrait>>();
  private readonly capacity: number;
  private readonly dir: string | undefined;
  private readonly ingestOptions: IngestOptions;
  private readonly maxStored: number;
  /** How many times detection ran (one per cache miss), for tests and metrics. */
  detectorRuns = 0;
  /** Portraits removed from disk by the maxStored bound. */
  diskEvictions = 0;

  constructor({ memoryEntries = 32, diskDir, maxStored = 1000, ...ingestOptions }: ReferenceCacheOptions) {
    if (!Number.isInteger(memoryEntries) || memoryEntries < 1) {
      throw new TypeError(`memoryEntries must be a positive integer [memoryEntries:${memoryEntries}]`);
    }
    if (!Number.isInteger(maxStored) || maxStored < 1) throw new TypeError(`maxStored must be a positive integer [maxStored:${maxStored}]`);
    this.capacity = memoryEntries;
    this.maxStored = maxStored;
    this.dir = diskDir;
    this.ingestOptions = ingestOptions;
  }

  /** The portrait with this id from memory or disk; undefined when unknown or when `id` is malformed. */
  async get(id: string): Promise<ReferencePortrait | undefined> {
    if (!isReferenceId(id)) return undefined;
    const hit = this.memory.get(id);
    if (hit) {
      this.remember(hit);
      return hit;
    }
    const stored = await this.load(id);
    if (stored) this.remember(stored);
    return stored;
  }

  /** The cached portrait for these bytes, ingesting (and storing) it on a miss; concurrent calls share one ingest. */
  async getOrIngest(bytes: Uint8Array): Promise<ReferencePortrait> {
    if (bytes.length > this.ingestOptions.maxBytes) return ingestReference(bytes, this.ingestOptions); // throws too_large
    const id = referenceIdOf(bytes);
    const cached = await this.get(id);
    if (cached) return cached;
    let job = this.inflight.get(id);
    if (!job) {
      this.detectorRuns++;
      job = ingestReference(bytes, this.ingestOptions)
        .then(async (portrait) => {
          this.remember(portrait);
          await this.store(portrait);
          return portrait;
        })
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, job);
    }
    return job;
  }

  /** Number of portraits held in memory. */
  get size(): number {
    return this.memory.size;
  }

  private remember(p: ReferencePortrait): void {
    this.memory.delete(p.id); // re-insert to mark most recently used
    this.memory.set(p.id, p);
    while (this.memory.size > this.capacity) this.memory.delete(this.memory.keys().next().value!);
  }

  private async store(p: ReferencePortrait): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true });
    const { width, height, data } = p.image;
    const png = await sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
    const json: StoredLandmarks = { width, height, landmarks: Array.from(p.landmarks), ...(this.ingestOptions.lipRefiner ? { lipsRefined: true } : {}) };
    // Write then rename, so a crash never leaves a half-written entry that load() would trust.
    await writeAtomic(join(this.dir, `${p.id}.png`), png);
    await writeAtomic(join(this.dir, `${p.id}.json`), JSON.stringify(json));
    await this.pruneDisk();
  }

  /** Remove the least recently used entries (by the JSON file's mtime, refreshed on each disk hit) beyond maxStored. */
  private async pruneDisk(): Promise<void> {
    const dir = this.dir!;
    const ids = (await readdir(dir)).filter((f) => f.endsWith('.json') && isReferenceId(f.slice(0, -5))).map((f) => f.slice(0, -5));
    if (ids.length <= this.maxStored) return;
    const aged = await Promise.all(ids.map(async (id) => ({ id, mtime: (await stat(join(dir, `${id}.json`)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.mtime - b.mtime);
    for (const { id } of aged.slice(0, aged.length - this.maxStored)) {
      await rm(join(dir, `${id}.json`), { force: true });
      await rm(join(dir, `${id}.png`), { force: true });
      this.diskEvictions++;
    }
  }

  private async load(id: string): Promise<ReferencePortrait | undefined> {
    if (!this.dir) return undefined;
    try {
      const json = JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as StoredLandmarks;
      const { width, height } = this.ingestOptions;
      if (json.width !== width || json.height !== height || json.landmarks.length !== NUM_LANDMARKS * 2) return undefined;
      if ((json.lipsRefined === true) !== (this.ingestOptions.lipRefiner !== undefined)) return undefined;
      const { data, info } = await sharp(join(this.dir, `${id}.png`)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      if (info.width !== width || info.height !== height) return undefined;
      const now = new Date();
      await utimes(join(this.dir, `${id}.json`), now, now).catch(() => undefined);
      return {
        id,
        image: { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
        landmarks: Float32Array.from(json.landmarks),
      };
    } catch {
      return undefined; // missing or unreadable entry: a miss
    }
  }
}

async function writeAtomic(path: string, content: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}
