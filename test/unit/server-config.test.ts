import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cfg-'));
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

test('the default config loads, is frozen and has the documented defaults', () => {
  const c = loadConfig();
  assert.equal(c.video.codec, 'h264');
  assert.equal(c.video.width, 512);
  assert.equal(c.video.fps, 25);
  assert.equal(c.server.port, 8080);
  assert.ok(Object.isFrozen(c.video));
  assert.throws(() => {
    (c.video as { fps: number }).fps = 30;
  }, TypeError);
});

test('a partial file overrides only its fields', () => {
  const c = loadConfig(file('partial.yaml', 'video:\n  codec: vp8\n  fps: 30\n'));
  assert.equal(c.video.codec, 'vp8');
  assert.equal(c.video.fps, 30);
  assert.equal(c.video.width, 512);
});

test('every bad field is named with what is allowed', () => {
  const p = file('bad.yaml', 'video:\n  fps: fast\n  codec: av1\nsessions:\n  max: 0\n');
  assert.throws(
    () => loadConfig(p),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /video\.fps/);
      assert.match(e.message, /video\.codec/);
      assert.match(e.message, /h264/);
      assert.match(e.message, /sessions\.max/);
      return true;
    },
  );
});

test('unknown fields are rejected (typos do not pass silently)', () => {
  assert.throws(() => loadConfig(file('typo.yaml', 'video:\n  fsp: 30\n')), /fsp/);
});

test('an unreadable or non-YAML file gives one clear message', () => {
  assert.throws(() => loadConfig(join(tmp, 'missing.yaml')), /cannot read config file/);
  assert.throws(() => loadConfig(file('broken.yaml', 'video: [1, 2\n')), /not valid YAML/);
});

test('odd frame sizes are refused', () => {
  assert.throws(() => loadConfig(undefined, { video: { width: 511 } }), /video\.width: must be even/);
});
