import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CapacityEstimator } from '../../server/session/CapacityEstimator.ts';
import { priorCostMs, type SessionShape } from '../../server/session/sessionPrice.ts';

const H264: SessionShape = { codec: 'h264', encoder: 'webcodecs', engine: 'warp', width: 512, height: 512, fps: 25 };
const VP8: SessionShape = { ...H264, codec: 'vp8' };
const LIBAV_H264: SessionShape = { ...H264, encoder: 'libav' };
const LIBAV_VP8: SessionShape = { ...LIBAV_H264, codec: 'vp8' };

test('priors from the bench: with libav, VP8 costs about what H.264 does; an unresolved encoder is priced as webcodecs', () => {
  const h = priorCostMs(LIBAV_H264);
  const v = priorCostMs(LIBAV_VP8);
  assert.ok(h < priorCostMs(H264));
  assert.ok(v / h > 1 && v / h < 1.3, `VP8 / H.264 = ${(v / h).toFixed(2)}`);
  assert.equal(priorCostMs({ ...H264, encoder: 'auto' }), priorCostMs(H264));
  const e = new CapacityEstimator(2, 0.85, 3);
  assert.ok(e.fits(v) >= 5, `${e.fits(v)} libav VP8 sessions fit 2 cores`);
});

test('priors from the bench: a webcodecs VP8 session costs more than two H.264 ones; cost follows pixels and frame rate', () => {
  const h = priorCostMs(H264);
  const v = priorCostMs(VP8);
  assert.ok(h > 150 && h < 300, `H.264 ${h} ms/s`);
  assert.ok(v / h > 2.2 && v / h < 3, `VP8 / H.264 = ${(v / h).toFixed(2)}`);
  assert.ok(priorCostMs({ ...H264, width: 1024, height: 1024 }) > 2.5 * h);
  assert.equal(priorCostMs({ ...H264, fps: 50 }), 2 * h);
  assert.ok(priorCostMs({ ...H264, engine: 'neural' }) < h, 'the neural engine renders on the accelerator');
});

test('before measurements the priors decide: 6 H.264 sessions fit 2 cores at 85 %, 2 VP8 ones', () => {
  const e = new CapacityEstimator(2, 0.85, 3);
  assert.equal(e.measured, false);
  assert.equal(e.fits(priorCostMs(H264)), 6);
  assert.equal(e.fits(priorCostMs(VP8)), 2);
  const vp8 = priorCostMs(VP8);
  assert.equal(e.admits(vp8, vp8), true);
  assert.equal(e.admits(2 * vp8, vp8), false, 'a third VP8 caller is refused instead of slowing all of them down');
  assert.equal(e.admits(0, 10 * vp8), true, 'the first session is always admitted');
});

test('measured windows scale the priors: a machine twice as slow as the bench admits half as many', () => {
  const e = new CapacityEstimator(2, 0.85, 3);
  const h = priorCostMs(H264);
  e.sample(20, 0); // idle baseline 20 ms/s
  e.sample(20 + 4 * 2 * h, 4 * h);
  e.sample(20 + 4 * 2 * h, 4 * h);
  assert.equal(e.measured, false, 'two windows are not enough');
  assert.equal(e.fits(h), Math.floor((1700 - 20) / h), 'the priors, in the budget left beside the idle baseline');
  e.sample(20 + 4 * 2 * h, 4 * h);
  assert.equal(e.measured, true);
  assert.ok(Math.abs(e.price(h) - 2 * h) < 1e-6);
  assert.equal(e.fits(h), 3, '(1700 - 20) / 425');
  assert.equal(e.admits(2 * h, h), true);
  assert.equal(e.admits(3 * h, h), false);
});

test('utilization 0 turns pricing off; bad samples are ignored', () => {
  const off = new CapacityEstimator(2, 0, 1);
  off.sample(5000, 100);
  assert.equal(off.admits(1e9, 1e9), true);
  assert.equal(off.fits(100), Infinity);
  const e = new CapacityEstimator(1, 0.5, 1);
  e.sample(Number.NaN, 100);
  e.sample(-5, 100);
  e.sample(100, Number.POSITIVE_INFINITY);
  assert.equal(e.measured, false);
});

test('a busy start (module loading, model warm-up) does not stick as the idle baseline', () => {
  const e = new CapacityEstimator(1, 0.85, 3);
  e.sample(900, 0); // the first second of a fresh process
  e.sample(25, 0);
  assert.equal(e.budgetMs, 850 - 25);
  e.sample(125, 0); // a burst: followed up slowly
  assert.equal(e.budgetMs, 850 - 45);
});
