import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSessionJson } from '../../server/api/routes.ts';
import { BadInputError } from '../../server/errors.ts';
import { OpusDecoder } from '../../server/media/OpusCodec.ts';
import { ntpNow } from '../../server/media/senderReportClock.ts';
import { VoiceOut } from '../../server/media/VoiceOut.ts';
import { SpeechPlayout } from '../../server/session/SpeechPlayout.ts';

const tone = (n: number, rate: number, hz = 440, amp = 0.5) => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));
const rms = (x: Int16Array | Float32Array, scale = 1) => {
  let sum = 0;
  for (const v of x) sum += (v / scale) ** 2;
  return Math.sqrt(sum / Math.max(1, x.length));
};

test('speech play-out: audio pushed faster than real time leaves at real time, then silence keeps the clock going', () => {
  const p = new SpeechPlayout(16000);
  p.push(new Int16Array(16000).fill(1000)); // 1 s at once, as TTS sends it
  assert.equal(p.bufferedMs, 1000);
  assert.equal(p.pull(0).pcm.length, 0, 'the first pull only starts the clock');
  let real = 0;
  for (let t = 20; t <= 400; t += 20) real += p.pull(t).realSamples;
  assert.equal(real, 6400, '400 ms played in 400 ms');
  assert.equal(p.bufferedMs, 600);
  const stalled = p.pull(1000);
  assert.equal(stalled.pcm.length, 3200, 'after a 600 ms stall it catches up at most 200 ms, the clock skips the rest');
  let after = 0;
  for (let t = 1020; t <= 1400; t += 20) after += p.pull(t).realSamples;
  assert.equal(after, 6400);
  assert.equal(p.bufferedMs, 0, 'everything buffered was played, nothing dropped');
  const d = p.pull(1600);
  assert.equal(d.pcm.length, 3200);
  assert.equal(d.realSamples, 0);
  assert.ok(d.pcm.every((v) => v === 0));
});

test('speech play-out: an end mark is reached exactly after the audio before it; clear hands back marks never played', () => {
  const p = new SpeechPlayout(16000);
  p.pull(0);
  p.push(new Int16Array(800).fill(100));
  p.mark('first');
  p.push(new Int16Array(800).fill(100));
  p.mark('second');
  const out = p.pull(20 * 3); // 60 ms = 960 samples
  assert.deepEqual(out.marks, [{ id: 'first', offset: 800 }]);
  assert.deepEqual(p.clear().map((m) => m.id), ['second']);
  assert.equal(p.bufferedMs, 0);
  p.mark('third');
  assert.deepEqual(p.pull(80).marks.map((m) => m.id), ['third'], 'a mark on an empty buffer is reached at once');
});

test('voice out: packets leave for media time already shown, 20 ms each, timestamps continuous; barge-in silences what was not sent', () => {
  const voice = new VoiceOut({ bitrateBps: 32000 });
  let clock16 = 0;
  for (let i = 0; i < 10; i++) {
    voice.write(tone(960, 48000), 320, clock16); // 20 ms chunks of a tone
    clock16 += 320;
  }
  assert.equal(voice.packetsUpTo(-1).length, 0);
  const first = voice.packetsUpTo(40); // blocks starting at 0, 20 and 40 ms
  assert.equal(first.length, 3);
  const ts = first.map((p) => p.header.timestamp);
  assert.deepEqual([ts[1]! - ts[0]!, ts[2]! - ts[1]!], [960, 960]);
  assert.equal((first[1]!.header.sequenceNumber - first[0]!.header.sequenceNumber + 65536) % 65536, 1);
  const decoder = new OpusDecoder();
  for (const p of first) decoder.decode(p.payload);
  assert.ok(rms(decoder.decode(voice.packetsUpTo(60)[0]!.payload), 32768) > 0.2, 'the tone goes out');
  voice.silenceUnsent();
  const rest = voice.packetsUpTo(1000);
  assert.equal(rest.length, 6, 'only fully written blocks (up to 200 ms) leave');
  // The first packet after the cut carries the codec's own decay (overlap of the last tone block).
  const tail = rest.map((p) => rms(decoder.decode(p.payload), 32768)).slice(1);
  assert.ok(Math.max(...tail) < 0.01, `silent after barge-in, got rms ${tail.map((v) => v.toFixed(3))}`);
});

test('voice out: silence for idle fill and a realigned write keep the voice on the media clock', () => {
  const voice = new VoiceOut({ bitrateBps: 32000 });
  voice.write(null, 3200, 0); // 200 ms idle
  voice.write(tone(960, 48000), 320, 4800); // clock jumped to 300 ms: the gap is filled with silence
  assert.equal(voice.toJSON().realigned, 1);
  const packets = voice.packetsUpTo(300);
  assert.equal(packets.length, 16, 'blocks 0..300 ms');
  voice.skipUpTo(10_000);
  assert.equal(voice.packetsUpTo(10_000).length, 0, 'skipped blocks are not sent later');
});

test('a JSON session body names a WebSocket source with a supported rate', () => {
  const body = (o: unknown) => Buffer.from(JSON.stringify(o));
  assert.deepEqual(parseSessionJson(body({ source: 'websocket', sampleRate: 24000 })), { sampleRate: 24000 });
  assert.deepEqual(parseSessionJson(body({ source: 'websocket', reference: 'abc' })), { reference: 'abc' });
  const refused = (raw: Buffer, re: RegExp) => assert.throws(() => parseSessionJson(raw), (e: unknown) => e instanceof BadInputError && re.test(e.message));
  refused(Buffer.from('{'), /not JSON/);
  refused(body([1]), /JSON object/);
  refused(body({ source: 'microphone' }), /source must be "websocket"/);
  refused(body({ source: 'websocket', sampleRate: 44100 }), /16000, 24000, 48000/);
  refused(body({ source: 'websocket', rate: 16000 }), /unknown field "rate"/);
});

test('sender-report NTP time keeps its fraction (werift 0.25 writes only whole seconds)', () => {
  const wall = Date.UTC(2026, 10, 30, 6, 0, 0) + 250.5;
  const ntp = ntpNow(wall);
  const seconds = Number(ntp >> 32n);
  const fraction = Number(ntp & 0xffffffffn) / 2 ** 32;
  assert.equal(seconds, Math.floor((wall + 2_208_988_800_000) / 1000));
  assert.ok(Math.abs(fraction - 0.2505) < 1e-6, `fraction ${fraction}`);
});
