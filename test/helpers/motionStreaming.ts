import assert from 'node:assert/strict';
import type { MotionFrame } from '../../engines/types.ts';

/**
 * Push `samples` (16 kHz) into a motion stage in seeded random chunks of 1-900 samples and assert that every
 * frame comes out once, in index order, exactly when its audio plus `lookaheadMs` has arrived.
 */
export async function pushInRandomChunks(
  samples: Float32Array,
  stage: { lookaheadMs: number; push(pcm: Float32Array): MotionFrame[] | Promise<MotionFrame[]> },
  fps: number,
  seed = 5,
): Promise<{ frames: MotionFrame[]; received: number }> {
  const rnd = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const frames: MotionFrame[] = [];
  let received = 0;
  for (let at = 0; at < samples.length; ) {
    const n = 1 + Math.floor(rnd() * 900);
    const chunk = samples.subarray(at, at + n);
    const before = received;
    received += chunk.length;
    at += n;
    for (const f of await stage.push(chunk)) {
      assert.equal(f.index, frames.length);
      assert.equal(f.audioTimeMs, (f.index * 1000) / fps);
      frames.push(f);
      const need = (((f.index + 1) * 1000) / fps + stage.lookaheadMs) * 16;
      assert.ok(received >= need - 1e-6 && before < need, `frame ${f.index} at ${received} samples, needs ${need}`);
    }
  }
  assert.equal(frames.length, Math.floor((received / 16 - stage.lookaheadMs) / (1000 / fps)));
  return { frames, received };
}
