import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadInputError, UnsupportedError } from '../../server/errors.ts';
import { AudioArrivalLog } from '../../server/session/AudioArrivalLog.ts';
import { LatencyStats } from '../../server/session/LatencyStats.ts';
import { parseControlMessage } from '../../server/session/controlMessages.ts';
import { answerProfileLevelId, chooseVideoCodec, inspectOffer, offerForIce, viewerCanReceive } from '../../server/session/sdpOffer.ts';

/** An offer around `media` (m= sections); each section gets a=mid:<index> after its m= line. */
const offer = (media: string) => {
  let mid = 0;
  const withMids = media.replace(/^(m=.*)$/gm, (m) => `${m}\r\na=mid:${mid++}`);
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=fingerprint:sha-256 AA:BB', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789012345678901', withMids, ''].join('\r\n');
};
const AUDIO = 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2';
const H264 =
  'm=video 9 UDP/TLS/RTP/SAVPF 102 104\r\na=recvonly\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\na=rtpmap:104 H264/90000\r\na=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f';
const H264_BASELINE_ONLY = 'm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=recvonly\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f';
const H264_MODE0_ONLY = 'm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=recvonly\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=0;profile-level-id=64001f';
const VP8 = 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\na=rtpmap:96 VP8/90000';

test('an offer with Opus audio and H.264 + VP8 video is summarised', () => {
  const s = inspectOffer(offer(`${AUDIO}\r\n${H264}\r\na=rtpmap:96 VP8/90000`), 65536);
  assert.deepEqual(s, { hasAudioOpus: true, receivesAudioOpus: true, hasH264: true, h264ProfileLevelId: '64001f', h264ProfileLevelIds: ['42e01f', '64001f'], hasVp8: true, hasVideo: true, hasDataChannel: false });
  assert.equal(chooseVideoCodec(s, 'h264'), 'h264');
  assert.equal(chooseVideoCodec(s, 'vp8'), 'vp8');
});

test('the codec falls back to what the offer has', () => {
  const vp8Only = inspectOffer(offer(`${AUDIO}\r\n${VP8}`), 65536);
  assert.equal(chooseVideoCodec(vp8Only, 'h264'), 'vp8');
  const h264Only = inspectOffer(offer(`${AUDIO}\r\n${H264}`), 65536);
  assert.equal(chooseVideoCodec(h264Only, 'vp8'), 'h264');
});

test('H.264 is answered with a High profile entry (what x264 emits); baseline-only offers get VP8 when they have it', () => {
  const baselineAndVp8 = inspectOffer(offer(`${AUDIO}\r\n${H264_BASELINE_ONLY}\r\na=rtpmap:96 VP8/90000`), 65536);
  assert.equal(baselineAndVp8.h264ProfileLevelId, '42e01f');
  assert.equal(chooseVideoCodec(baselineAndVp8, 'h264'), 'vp8');
  const baselineOnly = inspectOffer(offer(`${AUDIO}\r\n${H264_BASELINE_ONLY}`), 65536);
  assert.equal(chooseVideoCodec(baselineOnly, 'h264'), 'h264', 'nothing better offered');
  assert.throws(() => inspectOffer(offer(`${AUDIO}\r\n${H264_MODE0_ONLY}`), 65536), UnsupportedError, 'packetization-mode=0 only');
});

test("Chromium's offer (42001f, 42e01f, 4d001f, f4001f; no 64xxxx) gets H.264 through High 4:4:4 Predictive, whose decoders decode High", () => {
  const video = ['42001f', '42e01f', '4d001f', 'f4001f']
    .map((p, i) => `a=rtpmap:${102 + i} H264/90000\r\na=fmtp:${102 + i} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${p}`)
    .join('\r\n');
  const s = inspectOffer(offer(`${AUDIO}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102 103 104 105\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n${video}`), 65536);
  assert.equal(s.h264ProfileLevelId, 'f4001f');
  assert.equal(chooseVideoCodec(s, 'h264'), 'h264');
});

test('bad offers are refused with the reason', () => {
  assert.throws(() => inspectOffer('', 65536), (e: unknown) => e instanceof BadInputError && /empty/.test(e.message));
  assert.throws(() => inspectOffer('hello world', 65536), (e: unknown) => e instanceof BadInputError && /v=0/.test(e.message));
  assert.throws(() => inspectOffer(offer(H264), 65536), (e: unknown) => e instanceof UnsupportedError && /no audio/.test(e.message));
  assert.throws(() => inspectOffer(offer(AUDIO), 65536), (e: unknown) => e instanceof UnsupportedError && /no video/.test(e.message));
  assert.throws(
    () => inspectOffer(offer(`${AUDIO}\r\n${VP8}`), 100),
    (e: unknown) => e instanceof BadInputError && e.status === 413,
  );
  const noFingerprint = offer(`${AUDIO}\r\n${VP8}`).replace('a=fingerprint:sha-256 AA:BB\r\n', '');
  assert.throws(() => inspectOffer(noFingerprint, 65536), /fingerprint/);
  assert.throws(() => inspectOffer(offer(`${AUDIO}\r\n${VP8}`).replace('a=mid:1\r\n', ''), 65536), /exactly one a=mid/);
  assert.throws(() => inspectOffer(offer(`${AUDIO}\r\n${VP8}`).replace('a=mid:1', 'a=mid:0'), 65536), /duplicate a=mid/);
});

test('control messages are parsed, clamped and validated', () => {
  assert.deepEqual(parseControlMessage('{"type":"clear"}'), { message: { type: 'clear' } });
  assert.deepEqual(parseControlMessage('{"type":"pose","yaw":90,"pitch":-5,"roll":0}'), {
    message: { type: 'pose', yaw: 30, pitch: -5, roll: 0 },
  });
  assert.deepEqual(parseControlMessage('{"type":"expression","scale":5}'), { message: { type: 'expression', scale: 2 } });
  assert.match((parseControlMessage('nope') as { error: string }).error, /not JSON/);
  assert.match((parseControlMessage('{"type":"pose","yaw":"x"}') as { error: string }).error, /finite/);
  assert.match((parseControlMessage('{"type":"dance"}') as { error: string }).error, /unknown control message type "dance"/);
  assert.match((parseControlMessage('x'.repeat(5000)) as { error: string }).error, /larger than/);
});

test('audio arrival log finds the first chunk that covers an audio time', () => {
  const log = new AudioArrivalLog(4);
  log.record(20, 1000);
  log.record(40, 1020);
  log.record(60, 1045);
  assert.equal(log.arrivalOf(10), 1000);
  assert.equal(log.arrivalOf(40), 1020);
  assert.equal(log.arrivalOf(41), 1045);
  assert.equal(log.arrivalOf(61), undefined);
  log.record(80, 1060);
  log.record(100, 1080); // overwrites the 20 ms entry
  assert.equal(log.arrivalOf(10), 1020, 'older than the log: the oldest entry still covering it');
});

test('latency stats give nearest-rank percentiles over the window', () => {
  const s = new LatencyStats(100);
  for (let i = 1; i <= 100; i++) s.add(i);
  assert.deepEqual(s.summary(), { p50: 50, p95: 95, p99: 99, count: 100 });
  s.add(1000); // replaces 1
  assert.equal(s.summary().p99, 100);
  assert.equal(s.summary().count, 100);
  assert.deepEqual(new LatencyStats(4).summary(), { p50: 0, p95: 0, p99: 0, count: 0 });
});

test('the view control message switches between video and the landmark debug view', () => {
  assert.deepEqual(parseControlMessage('{"type":"view","mode":"landmarks"}'), { message: { type: 'view', mode: 'landmarks' } });
  assert.match((parseControlMessage('{"type":"view","mode":"xray"}') as { error: string }).error, /"video" or "landmarks"/);
});

test('an offer with only mDNS candidates loses its end-of-candidates (werift then waits for the checks); one with a usable candidate keeps it', () => {
  const mdns = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=candidate:0 1 UDP 2122252543 3c5a6f1e-1b2c-4d5e-8f90-1234567890ab.local 52144 typ host\r\na=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 120\r\na=end-of-candidates\r\n';
  const applied = offerForIce(mdns);
  assert.doesNotMatch(applied, /end-of-candidates/);
  assert.match(applied, /\.local 52144 typ host/);
  const none = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=end-of-candidates\r\n';
  assert.doesNotMatch(offerForIce(none), /end-of-candidates/);
  const usable = mdns.replace('a=end-of-candidates\r\nm=video', 'a=candidate:1 1 UDP 2122252543 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\nm=video');
  assert.equal(offerForIce(usable), usable);
});

test('offers are checked for their role: a WHIP publisher needs audio only, a WHEP viewer needs video it can take', () => {
  const SENDONLY_AUDIO = AUDIO.replace('a=sendrecv', 'a=sendonly');
  const SENDONLY_VIDEO = H264.replace('a=recvonly', 'a=sendonly');
  const whip = inspectOffer(offer(`${SENDONLY_AUDIO}\r\n${SENDONLY_VIDEO}`), 65536, 2000, 'whip');
  assert.equal(whip.hasAudioOpus, true);
  assert.equal(whip.receivesAudioOpus, false, 'a sendonly publisher cannot hear the voice');
  assert.throws(() => inspectOffer(offer(SENDONLY_VIDEO), 65536, 2000, 'whip'), (e: unknown) => e instanceof UnsupportedError && /no audio/.test(e.message));

  const RECVONLY_AUDIO = AUDIO.replace('a=sendrecv', 'a=recvonly');
  const viewer = inspectOffer(offer(`${RECVONLY_AUDIO}\r\n${VP8}`), 65536, 2000, 'viewer');
  assert.equal(viewer.receivesAudioOpus, true);
  assert.equal(viewerCanReceive(viewer, 'vp8'), undefined);
  assert.match(viewerCanReceive(viewer, 'h264') ?? '', /H\.264/);
  assert.throws(() => inspectOffer(offer(RECVONLY_AUDIO), 65536, 2000, 'viewer'), (e: unknown) => e instanceof UnsupportedError && /no video/.test(e.message));
  assert.throws(() => inspectOffer(offer(`${RECVONLY_AUDIO}\r\n${VP8}`), 65536, 2000, 'caller'), (e: unknown) => e instanceof UnsupportedError && /no audio/.test(e.message));
});

test('with a Constrained Baseline encoder, any H.264 offer gets H.264, answered with the entry that names the stream best', () => {
  const baselineAndVp8 = inspectOffer(offer(`${AUDIO}\r\n${H264_BASELINE_ONLY}\r\na=rtpmap:96 VP8/90000`), 65536);
  assert.equal(chooseVideoCodec(baselineAndVp8, 'h264', 'constrained-baseline'), 'h264');
  assert.equal(answerProfileLevelId(baselineAndVp8, 'constrained-baseline'), '42e01f');
  const highAndBaseline = inspectOffer(offer(`${AUDIO}\r\n${H264}\r\na=rtpmap:96 VP8/90000`), 65536);
  assert.equal(answerProfileLevelId(highAndBaseline, 'high'), '64001f');
  assert.equal(chooseVideoCodec(highAndBaseline, 'vp8', 'constrained-baseline'), 'vp8', 'the configured preference still wins');
  // A High-profile encoder must not send to a baseline-only viewer; a Constrained Baseline one can.
  assert.match(viewerCanReceive(inspectOffer(offer(`${AUDIO}\r\n${H264_BASELINE_ONLY}`), 65536), 'h264', 'high') ?? '', /High-profile/);
  assert.equal(viewerCanReceive(inspectOffer(offer(`${AUDIO}\r\n${H264_BASELINE_ONLY}`), 65536), 'h264', 'constrained-baseline'), undefined);
});
