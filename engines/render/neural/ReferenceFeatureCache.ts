import { bytesPerElement, elementCount, type TensorData } from '../../onnx/TensorData.ts';

/** reference_net outputs of one portrait, by output name. */
export type ReferenceFeatures = Readonly<Record<string, TensorData>>;

/** Counters of the cache (for /metrics). */
export interface ReferenceCacheStats {
  hits: number;
  misses: number;
  /** Bytes held now. */
  bytes: number;
  entries: number;
  evictions: number;
  /** Results larger than the whole budget, returned but not kept. */
  oversize: number;
}

/** Bytes of a feature set's tensor data. */
export function featureBytes(features: ReferenceFeatures): number {
  let n = 0;
  for (const t of Object.values(features)) n += elementCount(t.dims) * bytesPerElement(t.type);
  return n;
}

/**
 * ReferenceNet features by portrait content hash, shared by every session on that portrait; least
 * recently used entries are evicted when the held bytes exceed the budget. Concurrent requests for
 * the same portrait share one computation.
 */
export class ReferenceFeatureCache {
  private readonly entries = new Map<string, { features: ReferenceFeatures; bytes: number }>();
  private readonly pending = new Map<string, Promise<ReferenceFeatures>>();
  private readonly counters = { hits: 0, misses: 0, bytes: 0, evictions: 0, oversize: 0 };

  /** `maxBytes`: budget for held features, bytes. */
  constructor(readonly maxBytes: number) {
    if (!(maxBytes > 0)) throw new TypeError(`maxBytes must be positive, got ${maxBytes}`);
  }

  /** Features of `id`, computing them with `compute` on a miss (once, however many callers wait). */
  async get(id: string, compute: () => Promise<ReferenceFeatures>): Promise<ReferenceFeatures> {
    const hit = this.entries.get(id);
    if (hit) {
      this.counters.hits++;
      this.entries.delete(id); // re-insert: Map order is the recency order
      this.entries.set(id, hit);
      return hit.features;
    }
    const waiting = this.pending.get(id);
    if (waiting) {
      this.counters.hits++;
      return waiting;
    }
    this.counters.misses++;
    const job = compute().then(
      (features) => {
        this.pending.delete(id);
        this.put(id, features);
        return features;
      },
      (err: unknown) => {
        this.pending.delete(id);
        throw err;
      },
    );
    this.pending.set(id, job);
    return job;
  }

  /** Whether `id` is held now. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Drop one portrait's features. */
  delete(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.counters.bytes -= e.bytes;
  }

  /** Drop everything. */
  clear(): void {
    this.entries.clear();
    this.counters.bytes = 0;
  }

  /** Current counters. */
  stats(): ReferenceCacheStats {
    return { ...this.counters, entries: this.entries.size };
  }

  private put(id: string, features: ReferenceFeatures): void {
    const bytes = featureBytes(features);
    if (bytes > this.maxBytes) {
      this.counters.oversize++;
      return;
    }
    this.delete(id);
    for (const [old, e] of this.entries) {
      if (this.counters.bytes + bytes <= this.maxBytes) break;
      this.entries.delete(old);
      this.counters.bytes -= e.bytes;
      this.counters.evictions++;
    }
    this.entries.set(id, { features, bytes });
    this.counters.bytes += bytes;
  }
}
