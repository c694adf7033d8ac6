import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestLagCorrelation, countCorrect, crossCorrelate, frameEnvelopeDb, mouthMeasure, mouthRest, OnsetTiming, pauseMask, pearson, peakLag,
  shownCorrectly, THRESHOLDS,
} from '../../eval/scoring.ts';

/** Landmarks with only the points the measures read: eyes 33/263, inner lips 13/14, corners 61/291. */
function face({ eye = 100, width = 50, gap = 0, scale = 1 }: { eye?: number; width?: number; gap?: number; scale?: number }): Float32Array {
  const l = new Float32Array(936);
  const set = (i: number, x: number, y: number): void => {
    l[2 * i] = 256 + scale * x;
    l[2 * i + 1] = 256 + scale * y;
  };
  set(33, -eye / 2, -60);
  set(263, eye / 2, -60);
  set(61, -width / 2, 40);
  set(291, width / 2, 40);
  set(13, 0, 40 - gap / 2);
  set(14, 0, 40 + gap / 2);
  return l;
}

test('mouth measures are relative to the rest width and independent of head scale', () => {
  const rest = mouthRest(face({}));
  const m = mouthMeasure(face({ gap: 10, width: 55, scale: 1.7 }), rest);
  assert.ok(Math.abs(m.open - 0.2) < 1e-6, `open ${m.open}`);
  assert.ok(Math.abs(m.width - 1.1) < 1e-6, `width ${m.width}`);
});

test('shownCorrectly applies the documented thresholds per class', () => {
  const t = THRESHOLDS;
  assert.equal(shownCorrectly('closed', { open: t.closedMaxOpen / 2, width: 1 }), true);
  assert.equal(shownCorrectly('closed', { open: t.closedMaxOpen * 2, width: 1 }), false);
  assert.equal(shownCorrectly('silence', { open: 0, width: 1 }), true);
  assert.equal(shownCorrectly('open', { open: t.openMinOpen, width: 1 }), true);
  assert.equal(shownCorrectly('open', { open: t.openMinOpen - 0.01, width: 1 }), false);
  assert.equal(shownCorrectly('rounded', { open: 0.1, width: 0.9 }), true);
  assert.equal(shownCorrectly('rounded', { open: 0.1, width: 1 }), false);
  assert.equal(shownCorrectly('spread', { open: 0.1, width: 1.1 }), true);
  assert.equal(shownCorrectly('spread', { open: 0.1, width: 1 }), false);
  assert.equal(shownCorrectly('other', { open: 0.1, width: 1 }), false);
});

test('countCorrect tallies frames and hits per class', () => {
  const counts = countCorrect(['closed', 'closed', 'open', 'other'], [{ open: 0, width: 1 }, { open: 0.3, width: 1 }, { open: 0.3, width: 1 }, { open: 0, width: 1 }]);
  assert.deepEqual(counts, { closed: { frames: 2, correct: 1 }, open: { frames: 1, correct: 1 }, other: { frames: 1, correct: 0 } });
  assert.throws(() => countCorrect(['open'], []), TypeError);
});

test('onset timing finds a motion that lags the labels by two frames', () => {
  const timing = new OnsetTiming(5);
  const labels = [0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0];
  const signal = [0, 0, ...labels.slice(0, -2)].map((x) => 0.3 * x);
  timing.add(labels, signal);
  assert.equal(timing.onsets, 3);
  assert.ok(Math.abs(timing.offsetFrames() - 2) < 0.25, `offset ${timing.offsetFrames()}`);
});

test('onset timing finds a motion that leads by one frame, and peakLag refines between frames', () => {
  const labels = [0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0];
  const lead = [...labels.slice(1), 0];
  const r = crossCorrelate(Float64Array.from(labels, (x, k) => Math.max(0, x - (labels[k - 1] ?? 0))), Float64Array.from(lead, (x, k) => Math.max(0, x - (lead[k - 1] ?? 0))), 4);
  assert.equal(Math.round(peakLag(r, 4)), -1);
  // Symmetric neighbours keep the integer peak; a larger right neighbour moves it right.
  assert.equal(peakLag([0, 1, 3, 1, 0], 2), 0);
  assert.ok(peakLag([0, 1, 3, 2, 0], 2) > 0.1);
  assert.ok(Number.isNaN(peakLag([0, 0, 0], 1)));
});

test('pearson is 1 for proportional series, -1 for opposite ones, NaN for a constant one', () => {
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
});

test('bestLagCorrelation finds the delay of a delayed copy', () => {
  const a = [0, 1, 5, 2, 0, 0, 3, 4, 1, 0, 0, 2, 6, 1, 0];
  const b = [0, 0, ...a.slice(0, -2)];
  const best = bestLagCorrelation(a, b, 3);
  assert.equal(best.lag, 2);
  assert.ok(best.r > 0.99);
});

test('the frame envelope follows a tone burst and floors silence; pauses need quiet neighbours', () => {
  const rate = 1000, fps = 10;
  const x = new Float32Array(2000);
  for (let i = 500; i < 1500; i++) x[i] = 0.5 * Math.sin(i);
  const env = frameEnvelopeDb(x, rate, fps, 20, 50);
  assert.ok(Math.abs(env[10]! - 10 * Math.log10(0.125)) < 0.5, `loud ${env[10]}`);
  assert.ok(Math.abs(env[0]! - (env[10]! - 50)) < 0.5, `floored ${env[0]}`);
  const pause = pauseMask(env, 30, 2);
  assert.deepEqual(Array.from(pause.subarray(0, 5)), [1, 1, 1, 0, 0]);
  assert.equal(pause[10], 0);
  assert.deepEqual(Array.from(pause.subarray(15)), [0, 0, 1, 1, 1]);
});
