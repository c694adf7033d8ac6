import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ContractError } from '../../engines/onnx/GraphContract.ts';
import { GraphBuilder } from '../../engines/onnx/graphBuilder.ts';
import { CANONICAL_VERTICES } from '../../engines/motion/canonicalMesh.ts';
import { drawLandmarkImage, LANDMARK_COLOURS } from '../../engines/render/neural/LandmarkImage.ts';
import { NeuralRenderer } from '../../engines/render/neural/NeuralRenderer.ts';
import type { ReferencePortrait, RenderRequest, RgbaImage } from '../../engines/types.ts';
import { buildTinyNeuralGraphs } from '../../tools/make-test-graphs.ts';

const S = 256;

/** Canonical face mesh projected to an S x S frame, shifted by (dx, dy) px, mouth opened by `open` px. */
function faceLandmarks(dx = 0, dy = 0, open = 0): Float32Array {
  const lm = new Float32Array(936);
  for (let i = 0; i < 468; i++) {
    lm[2 * i] = S / 2 + CANONICAL_VERTICES[3 * i]! * 10 + dx;
    lm[2 * i + 1] = S / 2 - CANONICAL_VERTICES[3 * i + 1]! * 10 + dy;
  }
  for (const id of [14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 181, 91, 146, 314, 405, 321, 375]) lm[2 * id + 1] += open;
  return lm;
}

function portrait(id: string, seed: number): ReferencePortrait {
  const data = new Uint8Array(S * S * 4);
  // Smooth colour waves: what ReferenceNet sees survives its pooling, unlike pixel noise.
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      for (let c = 0; c < 3; c++) data[(y * S + x) * 4 + c] = 127 + 120 * Math.sin((x * (seed + c) + y * (3 - seed)) / 30 + c);
      data[(y * S + x) * 4 + 3] = 255;
    }
  }
  return { id, image: { width: S, height: S, data }, landmarks: faceLandmarks() };
}

const req = (referenceId: string, landmarks: Float32Array, frameIndex = 0): RenderRequest => ({ referenceId, landmarks, frameIndex, mouthOpen: 0 });

function meanAbsDiff(a: RgbaImage, b: RgbaImage): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}

function maxAbsDiff(a: RgbaImage, b: RgbaImage): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe('LandmarkImage', () => {
  test('draws lips in two distinct colours on black', () => {
    const lm = faceLandmarks(0, 0, 6);
    const img = drawLandmarkImage(lm, { width: S, height: S, thickness: 1 });
    const at = (id: number) => {
      const o = (Math.floor(lm[2 * id + 1]!) * S + Math.floor(lm[2 * id]!)) * 4;
      return [img.data[o], img.data[o + 1], img.data[o + 2]];
    };
    assert.deepEqual(at(0), [...LANDMARK_COLOURS.upper_lip]); // top of the upper lip
    assert.deepEqual(at(17), [...LANDMARK_COLOURS.lower_lip]); // bottom of the lower lip
    assert.notDeepEqual(LANDMARK_COLOURS.upper_lip, LANDMARK_COLOURS.lower_lip);
    assert.deepEqual([img.data[0], img.data[1], img.data[2], img.data[3]], [0, 0, 0, 255]);
    let lit = 0;
    for (let i = 0; i < img.data.length; i += 4) if (img.data[i]! | img.data[i + 1]! | img.data[i + 2]!) lit++;
    assert.ok(lit > 500 && lit < S * S * 0.2, `lit pixels ${lit}`);
  });
});

describe('NeuralRenderer with tiny graphs on cpu', () => {
  let r: NeuralRenderer;
  let referenceRuns = 0;
  before(async () => {
    r = await NeuralRenderer.create({ graphs: buildTinyNeuralGraphs({ size: S }), width: S, height: S, steps: 2, chunkFrames: 3, contextFrames: 2, maxBatch: 4 });
    await r.prepare(portrait('a', 1));
    await r.prepare(portrait('b', 2));
    referenceRuns = r.stats().cache.misses;
  });
  after(() => r.dispose());

  test('reference_net runs once per portrait however many sessions use it', async () => {
    const s1 = r.openStream('a', { seed: 1 }), s2 = r.openStream('a', { seed: 2 });
    await r.prepare(portrait('a', 1));
    await Promise.all([s1.renderChunk([req('a', faceLandmarks())]), s2.renderChunk([req('a', faceLandmarks())])]);
    const c = r.stats().cache;
    assert.equal(referenceRuns, 2); // a and b
    assert.equal(c.misses, 2);
    assert.ok(c.hits >= 3, `hits ${c.hits}`);
    assert.equal(c.entries, 2);
    assert.ok(c.bytes > 0);
  });

  test('a chunk gives one frame per request, in the portrait size', async () => {
    const out = await r.openStream('a').renderChunk([req('a', faceLandmarks(), 0), req('a', faceLandmarks(0, 0, 4), 1)]);
    assert.equal(out.length, 2);
    for (const img of out) {
      assert.equal(img.width, S);
      assert.equal(img.data.length, S * S * 4);
      assert.equal(img.data[3], 255);
    }
    const last = r.stats().last;
    assert.equal(last.unetStepMs.length, 2);
  });

  test('frames depend on the landmarks and on the reference', async () => {
    const one = async (id: string, lm: Float32Array) => (await r.openStream(id, { seed: 5 }).renderChunk([req(id, lm)]))[0]!;
    const base = await one('a', faceLandmarks());
    assert.equal(maxAbsDiff(base, await one('a', faceLandmarks())), 0, 'deterministic with a seed');
    assert.ok(meanAbsDiff(base, await one('a', faceLandmarks(12, 8, 6))) > 0.5, 'landmarks change the frame');
    assert.ok(meanAbsDiff(base, await one('b', faceLandmarks())) > 0.05, 'the reference changes the frame');
  });

  test('a batched chunk equals the same chunk rendered alone', async () => {
    const lmA = faceLandmarks(5, 0), lmB = faceLandmarks(-5, 3, 5);
    const alone = [
      await r.openStream('a', { seed: 11 }).renderChunk([req('a', lmA), req('a', lmA)]),
      await r.openStream('b', { seed: 12 }).renderChunk([req('b', lmB)]),
    ];
    const before = r.stats().batches.maxBatchSeen;
    const together = await Promise.all([r.openStream('a', { seed: 11 }).renderChunk([req('a', lmA), req('a', lmA)]), r.openStream('b', { seed: 12 }).renderChunk([req('b', lmB)])]);
    assert.ok(r.stats().batches.maxBatchSeen >= 2 && before >= 1, 'the two chunks shared a batch');
    assert.equal(r.stats().last.batch, 2);
    for (let i = 0; i < 2; i++) for (let k = 0; k < alone[i]!.length; k++) assert.ok(maxAbsDiff(alone[i]![k]!, together[i]![k]!) <= 1, `item ${i} frame ${k}`);
  });

  test('the previous chunk is motion context for the next one', async () => {
    const s1 = r.openStream('a', { seed: 3 }), s2 = r.openStream('a', { seed: 3 });
    await s1.renderChunk([req('a', faceLandmarks(0, 0, 0))]);
    await s2.renderChunk([req('a', faceLandmarks(20, 10, 8))]);
    const same = [req('a', faceLandmarks(2, 2, 2))];
    const [a] = await s1.renderChunk(same);
    const [b] = await s2.renderChunk(same);
    assert.ok(meanAbsDiff(a!, b!) > 0.01, 'different history -> different next chunk');
    s1.reset();
    s2.reset();
    const [c] = await s1.renderChunk(same);
    const [d] = await s2.renderChunk(same);
    assert.equal(maxAbsDiff(c!, d!), 0, 'after reset the history is gone');
  });

  test('render() streams a clip through chunks and keeps request order across portraits', async () => {
    const clip = [req('a', faceLandmarks(), 0), req('b', faceLandmarks(), 0), req('a', faceLandmarks(0, 0, 3), 1), req('a', faceLandmarks(0, 0, 6), 2), req('a', faceLandmarks(0, 0, 9), 3)];
    const out = await r.render(clip);
    assert.equal(out.length, 5);
    const again = await r.render(clip);
    out.forEach((img, i) => assert.equal(maxAbsDiff(img, again[i]!), 0));
    assert.ok(meanAbsDiff(out[0]!, out[1]!) > 0.05);
  });

  test('portraits of the wrong size and unprepared ids are refused', async () => {
    await assert.rejects(r.prepare({ ...portrait('x', 3), image: { width: 8, height: 8, data: new Uint8Array(256) } }), /needs 256x256 portraits, got 8x8/);
    assert.throws(() => r.openStream('nope'), /reference not prepared \[referenceId:nope\]/);
  });
});

describe('NeuralRenderer set checks', () => {
  test('float16 graphs render close to float32 ones', async () => {
    const mk = (dtype: 'float32' | 'float16') => NeuralRenderer.create({ graphs: buildTinyNeuralGraphs({ size: S, dtype }), width: S, height: S, steps: 1, chunkFrames: 1, contextFrames: 0 });
    const [r32, r16] = await Promise.all([mk('float32'), mk('float16')]);
    try {
      await r32.prepare(portrait('a', 1));
      await r16.prepare(portrait('a', 1));
      const [a] = await r32.render([req('a', faceLandmarks())]);
      const [b] = await r16.render([req('a', faceLandmarks())]);
      assert.ok(meanAbsDiff(a!, b!) < 1.5, `fp16 vs fp32 mean diff ${meanAbsDiff(a!, b!)}`);
    } finally {
      await Promise.all([r32.dispose(), r16.dispose()]);
    }
  });

  test('a set whose graphs do not fit together is rejected naming the mismatch', async () => {
    const graphs = buildTinyNeuralGraphs({ size: S });
    const g = new GraphBuilder('reference_net', 9);
    const x = g.input('reference_image', 'float32', ['batch', 3, S, S]);
    const tok = g.transpose(g.reshape(g.op('AveragePool', [x], { kernel_shape: [32, 32], strides: [32, 32] }), [0, 3, -1]), [0, 2, 1]);
    g.output('ref_feat_0', 'float32', ['batch', 64, 3], tok); // the UNet expects [batch, 64, 8]
    await assert.rejects(NeuralRenderer.create({ graphs: { ...graphs, reference_net: g.toBytes() }, width: S, height: S }), (err: ContractError) => {
      assert.match(err.message, /'ref_feat_0': reference_net gives float32 \[batch, 64, 3\], denoise_unet expects float32 \[batch, 64, 8\]/);
      return true;
    });
    await assert.rejects(NeuralRenderer.create({ graphs, width: 512, height: 512 }), /reference_net input 'reference_image': expected 512x512/);
    await assert.rejects(NeuralRenderer.create({ graphs, width: S, height: S, steps: 6 }), /1\.\.4/);
  });
});
