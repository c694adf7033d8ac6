import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CapacityEstimator } from '../../server/session/CapacityEstimator.ts';

test('capacity is the session limit until enough steady windows were measured', () => {
  const e = new CapacityEstimator(2, 0.85, 3);
  assert.deepEqual(e.limit(8), { limit: 8, measured: false });
  e.sample(20, 0);
  e.sample(320, 2);
  e.sample(320, 2);
  assert.deepEqual(e.limit(8), { limit: 8, measured: false }, 'two windows are not enough');
});

test('capacity = (cores x utilization - idle CPU) / CPU per session, when that is below the limit', () => {
  const e = new CapacityEstimator(2, 0.85, 3);
  e.sample(20, 0); // idle baseline 20 ms/s
  for (let i = 0; i < 3; i++) e.sample(20 + 4 * 150, 4); // 150 ms of CPU a second per session
  assert.equal(e.sessionCostMs, 150);
  // (2000 * 0.85 - 20) / 150 = 11.2 -> 11, above max 8: the limit stays 8, not "measured".
  assert.deepEqual(e.limit(8), { limit: 8, measured: false });
  assert.deepEqual(e.limit(20), { limit: 11, measured: true });
});

test('a heavier measured cost lowers capacity; utilization 0 turns the estimate off', () => {
  const e = new CapacityEstimator(2, 0.85, 1);
  e.sample(0, 0);
  e.sample(2 * 500, 2); // 500 ms/s per session
  assert.deepEqual(e.limit(8), { limit: 3, measured: true });
  const off = new CapacityEstimator(2, 0, 1);
  off.sample(1000, 1);
  assert.deepEqual(off.limit(8), { limit: 8, measured: false });
});

test('never below one session, and bad samples are ignored', () => {
  const e = new CapacityEstimator(1, 0.5, 1);
  e.sample(Number.NaN, 1);
  e.sample(-5, 1);
  assert.deepEqual(e.limit(8), { limit: 8, measured: false });
  e.sample(5000, 1);
  assert.deepEqual(e.limit(8), { limit: 1, measured: true });
});
