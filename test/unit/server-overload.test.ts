import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OverloadGovernor, type SessionLoad } from '../../server/session/OverloadGovernor.ts';

const load = (id: string, createdAt: number, droppedDelta: number, degraded = false): SessionLoad => ({ id, createdAt, droppedDelta, degraded });

test('overload sheds the newest session first, one at a time, waiting to see each effect', () => {
  const g = new OverloadGovernor({ overloadDrops: 3, settleMs: 3000, calmMs: 10_000 });
  assert.deepEqual(g.step([load('a', 1, 0), load('b', 2, 0), load('c', 3, 0)], 0), {}, 'no drops, nothing to do');
  assert.deepEqual(g.step([load('a', 1, 1), load('b', 2, 1), load('c', 3, 0)], 1000), {}, 'two drops are noise');
  assert.deepEqual(g.step([load('a', 1, 2), load('b', 2, 2), load('c', 3, 2)], 2000), { degrade: 'c' });
  assert.deepEqual(g.step([load('a', 1, 2), load('b', 2, 2), load('c', 3, 0, true)], 3000), {}, 'settling');
  assert.deepEqual(g.step([load('a', 1, 2), load('b', 2, 2), load('c', 3, 0, true)], 5000), { degrade: 'b' }, 'still overloaded: the next newest');
  assert.deepEqual(g.step([load('a', 1, 0), load('b', 2, 0, true), load('c', 3, 0, true)], 8000), {});
});

test('when the spike has passed, load is given back, the last shed first, one per calm period', () => {
  const g = new OverloadGovernor({ overloadDrops: 3, settleMs: 3000, calmMs: 10_000 });
  g.step([load('a', 1, 5), load('b', 2, 5)], 0); // degrades b
  const calm = [load('a', 1, 0), load('b', 2, 0, true)];
  assert.deepEqual(g.step(calm, 5000), {});
  assert.deepEqual(g.step(calm, 10_000), { restore: 'b' });
  assert.deepEqual(g.step([load('a', 1, 0), load('b', 2, 0)], 11_000), {});
});

test('the last session at full rate is never shed (a lone session is never degraded); a session that left is forgotten', () => {
  const g = new OverloadGovernor({ overloadDrops: 3, settleMs: 0, calmMs: 10_000 });
  assert.deepEqual(g.step([load('a', 1, 9)], 0), {}, 'a lone session: shedding it would protect nobody');
  assert.deepEqual(g.step([load('a', 1, 9), load('b', 2, 9)], 1000), { degrade: 'b' });
  assert.deepEqual(g.step([load('a', 1, 9), load('b', 2, 9, true)], 2000), {}, 'a is the last at full rate');
  assert.deepEqual(g.step([load('a', 1, 0)], 3000), {});
  assert.deepEqual(g.step([load('a', 1, 0)], 20_000), {}, 'b is gone: nothing to restore');
});
