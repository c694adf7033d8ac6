import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JitterBuffer, type JitterBufferOutput } from '../../server/media/JitterBuffer.ts';

/** Compact form of outputs: packet seq as a number, loss as 'L<seq>x<count>'. */
function brief(out: JitterBufferOutput<string>[]): (number | string)[] {
  return out.map((o) => (o.kind === 'packet' ? o.sequenceNumber : `L${o.sequenceNumber}x${o.count}`));
}

test('in-order packets are released immediately', () => {
  const jb = new JitterBuffer<string>();
  assert.deepEqual(brief(jb.push(100, 'a', 0)), [100]);
  const out = jb.push(101, 'b', 20);
  assert.deepEqual(out, [{ kind: 'packet', sequenceNumber: 101, packet: 'b' }]);
  assert.equal(jb.toJSON().buffered, 0);
});

test('a reordered packet is held until the gap fills, then both come out in order', () => {
  const jb = new JitterBuffer<string>({ maxDelayMs: 60 });
  jb.push(10, 'a', 0);
  assert.deepEqual(brief(jb.push(12, 'c', 20)), []);
  assert.deepEqual(brief(jb.push(13, 'd', 40)), []);
  assert.deepEqual(brief(jb.push(11, 'b', 45)), [11, 12, 13]);
  const s = jb.toJSON();
  assert.deepEqual([s.received, s.released, s.reordered, s.lost, s.buffered], [4, 4, 1, 0, 0]);
});

test('sequence numbers wrap from 65535 to 0 in order, with reordering across the wrap', () => {
  const jb = new JitterBuffer<string>();
  assert.deepEqual(brief(jb.push(65534, 'a', 0)), [65534]);
  assert.deepEqual(brief(jb.push(0, 'c', 20)), []);
  assert.deepEqual(brief(jb.push(65535, 'b', 25)), [65535, 0]);
  assert.deepEqual(brief(jb.push(1, 'd', 40)), [1]);
  assert.equal(jb.toJSON().lost, 0);
});

test('a gap is reported lost once the packet behind it has waited maxDelayMs', () => {
  const jb = new JitterBuffer<string>({ maxDelayMs: 60 });
  jb.push(1, 'a', 0);
  assert.deepEqual(brief(jb.push(4, 'd', 100)), []);
  assert.deepEqual(brief(jb.poll(159)), []);
  assert.deepEqual(brief(jb.poll(160)), ['L2x2', 4]);
  assert.equal(jb.toJSON().lost, 2);
  // The lost slot's packet arriving now is late, not a duplicate.
  assert.deepEqual(brief(jb.push(2, 'b', 170)), []);
  assert.deepEqual([jb.toJSON().late, jb.toJSON().duplicate], [1, 0]);
});

test('each packet waits at most maxDelayMs from its own arrival; a later gap gets its own wait', () => {
  const jb = new JitterBuffer<string>({ maxDelayMs: 50 });
  jb.push(0, 'a', 0);
  jb.push(2, 'c', 10);
  jb.push(4, 'e', 30);
  assert.deepEqual(brief(jb.poll(60)), ['L1x1', 2]);
  assert.deepEqual(brief(jb.poll(79)), []);
  assert.deepEqual(brief(jb.poll(80)), ['L3x1', 4]);
});

test('the wait of a gap counts from the earliest packet behind it, even if that is not the first one', () => {
  const jb = new JitterBuffer<string>({ maxDelayMs: 50 });
  jb.push(0, 'a', 0);
  jb.push(3, 'd', 10);
  jb.push(2, 'c', 40);
  assert.deepEqual(brief(jb.poll(59)), []);
  assert.deepEqual(brief(jb.poll(60)), ['L1x1', 2, 3]);
});

test('duplicates of held and of released packets are dropped and counted', () => {
  const jb = new JitterBuffer<string>();
  jb.push(5, 'a', 0);
  jb.push(7, 'c', 1);
  assert.deepEqual(brief(jb.push(7, 'c2', 2)), []);
  assert.deepEqual(brief(jb.push(5, 'a2', 3)), []);
  assert.deepEqual(brief(jb.push(6, 'b', 4)), [6, 7]);
  const s = jb.toJSON();
  assert.deepEqual([s.duplicate, s.late, s.released], [2, 0, 3]);
});

test('the span is bounded: a packet maxPackets ahead forces the oldest gap out as lost', () => {
  const jb = new JitterBuffer<string>({ maxPackets: 4, maxDelayMs: 1000 });
  jb.push(0, 'a', 0);
  assert.deepEqual(brief(jb.push(2, 'c', 1)), []);
  assert.deepEqual(brief(jb.push(4, 'e', 2)), []);
  // 5 - 1 = 4 >= maxPackets: seq 1 must go.
  assert.deepEqual(brief(jb.push(5, 'f', 3)), ['L1x1', 2]);
  assert.equal(jb.toJSON().buffered, 2);
  assert.deepEqual(brief(jb.push(10, 'k', 4)), ['L3x1', 4, 5, 'L6x1']);
  const s = jb.toJSON();
  assert.deepEqual([s.overflow, s.lost, s.buffered], [2, 3, 1]);
});

test('a jump beyond maxDropout restarts the sequence instead of reporting thousands lost', () => {
  const jb = new JitterBuffer<string>({ maxDropout: 100 });
  jb.push(10, 'a', 0);
  jb.push(12, 'c', 1);
  assert.deepEqual(brief(jb.push(5000, 'x', 2)), [12, 5000]);
  assert.deepEqual(brief(jb.push(5001, 'y', 3)), [5001]);
  const s = jb.toJSON();
  assert.deepEqual([s.resync, s.lost], [1, 0]);
});

test('a run of late packets (sender restarted lower) resyncs to the new numbers', () => {
  const jb = new JitterBuffer<string>({ maxConsecutiveLate: 3 });
  jb.push(30000, 'a', 0);
  assert.deepEqual(brief(jb.push(100, 'x', 1)), []);
  assert.deepEqual(brief(jb.push(101, 'y', 2)), []);
  assert.deepEqual(brief(jb.push(102, 'z', 3)), [102]);
  assert.deepEqual(brief(jb.push(103, 'w', 4)), [103]);
  assert.deepEqual([jb.toJSON().late, jb.toJSON().resync], [2, 1]);
});

test('flush() releases everything held, reset() forgets the sequence', () => {
  const jb = new JitterBuffer<string>();
  jb.push(1, 'a', 0);
  jb.push(3, 'c', 1);
  jb.push(6, 'f', 2);
  assert.deepEqual(brief(jb.flush()), ['L2x1', 3, 'L4x2', 6]);
  jb.push(8, 'h', 3);
  jb.reset();
  assert.deepEqual(brief(jb.push(500, 'q', 4)), [500]);
  assert.equal(jb.toJSON().buffered, 0);
});

test('bad options throw TypeErrors naming the field', () => {
  assert.throws(() => new JitterBuffer({ maxPackets: 0 }), /maxPackets/);
  assert.throws(() => new JitterBuffer({ maxDelayMs: -1 }), /maxDelayMs/);
});
