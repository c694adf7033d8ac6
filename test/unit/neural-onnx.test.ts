import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../engines/onnx/graphBuilder.ts';
import { ContractError } from '../../engines/onnx/GraphContract.ts';
import { providerCandidates } from '../../engines/onnx/executionProviders.ts';
import { loadOnnxModel } from '../../engines/onnx/OnnxModel.ts';
import { float16ToFloat32, float32ToFloat16, fromHalfBits, toHalfBits } from '../../engines/onnx/TensorData.ts';
import { VAE_DECODER } from '../../engines/render/neural/contract.ts';

/** x [batch, 2, 2, 2] -> 1x1 conv with known weights (out = 2*c0 - c1) -> y [batch, 1, 2, 2]. */
function knownConv(): Uint8Array {
  const g = new GraphBuilder('known', 1);
  const x = g.input('x', 'float32', ['batch', 2, 2, 2]);
  const y = g.op('Conv', [x, g.floats('w', [1, 2, 1, 1], [2, -1]), g.floats('b', [1], [0.5])], { kernel_shape: [1, 1] });
  g.output('y', 'float32', ['batch', 1, 2, 2], y);
  return g.toBytes();
}

/** A vae_decoder whose input is misnamed and has 3 latent channels. */
function wrongVae(): Uint8Array {
  const g = new GraphBuilder('vae_decoder', 2);
  const z = g.input('latents', 'float32', ['n', 3, 8, 8]);
  const img = g.op('Resize', [g.conv(z, 3, 3, [3, 3]), '', g.floats('s', [4], [1, 1, 8, 8])], { mode: 'nearest' });
  g.output('image', 'float32', ['n', 3, 64, 64], img);
  return g.toBytes();
}

describe('execution providers', () => {
  test('device names map to provider chains; an unknown one throws listing the valid ones', () => {
    assert.deepEqual(providerCandidates('tensorrt', true), ['tensorrt', 'cuda', 'cpu']);
    assert.deepEqual(providerCandidates('cuda', false), ['cuda']);
    assert.deepEqual(providerCandidates('auto', false), ['tensorrt', 'cuda', 'cpu']);
    assert.throws(() => providerCandidates('gpu', true), /unknown ONNX device 'gpu' \[valid: tensorrt, cuda, cpu, auto\]/);
  });

  test('a missing GPU provider fails with the install hint, or falls back to cpu when allowed', async () => {
    await assert.rejects(loadOnnxModel(knownConv(), { device: 'tensorrt', label: 'known.onnx' }), (err: Error) => {
      assert.match(err.message, /no execution provider could run the model \[file:known\.onnx, device:tensorrt/);
      assert.match(err.message, /libonnxruntime_providers_tensorrt\.so/);
      assert.match(err.message, /--onnxruntime-node-install=cuda12/);
      assert.match(err.message, /fallback: true/);
      return true;
    });
    const m = await loadOnnxModel(knownConv(), { device: 'cuda', fallback: true });
    assert.equal(m.provider, 'cpu');
    assert.deepEqual(m.skipped.map((s) => s.provider), ['cuda']);
    await m.dispose();
  });
});

describe('OnnxModel', () => {
  test('runs a graph built by GraphBuilder and returns the exact values', async () => {
    const m = await loadOnnxModel(knownConv());
    assert.deepEqual(m.inputNames, ['x']);
    assert.deepEqual(m.outputs, [{ name: 'y', type: 'float32', shape: ['batch', 1, 2, 2] }]);
    // batch 2: channel 0 = 1..4 / 5..8, channel 1 = 1 everywhere
    const x = Float32Array.of(1, 2, 3, 4, 1, 1, 1, 1, 5, 6, 7, 8, 1, 1, 1, 1);
    const { y } = await m.run({ x: { type: 'float32', data: x, dims: [2, 2, 2, 2] } });
    assert.deepEqual([...y!.dims], [2, 1, 2, 2]);
    assert.deepEqual([...(y!.data as Float32Array)], [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5, 15.5]);
    await m.dispose();
    await m.dispose();
    await assert.rejects(m.run({ x: { type: 'float32', data: x, dims: [2, 2, 2, 2] } }), /disposed/);
  });

  test('dispose during runs waits for them: they complete with their values, later runs throw', async () => {
    const m = await loadOnnxModel(knownConv());
    const x = Float32Array.of(1, 2, 3, 4, 1, 1, 1, 1);
    const runs = Array.from({ length: 4 }, () => m.run({ x: { type: 'float32', data: x, dims: [1, 2, 2, 2] } }));
    await m.dispose();
    for (const r of await Promise.all(runs)) assert.deepEqual([...(r.y!.data as Float32Array)], [1.5, 3.5, 5.5, 7.5]);
    await assert.rejects(m.run({ x: { type: 'float32', data: x, dims: [1, 2, 2, 2] } }), /disposed/);
  });

  test('inputs are validated before a run, listing every problem', async () => {
    const m = await loadOnnxModel(knownConv(), { label: 'known.onnx' });
    await assert.rejects(m.run({}), /invalid inputs \[file:known\.onnx\]: missing input 'x' float32 \[batch, 2, 2, 2\]/);
    await assert.rejects(
      m.run({ x: { type: 'float16', data: new Uint16Array(6), dims: [1, 2, 3] }, z: { type: 'float32', data: new Float32Array(1), dims: [1] } }),
      (err: TypeError) => {
        assert.match(err.message, /input 'x' dtype: expected float32, found float16/);
        assert.match(err.message, /input 'x' rank: expected 4/);
        assert.match(err.message, /unknown input 'z'/);
        return true;
      },
    );
    await assert.rejects(m.run({ x: { type: 'float32', data: new Float32Array(8), dims: [1, 2, 2, 3] } }), /axis 3: expected 2, found 3/);
    await m.dispose();
  });

  test('contract validation rejects a wrong graph naming the file, the expectation and what was found', async () => {
    await assert.rejects(loadOnnxModel(wrongVae(), { contract: VAE_DECODER, label: 'models/vae_decoder.onnx' }), (err: ContractError) => {
      assert.ok(err instanceof ContractError);
      assert.match(err.message, /does not match the vae_decoder contract \[file:models\/vae_decoder\.onnx\]/);
      assert.match(err.message, /missing input 'latent' float32\|float16 \[n\*, latent_channels, latent_height, latent_width\] \(found inputs: latents\)/);
      assert.match(err.message, /unexpected input 'latents' float32 \[n, 3, 8, 8\]/);
      return true;
    });
  });

  test('a fixed axis where the contract wants a dynamic one is rejected', async () => {
    const g = new GraphBuilder('vae_decoder', 3);
    const z = g.input('latent', 'float32', [2, 4, 8, 8]);
    g.output('image', 'float32', [2, 3, 64, 64], g.op('Resize', [g.conv(z, 4, 3, [3, 3]), '', g.floats('s', [4], [1, 1, 8, 8])], { mode: 'nearest' }));
    await assert.rejects(loadOnnxModel(g.toBytes(), { contract: VAE_DECODER, label: 'v.onnx' }), /input 'latent' axis 0 \(n\): expected a dynamic axis, found fixed 2/);
  });
});

describe('float16 conversion', () => {
  test('known bit patterns round-trip', () => {
    assert.equal(toHalfBits(1), 0x3c00);
    assert.equal(toHalfBits(-2), 0xc000);
    assert.equal(toHalfBits(65504), 0x7bff);
    assert.equal(toHalfBits(1e6), 0x7c00);
    assert.equal(toHalfBits(2 ** -24), 0x0001);
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // tie rounds to even
    assert.equal(fromHalfBits(0x3555), 0.333251953125);
    const v = Float32Array.of(0.1, -3.75, 1000, 6e-5);
    const back = float16ToFloat32(float32ToFloat16(v));
    v.forEach((x, i) => assert.ok(Math.abs(back[i]! - x) <= Math.abs(x) * 2 ** -10, `${x} -> ${back[i]}`));
  });
});
