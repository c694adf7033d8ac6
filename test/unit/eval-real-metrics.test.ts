import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestLagCorrelation, CLOSED_OPENING, closedShare, pearsonValid, percentile, scoreOpenings, std, summarize } from '../../eval/real/metrics.ts';

/** A speech-like opening series: a few incommensurate sines, floored at 0. */
function series(n: number): number[] {
  return Array.from({ length: n }, (_, k) => Math.max(0, 0.1 + 0.08 * Math.sin(k * 0.7) + 0.05 * Math.sin(k * 0.23 + 1) + 0.03 * Math.sin(k * 1.9)));
}

test('pearsonValid skips pairs with a missing side', () => {
  assert.ok(Math.abs(pearsonValid([1, 2, null, 3, 4], [2, 4, 100, 6, Number.NaN]) - 1) < 1e-12);
  assert.ok(Number.isNaN(pearsonValid([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(pearsonValid([1, 2], [1, 2])));
});

test('bestLagCorrelation finds the delay of ours behind the truth (positive = ours trails)', () => {
  const truth = series(200);
  const late = [0, 0, 0, ...truth.slice(0, 197)]; // ours[k] = truth[k - 3]
  const a = bestLagCorrelation(late, truth, 5);
  assert.equal(a.lagFrames, 3);
  assert.ok(a.r > 0.999, `r ${a.r}`);
  assert.ok(a.r0 < a.r);
  const early = [...truth.slice(2), null, null]; // ours[k] = truth[k + 2]
  assert.equal(bestLagCorrelation(early, truth, 5).lagFrames, -2);
  assert.equal(bestLagCorrelation(truth, truth, 5).lagFrames, 0);
});

test('scoreOpenings: lag in ms, amplitude and p95 ratios, closed shares', () => {
  const truth: (number | null)[] = series(250);
  const ours: (number | null)[] = [0, ...truth.slice(0, 249).map((x) => 0.5 * (x as number))];
  truth[10] = null; // no face in the truth's frame 10
  const s = scoreOpenings(ours, truth, 25);
  assert.equal(s.lagMs, 40);
  assert.ok(s.r > 0.999);
  assert.ok(Math.abs(s.ampRatio - 0.5) < 0.03, `amp ${s.ampRatio}`);
  assert.ok(Math.abs(s.p95Ratio - 0.5) < 0.03, `p95 ${s.p95Ratio}`);
  assert.equal(s.pairs, 249);
  assert.ok(s.closedOurs > s.closedTruth);
});

test('std, percentile and closedShare ignore missing values', () => {
  assert.equal(std([1, null, 3]), 1);
  assert.equal(percentile([0, 10, null, 20], 50), 10);
  assert.equal(percentile([0, 10], 95), 9.5);
  assert.equal(closedShare([0, CLOSED_OPENING / 2, null, 0.2, 0.3]), 0.5);
  assert.ok(Number.isNaN(closedShare([null])));
});

test('summarize averages over cases and over speakers (cases of one speaker first)', () => {
  const s = summarize([
    { speaker: 'a', scores: { r: 0.2 } },
    { speaker: 'a', scores: { r: 0.4 } },
    { speaker: 'a', scores: { r: Number.NaN } },
    { speaker: 'b', scores: { r: 0.9 } },
  ]);
  assert.ok(Math.abs(s.overall.r - 0.5) < 1e-12);
  assert.ok(Math.abs(s.bySpeaker.a!.r - 0.3) < 1e-12);
  assert.ok(Math.abs(s.overSpeakers.r - 0.6) < 1e-12);
  assert.equal(s.cases, 4);
  assert.equal(s.speakers, 2);
});

test('pickFrames (contact sheets) takes the widest-open and some closed truth frames, spread out, sorted', async () => {
  const { pickFrames } = await import('../../eval/real/contactSheet.ts');
  const opening: (number | null)[] = series(300).map((x) => x + 0.05); // never closed but where set below
  opening[50] = 0.9; // widest
  opening[51] = 0.85; // too close to 50 to be picked as well
  opening[200] = 0.8;
  for (const k of [20, 120, 250]) opening[k] = 0.001; // closed
  opening[7] = null;
  const picks = pickFrames(opening, 10);
  assert.equal(picks.length, 10);
  assert.deepEqual([...picks].sort((a, b) => a - b), picks);
  for (const k of [50, 200, 20, 120, 250]) assert.ok(picks.includes(k), `picks ${picks} lack ${k}`);
  assert.ok(!picks.includes(51));
  assert.deepEqual(pickFrames([0.1, null, 0.2], 10), [0, 1, 2]);
});
