import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelFrames, phonemeToViseme } from '../../eval/visemes.ts';
import { parseHelperOutput } from '../../eval/espeakPhonemes.ts';

test('bilabials map to closed, low vowels to open, back rounded vowels and /w/ to rounded, front vowels to spread', () => {
  for (const p of ['p', 'b', 'm']) assert.equal(phonemeToViseme(p), 'closed', p);
  for (const p of ['a', 'aI', 'aU', 'A:', 'V', 'a#']) assert.equal(phonemeToViseme(p), 'open', p);
  for (const p of ['u:', 'U', 'oU', 'O:', 'OI', 'w']) assert.equal(phonemeToViseme(p), 'rounded', p);
  for (const p of ['i:', 'i', 'I', 'E', 'eI', 'j']) assert.equal(phonemeToViseme(p), 'spread', p);
});

test('pauses are silence and other consonants are other', () => {
  for (const p of ['_', '_:', '_!', '']) assert.equal(phonemeToViseme(p), 'silence', JSON.stringify(p));
  for (const p of ['t', 'd', 's', 'k', 'l', 'r', 'h', 'f', 'v', 'T', 'D', '@']) assert.equal(phonemeToViseme(p), 'other', p);
});

test('eSpeak variant suffixes fall back to the base phoneme', () => {
  assert.equal(phonemeToViseme('I2'), 'spread');
  assert.equal(phonemeToViseme('m#'), 'closed');
  assert.equal(phonemeToViseme('t#'), 'other');
});

test('labelFrames labels each frame by the phoneme at its centre, silence before the first and after the end', () => {
  // 1000 Hz "audio", 10 fps: frame k centre at sample 100k + 50.
  const phonemes = [
    { sample: 120, name: 'm' }, // frames 1..2 (centres 150, 250)
    { sample: 300, name: 'a' }, // frames 3..4
    { sample: 480, name: 'u:' }, // frame 5 (centre 550) until the end at 600
  ];
  assert.deepEqual(labelFrames(phonemes, 1000, 10, 8, 600), ['silence', 'closed', 'closed', 'open', 'open', 'rounded', 'silence', 'silence']);
});

test('the helper output parser reads the rate and phoneme lines and sorts by sample', () => {
  const out = parseHelperOutput('rate 22050\nword 0 1 3\nph 500 b\nph 264 _\nph 900 aI\n');
  assert.equal(out.sampleRate, 22050);
  assert.deepEqual(out.phonemes, [{ sample: 264, name: '_' }, { sample: 500, name: 'b' }, { sample: 900, name: 'aI' }]);
  assert.throws(() => parseHelperOutput('ph 1 a\n'), /no sample rate/);
});
