import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signalWindows, stopBase, stopSegments, type SignalWindows } from '../../eval/stops.ts';
import { labelSegments } from '../../eval/visemes.ts';

// Hand-made levels: 1000 Hz "audio", 10-sample (10 ms) windows; speech level (95th percentile) -10 dB.
const RATE = 1000;
const V = -10; // vowel
const S = -120; // closure silence
function windows(spec: [db: number, count: number, hf?: number][]): SignalWindows {
  const db: number[] = [], hf: number[] = [];
  for (const [d, c, h] of spec) for (let i = 0; i < c; i++) { db.push(d); hf.push(h ?? 0.1); }
  return { hop: 10, db, hf };
}

test('stopBase recognises stops and affricates with eSpeak modifiers, nothing else', () => {
  for (const [n, b] of [['p', 'p'], ['p2', 'p'], ['t#', 't'], ['k', 'k'], ['b', 'b'], ['d', 'd'], ['g', 'g'], ['tS', 'tS'], ['dZ', 'dZ']]) assert.equal(stopBase(n!), b, n);
  for (const n of ['m', 's', 'a', 'T', '_', 'h']) assert.equal(stopBase(n), undefined, n);
});

test('a voiceless bilabial takes the silent tail of the vowel before it as closed; its burst is other', () => {
  // a: 0-100 ms (60 ms voiced, 40 ms silent closure), p event 100-150 (burst), i: 150-300.
  const w = windows([[V, 6], [S, 4], [-30, 5, 0.5], [V, 15]]);
  const segs = stopSegments([{ sample: 0, name: 'a' }, { sample: 100, name: 'p' }, { sample: 150, name: 'i:' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'open' }, { sample: 60, cls: 'closed' }, { sample: 100, cls: 'other' }, { sample: 150, cls: 'spread' }]);
  // 100 fps frames (centres 5, 15, ... ms).
  assert.deepEqual(labelSegments(segs, RATE, 100, 30, 300), [
    ...Array<string>(6).fill('open'), ...Array<string>(4).fill('closed'), ...Array<string>(5).fill('other'), ...Array<string>(15).fill('spread'),
  ]);
});

test('the closure stops at the previous phoneme\'s voiced part: a quiet but audible window (-45 dB) is kept', () => {
  // threshold = -10 - 40 = -50 dB: the -45 dB decay window stays with the vowel, the -60 dB one joins the closure.
  const w = windows([[V, 5], [-45, 1], [-60, 1], [S, 3], [-30, 5, 0.5], [V, 15]]);
  const segs = stopSegments([{ sample: 0, name: 'A:' }, { sample: 100, name: 't' }, { sample: 150, name: 'u:' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'open' }, { sample: 60, cls: 'other' }, { sample: 150, cls: 'rounded' }]);
});

test('the closure is bounded to 150 ms and to the previous phoneme\'s start', () => {
  // 250 ms of silence before k: only the last 150 ms move to the stop.
  const w = windows([[V, 5], [S, 25], [-30, 5, 0.5], [V, 25]]);
  const segs = stopSegments([{ sample: 0, name: 'E' }, { sample: 300, name: 'k' }, { sample: 350, name: 'E' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'spread' }, { sample: 150, cls: 'other' }, { sample: 350, cls: 'spread' }]);
  // A silent previous phoneme (here a 40 ms /h/) is taken whole but nothing before its start.
  const w2 = windows([[S, 10], [-30, 5, 0.5], [V, 25]]);
  const segs2 = stopSegments([{ sample: 0, name: 'aI' }, { sample: 60, name: 'h' }, { sample: 100, name: 'p' }, { sample: 150, name: 'aI' }], w2, RATE);
  assert.deepEqual(segs2, [{ sample: 0, cls: 'open' }, { sample: 60, cls: 'closed' }, { sample: 100, cls: 'other' }, { sample: 150, cls: 'open' }]);
});

test('a pause before a stop keeps its silence label', () => {
  const w = windows([[S, 10], [-30, 5, 0.5], [V, 25]]);
  const segs = stopSegments([{ sample: 0, name: '_:' }, { sample: 100, name: 'p' }, { sample: 150, name: 'a' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'silence' }, { sample: 100, cls: 'other' }, { sample: 150, cls: 'open' }]);
});

test('a voiced bilabial\'s voice bar is closed (after up to 2 windows of the vowel\'s tail), its release other', () => {
  // b event 100-200: one window of vowel tail, 50 ms voice bar (-32 dB, hf 0.01), 40 ms release.
  const w = windows([[V, 10], [-22, 1, 0.1], [-32, 5, 0.01], [-20, 4, 0.1], [V, 20]]);
  const segs = stopSegments([{ sample: 0, name: 'V' }, { sample: 100, name: 'b' }, { sample: 200, name: 'I' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'open' }, { sample: 100, cls: 'closed' }, { sample: 160, cls: 'other' }, { sample: 200, cls: 'spread' }]);
  // Without a voice bar (high-frequency burst), the whole event is the release.
  const w2 = windows([[V, 10], [-32, 5, 0.5], [-20, 5, 0.1], [V, 20]]);
  const segs2 = stopSegments([{ sample: 0, name: 'V' }, { sample: 100, name: 'b' }, { sample: 200, name: 'I' }], w2, RATE);
  assert.deepEqual(segs2, [{ sample: 0, cls: 'open' }, { sample: 100, cls: 'other' }, { sample: 200, cls: 'spread' }]);
});

test('a stop\'s closure never reaches back into the previous stop\'s voice bar (b b: closed, other, closed, other)', () => {
  // b1 100-250: voice bar 100-150, release 150-200, silence 200-250 (b2's closure); b2 250-300 burst.
  const w = windows([[V, 10], [-31, 5, 0.005], [-40, 5, 0.1], [S, 5], [-28, 5, 0.1], [V, 20]]);
  const ph = [{ sample: 0, name: '0' }, { sample: 100, name: 'b' }, { sample: 250, name: 'b' }, { sample: 300, name: 'O:' }];
  assert.deepEqual(stopSegments(ph, w, RATE), [
    { sample: 0, cls: 'open' }, { sample: 100, cls: 'closed' }, { sample: 150, cls: 'other' }, { sample: 200, cls: 'closed' }, { sample: 250, cls: 'other' }, { sample: 300, cls: 'rounded' },
  ]);
});

test('non-stop phonemes keep their event labels; same-class neighbours merge', () => {
  const w = windows([[V, 30]]);
  const segs = stopSegments([{ sample: 0, name: 'm' }, { sample: 100, name: 'a' }, { sample: 200, name: 'aI' }], w, RATE);
  assert.deepEqual(segs, [{ sample: 0, cls: 'closed' }, { sample: 100, cls: 'open' }]);
});

test('signalWindows: level in dB, -120 for digital silence, low high-frequency ratio for a low tone', () => {
  const x = new Float32Array(300);
  for (let i = 100; i < 200; i++) x[i] = 0.1 * Math.sign(Math.sin((2 * Math.PI * 100 * i) / 10000) || 1); // square-ish, RMS 0.1
  for (let i = 200; i < 300; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 100 * i) / 10000);
  const w = signalWindows(x, 10000, 10); // hop 100
  assert.equal(w.hop, 100);
  assert.equal(w.db.length, 3);
  assert.equal(w.db[0], -120);
  assert.ok(Math.abs(w.db[1]! - -20) < 0.01, String(w.db[1]));
  assert.ok(w.hf[2]! < 0.01, String(w.hf[2])); // 100 Hz at 10 kHz: (2 pi 0.01)^2 ~ 0.004
});
