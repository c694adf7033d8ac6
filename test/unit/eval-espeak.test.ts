import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { speak } from '../../eval/espeakPhonemes.ts';
import { phonemeToViseme } from '../../eval/visemes.ts';

// Needs gcc and libespeak-ng-dev (Debian): .ci/run installs them.
const available = existsSync('/usr/include/espeak-ng/speak_lib.h');
const needsEspeak = () => assert.ok(available, 'libespeak-ng-dev is not installed: apt-get install libespeak-ng-dev gcc (.ci/run does this)');

test('espeak-ng speaks a sentence with ordered phoneme events inside its audio', { timeout: 30_000 }, async () => {
  needsEspeak();
  const out = await speak('Bob saw the moon.', { voice: 'en-us', rateWpm: 175, pitch: 50 });
  assert.equal(out.sampleRate, 22050);
  assert.ok(out.samples.length > 0.8 * 22050, `samples ${out.samples.length}`);
  const names = out.phonemes.map((p) => p.name);
  assert.ok(names.includes('b') && names.includes('m'), names.join(' '));
  assert.ok(names.some((n) => phonemeToViseme(n) === 'rounded'), names.join(' '));
  for (let i = 1; i < out.phonemes.length; i++) assert.ok(out.phonemes[i]!.sample >= out.phonemes[i - 1]!.sample);
  assert.ok(out.phonemes.every((p) => p.sample >= 0 && p.sample <= out.samples.length));
  // The first /b/ closure is quieter than the vowel after it.
  const rms = (a: number, b: number): number => Math.sqrt(out.samples.subarray(a, b).reduce((s, x) => s + x * x, 0) / Math.max(1, b - a));
  const b = out.phonemes.find((p) => p.name === 'b')!;
  const next = out.phonemes[out.phonemes.indexOf(b) + 1]!;
  assert.ok(rms(b.sample, b.sample + 400) < rms(next.sample, next.sample + 1500), 'closure quieter than the vowel');
});

test('an unknown voice fails with a message naming it', { timeout: 30_000 }, async () => {
  needsEspeak();
  await assert.rejects(speak('hello', { voice: 'xx-nonexistent', rateWpm: 175, pitch: 50 }), /xx-nonexistent/);
});
