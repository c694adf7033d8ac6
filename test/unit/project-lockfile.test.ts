import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// A fresh clone installs with `npm ci`, which fails if the lock misses any optional platform package.
test('package-lock lists every optional platform package of @napi-rs/webcodecs (run npm run lock:fix)', () => {
  const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));
  const parent = lock.packages['node_modules/@napi-rs/webcodecs'];
  const missing = Object.keys(parent.optionalDependencies ?? {}).filter((n) => !lock.packages[`node_modules/${n}`]);
  assert.deepEqual(missing, []);
});

test('.npmrc skips the onnxruntime-node CUDA download that fails offline', () => {
  assert.match(readFileSync(new URL('../../.npmrc', import.meta.url), 'utf8'), /^onnxruntime-node-install=skip$/m);
});
