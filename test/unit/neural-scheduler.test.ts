import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boundaryScalings, LcmScheduler, lcmTimesteps } from '../../engines/render/neural/LcmScheduler.ts';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('LcmScheduler', () => {
  test('timesteps follow the LCM skip schedule of the 50-step teacher grid (19, 39, ..., 999)', () => {
    assert.deepEqual(lcmTimesteps(1), [999]);
    assert.deepEqual(lcmTimesteps(2), [999, 499]);
    assert.deepEqual(lcmTimesteps(3), [999, 679, 339]);
    assert.deepEqual(lcmTimesteps(4), [999, 759, 499, 259]);
  });

  test('alpha_bar matches SD 1.5 scaled_linear betas', () => {
    const s = new LcmScheduler(4);
    close(s.alphasCumprod[0]!, 1 - 0.00085, 1e-12, 'alpha_bar(0) = 1 - beta_start');
    // beta(1) = (sqrt(0.00085) + (sqrt(0.012) - sqrt(0.00085)) / 999)^2
    const b1 = (Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) / 999) ** 2;
    close(s.alphasCumprod[1]!, 0.99915 * (1 - b1), 1e-12, 'alpha_bar(1)');
    close(s.alphasCumprod[999]!, 0.004660098513077234, 1e-12, 'alpha_bar(999) (SD 1.5: ~0.00466)');
    close(s.alphasCumprod[499]!, 0.27766965045646763, 1e-12, 'alpha_bar(499)');
  });

  test('boundary scalings: c_skip ~ 0 and c_out ~ 1 at t = 999, c_skip = 1 at t = 0', () => {
    const a = boundaryScalings(999);
    close(a.cSkip, 0.25 / (9990 ** 2 + 0.25), 1e-18, 'c_skip(999)');
    close(a.cOut, 9990 / Math.sqrt(9990 ** 2 + 0.25), 1e-15, 'c_out(999)');
    assert.deepEqual(boundaryScalings(0), { cSkip: 1, cOut: 0 });
  });

  test('a 2-step run matches hand-computed values', () => {
    const s = new LcmScheduler(2);
    // Step 0 at t = 999, x = 1, eps = 0.5, next noise = -1:
    // x0 = (1 - sqrt(1 - 0.0046601) * 0.5) / sqrt(0.0046601) = 7.3414929299
    // denoised = c_out * x0 + c_skip * x = 7.3414929232; next = sqrt(ab(499)) * d + sqrt(1 - ab(499)) * (-1) = 3.0186531575
    const sample = Float32Array.of(1), eps = Float32Array.of(0.5), d = new Float32Array(1), next = new Float32Array(1);
    s.step(0, sample, eps, d, next, Float32Array.of(-1));
    close(d[0]!, 7.341492923163835, 1e-5, 'denoised');
    close(next[0]!, 3.018653157532347, 1e-5, 'next sample');
    // Last step: no noise, next = denoised. t = 499: x0 = (3 - sqrt(1 - ab) * 0) / sqrt(ab) with eps = 0.
    const d2 = new Float32Array(1), n2 = new Float32Array(1);
    s.step(1, Float32Array.of(3), Float32Array.of(0), d2, n2);
    const { cSkip, cOut } = boundaryScalings(499);
    const hand = cOut * (3 / Math.sqrt(0.27766965045646763)) + cSkip * 3;
    close(d2[0]!, hand, 1e-5, 'last denoised');
    assert.equal(n2[0], d2[0]);
  });

  test('is deterministic and rejects step counts outside 1..4', () => {
    const a = new LcmScheduler(4), b = new LcmScheduler(4);
    assert.deepEqual(a.coefficients, b.coefficients);
    assert.throws(() => new LcmScheduler(0), /1\.\.4/);
    assert.throws(() => new LcmScheduler(5), /1\.\.4/);
    assert.throws(() => a.step(1, Float32Array.of(1), Float32Array.of(1), new Float32Array(1), new Float32Array(1)), /needs noise/);
  });

  test('addNoise is sqrt(ab) x0 + sqrt(1 - ab) noise', () => {
    const s = new LcmScheduler(2), out = new Float32Array(1);
    s.addNoise(1, Float32Array.of(2), Float32Array.of(1), out);
    close(out[0]!, Math.sqrt(0.27766965045646763) * 2 + Math.sqrt(1 - 0.27766965045646763), 1e-6, 'noised');
  });
});
