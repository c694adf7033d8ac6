import { percentileOfSorted } from '../engines/util/percentile.ts';

/** Summary of timing samples, ms. */
export interface TimingSummary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentiles of `samples` (ms), rounded to 0.001 ms. */
export function summarize(samples: number[]): TimingSummary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? percentileOfSorted(s, q) : 0);
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)), p50: r(at(0.5)), p95: r(at(0.95)), max: r(s.at(-1) ?? 0) };
}

/** Time `fn` `n` times after `warmup` runs; returns per-call ms. */
export async function timeIt(n: number, fn: (i: number) => unknown, warmup = Math.min(10, n)): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/** Print rows as an aligned text table. */
export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
}
