/**
 * Pure metrics of `npm run eval:real`: our mouth-opening series against the truth's (both measured by MediaPipe
 * on frames at the same fps; NaN / null = no face in that frame, skipped).
 */

/** A frame's mouth counts as closed when its opening (inner-lip gap / mouth width) is under this. */
export const CLOSED_OPENING = 0.03;
/** Lags searched for the best correlation, ms either side (positive = ours trails the truth). */
export const MAX_LAG_MS = 200;

const valid = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** Pearson correlation of the pairs where both are finite; NaN with fewer than 3 pairs or a constant side. */
export function pearsonValid(a: readonly (number | null)[], b: readonly (number | null)[]): number {
  let n = 0, sa = 0, sb = 0;
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) if (valid(a[i]) && valid(b[i])) { n++; sa += a[i] as number; sb += b[i] as number; }
  if (n < 3) return Number.NaN;
  const ma = sa / n, mb = sb / n;
  let cab = 0, caa = 0, cbb = 0;
  for (let i = 0; i < len; i++) {
    const x = a[i], y = b[i];
    if (!valid(x) || !valid(y)) continue;
    cab += (x - ma) * (y - mb);
    caa += (x - ma) ** 2;
    cbb += (y - mb) ** 2;
  }
  return caa > 0 && cbb > 0 ? cab / Math.sqrt(caa * cbb) : Number.NaN;
}

/**
 * Correlation of `ours` with `truth` at the lag (whole frames within ±maxLagFrames) that maximises it.
 * lag > 0 means ours trails the truth: ours[k + lag] is paired with truth[k].
 * Ties go to the smallest |lag|. Returns NaN correlation (lag 0) when no lag has 3 valid pairs.
 */
export function bestLagCorrelation(ours: readonly (number | null)[], truth: readonly (number | null)[], maxLagFrames: number): { r: number; lagFrames: number; r0: number } {
  let best = { r: Number.NaN, lagFrames: 0 };
  const r0 = pearsonValid(ours, truth);
  const lags = [0];
  for (let l = 1; l <= maxLagFrames; l++) lags.push(l, -l);
  for (const lag of lags) {
    const o = lag >= 0 ? ours.slice(lag) : ours.slice(0, ours.length + lag);
    const t = lag >= 0 ? truth.slice(0, truth.length - lag) : truth.slice(-lag);
    const r = pearsonValid(o, t);
    if (Number.isFinite(r) && !(r <= best.r)) best = { r, lagFrames: lag };
  }
  return { ...best, r0 };
}

/** Finite values only. */
export function finite(xs: readonly (number | null)[]): number[] {
  return xs.filter(valid);
}

export function mean(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite);
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : Number.NaN;
}

/** Population standard deviation of the finite values. */
export function std(xs: readonly (number | null)[]): number {
  const v = finite(xs);
  if (v.length < 2) return Number.NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
}

/** Linear-interpolated percentile (p in 0..100) of the finite values. */
export function percentile(xs: readonly (number | null)[], p: number): number {
  const v = finite(xs).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const at = (p / 100) * (v.length - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return v[lo]! + (v[hi]! - v[lo]!) * (at - lo);
}

/** Share of the finite values under CLOSED_OPENING (NaN when none). */
export function closedShare(xs: readonly (number | null)[], threshold = CLOSED_OPENING): number {
  const v = finite(xs);
  return v.length ? v.filter((x) => x < threshold).length / v.length : Number.NaN;
}

/** Mouth-opening comparison of one case. */
export interface OpeningScores {
  /** frames compared (both sides have a face, lag 0) */
  pairs: number;
  /** correlation at lag 0 and at the best lag within ±MAX_LAG_MS */
  r0: number;
  r: number;
  /** that lag, ms (positive = ours trails the truth) */
  lagMs: number;
  /** std(ours) / std(truth), over frames where both have a face */
  ampRatio: number;
  /** p95(ours) / p95(truth), same frames */
  p95Ratio: number;
  /** share of frames with opening < CLOSED_OPENING, each side over its own face frames */
  closedOurs: number;
  closedTruth: number;
}

/** Compare our opening series with the truth's (same fps; NaN / null = no face). */
export function scoreOpenings(ours: readonly (number | null)[], truth: readonly (number | null)[], fps: number, maxLagMs = MAX_LAG_MS): OpeningScores {
  const n = Math.min(ours.length, truth.length);
  const o: (number | null)[] = [], t: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const both = valid(ours[i]) && valid(truth[i]);
    o.push(both ? (ours[i] as number) : null);
    t.push(both ? (truth[i] as number) : null);
  }
  const { r, r0, lagFrames } = bestLagCorrelation(ours.slice(0, n), truth.slice(0, n), Math.round((maxLagMs * fps) / 1000));
  return {
    pairs: finite(o).length,
    r0,
    r,
    lagMs: (lagFrames * 1000) / fps,
    ampRatio: std(o) / std(t),
    p95Ratio: percentile(o, 95) / percentile(t, 95),
    closedOurs: closedShare(ours.slice(0, n)),
    closedTruth: closedShare(truth.slice(0, n)),
  };
}

/**
 * Mean of each numeric field over the cases (NaN fields skipped), and the same over speakers: the cases of a
 * speaker are averaged first, then the speakers, so a speaker with four clips weighs as much as one with one.
 */
export function summarize<T extends Record<string, number>>(cases: readonly { speaker: string; scores: T }[]): { overall: Record<keyof T, number>; bySpeaker: Record<string, Record<keyof T, number>>; overSpeakers: Record<keyof T, number>; cases: number; speakers: number } {
  const keys = cases.length ? (Object.keys(cases[0]!.scores) as (keyof T)[]) : [];
  const avg = (rows: readonly T[]): Record<keyof T, number> => {
    const out = {} as Record<keyof T, number>;
    for (const k of keys) out[k] = mean(rows.map((r) => r[k]));
    return out;
  };
  const groups = new Map<string, T[]>();
  for (const c of cases) groups.set(c.speaker, [...(groups.get(c.speaker) ?? []), c.scores]);
  const bySpeaker: Record<string, Record<keyof T, number>> = {};
  for (const [s, rows] of groups) bySpeaker[s] = avg(rows);
  return {
    overall: avg(cases.map((c) => c.scores)),
    bySpeaker,
    overSpeakers: avg(Object.values(bySpeaker) as T[]),
    cases: cases.length,
    speakers: groups.size,
  };
}
