import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchScheduler, QueueFullError } from '../../engines/render/neural/BatchScheduler.ts';
import { ReferenceFeatureCache, type ReferenceFeatures } from '../../engines/render/neural/ReferenceFeatureCache.ts';

/** Features of `n` float32 values (4n bytes). */
const feats = (n: number): ReferenceFeatures => ({ ref_feat_0: { type: 'float32', data: new Float32Array(n), dims: [1, n, 1] } });

describe('ReferenceFeatureCache', () => {
  test('computes once per id and counts hits, misses and bytes', async () => {
    const cache = new ReferenceFeatureCache(1000);
    let runs = 0;
    const compute = async () => (runs++, feats(10));
    const [a, b] = await Promise.all([cache.get('p', compute), cache.get('p', compute)]);
    await cache.get('p', compute);
    assert.equal(runs, 1);
    assert.equal(a, b);
    assert.deepEqual(cache.stats(), { hits: 2, misses: 1, bytes: 40, entries: 1, evictions: 0, oversize: 0 });
  });

  test('evicts least recently used entries by bytes, not by count', async () => {
    const cache = new ReferenceFeatureCache(100); // 25 floats
    await cache.get('a', async () => feats(10));
    await cache.get('b', async () => feats(10));
    await cache.get('a', async () => feats(10)); // a is now most recent
    await cache.get('c', async () => feats(10)); // 120 bytes > 100: evict b
    assert.equal(cache.has('a'), true);
    assert.equal(cache.has('b'), false);
    assert.equal(cache.has('c'), true);
    assert.equal(cache.stats().bytes, 80);
    assert.equal(cache.stats().evictions, 1);
    await cache.get('big', async () => feats(30)); // 120 bytes alone: returned, not kept
    assert.equal(cache.has('big'), false);
    assert.equal(cache.stats().oversize, 1);
    assert.equal(cache.stats().bytes, 80);
  });

  test('a failed computation is not cached and is retried', async () => {
    const cache = new ReferenceFeatureCache(100);
    await assert.rejects(cache.get('x', async () => { throw new Error('boom'); }), /boom/);
    const f = await cache.get('x', async () => feats(1));
    assert.equal(f.ref_feat_0!.data.length, 1);
    assert.equal(cache.stats().misses, 2);
  });
});

describe('BatchScheduler', () => {
  test('batches items submitted together up to maxBatch, results in order', async () => {
    const seen: number[][] = [];
    const s = new BatchScheduler<number, number>({ maxBatch: 3, maxQueue: 10, runBatch: async (xs) => (seen.push(xs), xs.map((x) => x * 10)) });
    const out = await Promise.all([1, 2, 3, 4, 5].map((x) => s.submit(x)));
    assert.deepEqual(out, [10, 20, 30, 40, 50]);
    assert.deepEqual(seen, [[1, 2, 3], [4, 5]]);
    assert.equal(s.stats().maxBatchSeen, 3);
  });

  test('submit returns at once while a batch is slow, and later items join the next batch', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[][] = [];
    const s = new BatchScheduler<string, string>({ maxBatch: 4, maxQueue: 4, runBatch: async (xs) => (seen.push(xs), await gate, xs) });
    const first = s.submit('a');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    let settled = false;
    const second = s.submit('b').then((v) => ((settled = true), v));
    const third = s.submit('c');
    await new Promise((r) => setImmediate(r)); // the event loop keeps turning while batch 1 runs
    assert.equal(settled, false);
    assert.equal(s.stats().queued, 2);
    release();
    assert.deepEqual(await Promise.all([first, second, third]), ['a', 'b', 'c']);
    assert.deepEqual(seen, [['a'], ['b', 'c']]);
  });

  test('a full queue rejects new items (drop-newest) and counts them', async () => {
    const s = new BatchScheduler<number, number>({ maxBatch: 1, maxQueue: 2, runBatch: async (xs) => xs });
    const p = [s.submit(1), s.submit(2)];
    await assert.rejects(s.submit(3), QueueFullError);
    assert.deepEqual(await Promise.all(p), [1, 2]);
    assert.equal(s.stats().dropped, 1);
  });

  test('items with different keys never share a batch; a failing batch rejects only its items', async () => {
    const seen: string[][] = [];
    const s = new BatchScheduler<string, string>({
      maxBatch: 8,
      maxQueue: 8,
      key: (x) => x[0]!,
      runBatch: async (xs) => {
        seen.push(xs);
        if (xs[0]!.startsWith('b')) throw new Error('bad batch');
        return xs;
      },
    });
    const results = await Promise.allSettled(['a1', 'b1', 'a2', 'b2'].map((x) => s.submit(x)));
    assert.deepEqual(seen, [['a1', 'a2'], ['b1', 'b2']]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
  });
});
