import { percentileOfSorted } from '../../engines/util/percentile.ts';

/** Percentiles over the most recent `capacity` samples (ms), kept in a fixed ring. */
export class LatencyStats {
  private readonly ring: Float64Array;
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    this.ring = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.ring[this.head] = ms;
    this.head = (this.head + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
  }

  /** p50/p95/p99 (nearest rank) of the samples in the window, rounded to 0.1 ms; zeros when empty. */
  summary(): { p50: number; p95: number; p99: number; count: number } {
    if (this.count === 0) return { p50: 0, p95: 0, p99: 0, count: 0 };
    const sorted = this.ring.slice(0, this.count).sort();
    const at = (q: number) => Math.round(percentileOfSorted(sorted, q) * 10) / 10;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), count: this.count };
  }
}
