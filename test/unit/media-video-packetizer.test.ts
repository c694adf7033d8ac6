import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dePacketizeRtpPackets, RtpPacket, splitH264NalUnits } from 'werift';
import { VideoPacketizer, rtpTimestampFromUs } from '../../server/media/VideoPacketizer.ts';
import { LibavVideoEncoder } from '../../server/media/LibavVideoEncoder.ts';

const MTU = 1200;

/** Deterministic bytes with no accidental 00 00 01 start codes (every byte non-zero). */
function body(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = 1 + ((i * 31 + seed * 7) % 255);
  return b;
}

function annexB(...nals: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(nals.reduce((n, x) => n + 4 + x.length, 0));
  let at = 0;
  for (const nal of nals) {
    out.set([0, 0, 0, 1], at);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}

function nal(type: number, length: number, seed = 1): Uint8Array {
  const n = body(length, seed);
  n[0] = 0x60 | type;
  return n;
}

function checkPackets(packets: RtpPacket[], firstSeq: number, timestamp: number): void {
  assert.ok(packets.length > 0);
  packets.forEach((p, i) => {
    assert.equal(p.header.sequenceNumber, (firstSeq + i) & 0xffff, `seq of packet ${i}`);
    assert.equal(p.header.marker, i === packets.length - 1, `marker of packet ${i}`);
    assert.equal(p.header.timestamp, timestamp);
    assert.equal(p.header.payloadType, 102);
    assert.equal(p.header.ssrc, 0x11223344);
    assert.ok(p.payload.length <= MTU, `payload ${p.payload.length}`);
    // Survives a serialize/parse round trip as werift sends it.
    assert.deepEqual(RtpPacket.deSerialize(p.serialize()).payload, p.payload);
  });
}

for (const size of [100, MTU - 1, MTU, MTU + 1, 50_000]) {
  test(`H.264: a ${size} B slice packetizes within the MTU and depacketizes to the same NAL units`, () => {
    const pk = new VideoPacketizer({ codec: 'h264', payloadType: 102, ssrc: 0x11223344, initialSequenceNumber: 65530 });
    const au = annexB(nal(1, size, size));
    const packets = pk.packetize({ data: au, keyframe: false }, 3000);
    checkPackets(packets, 65530, 3000);
    assert.equal(packets.length, size <= MTU ? 1 : Math.ceil((size - 1) / (MTU - 2)));
    assert.deepEqual(new Uint8Array(dePacketizeRtpPackets('MPEG4/ISO/AVC', packets).data), au);
    assert.equal(pk.nextSequenceNumber, (65530 + packets.length) & 0xffff);
  });
}

test('H.264: a keyframe sends SPS+PPS in one STAP-A, then the IDR; a later keyframe without them gets them back', () => {
  const pk = new VideoPacketizer({ codec: 'h264', payloadType: 102, ssrc: 0x11223344, initialSequenceNumber: 1 });
  const sps = nal(7, 12, 3);
  const pps = nal(8, 4, 4);
  const idr = nal(5, 3000, 5);
  const key = pk.packetize({ data: annexB(sps, pps, idr), keyframe: true }, 0);
  checkPackets(key, 1, 0);
  assert.equal(key[0]!.payload[0]! & 0x1f, 24);
  const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', key);
  assert.equal(out.isKeyframe, true);
  assert.deepEqual(new Uint8Array(out.data), annexB(sps, pps, idr));
  const idrOnly = pk.packetize({ data: annexB(nal(5, 500, 6)), keyframe: true }, 3600);
  checkPackets(idrOnly, 1 + key.length, 3600);
  assert.deepEqual(new Uint8Array(dePacketizeRtpPackets('MPEG4/ISO/AVC', idrOnly).data), annexB(sps, pps, nal(5, 500, 6)));
  const s = pk.toJSON();
  assert.deepEqual([s.frames, s.packets], [2, key.length + idrOnly.length]);
});

for (const size of [100, MTU - 4, MTU, 50_000]) {
  test(`VP8: a ${size} B frame packetizes within the MTU and depacketizes to the same frame`, () => {
    const pk = new VideoPacketizer({ codec: 'vp8', payloadType: 102, ssrc: 0x11223344, initialSequenceNumber: 65535 });
    const frame = body(size, size);
    frame[0] = 0x10; // key frame tag (P bit clear)
    const packets = pk.packetize({ data: frame, keyframe: true }, 90000);
    checkPackets(packets, 65535, 90000);
    assert.equal(packets.length, Math.ceil(size / (MTU - 4)));
    const out = dePacketizeRtpPackets('VP8', packets);
    assert.deepEqual(new Uint8Array(out.data), frame);
    assert.equal(out.isKeyframe, true);
  });
}

test('consecutive frames continue the sequence numbers across the 16-bit wrap', () => {
  const pk = new VideoPacketizer({ codec: 'vp8', payloadType: 102, ssrc: 0x11223344, initialSequenceNumber: 65533 });
  const a = pk.packetize({ data: body(3000, 1), keyframe: false }, 0);
  const b = pk.packetize({ data: body(3000, 2), keyframe: false }, 3600);
  assert.deepEqual([...a, ...b].map((p) => p.header.sequenceNumber), [65533, 65534, 65535, 0, 1, 2]);
});

test('rtpTimestampFromUs converts µs to the 90 kHz clock and wraps at 2^32', () => {
  assert.equal(rtpTimestampFromUs(40000), 3600);
  assert.equal(rtpTimestampFromUs(1_000_000, 100), 90100);
  assert.equal(rtpTimestampFromUs(40000, 0xffffffff), 3599);
});

test('bad options throw TypeErrors naming the field', () => {
  assert.throws(() => new VideoPacketizer({ codec: 'h264', payloadType: 200, ssrc: 1 }), /payloadType/);
  assert.throws(() => new VideoPacketizer({ codec: 'h264', payloadType: 96, ssrc: 1, maxPayloadBytes: 10 }), /maxPayloadBytes/);
});

test('real encoder output (H.264 key and delta, 256x256) round-trips through packetize and depacketize', async () => {
  const enc = new LibavVideoEncoder({ codec: 'h264', width: 256, height: 256, fps: 25, bitrateKbps: 2000, keyframeIntervalFrames: 50 });
  const pk = new VideoPacketizer({ codec: 'h264', payloadType: 102, ssrc: 0x11223344, initialSequenceNumber: 100 });
  let seq = 100;
  for (let k = 0; k < 3; k++) {
    const rgba = new Uint8Array(256 * 256 * 4);
    for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 13 + k * 5) & 255;
    const frame = await enc.encode(rgba, k * 40000);
    const ts = rtpTimestampFromUs(frame.timestampUs);
    const packets = pk.packetize(frame, ts);
    checkPackets(packets, seq, ts);
    seq += packets.length;
    const out = dePacketizeRtpPackets('MPEG4/ISO/AVC', packets);
    // x264 mixes 3- and 4-byte start codes; the depacketizer writes 4-byte ones, so compare NAL units.
    const nals = (b: Uint8Array) => splitH264NalUnits(Buffer.from(b), 4, 'annexb').map((n) => Buffer.from(n).toString('hex'));
    assert.deepEqual(nals(out.data), nals(frame.data));
    assert.ok(nals(frame.data).length >= (frame.keyframe ? 3 : 1));
    assert.equal(out.isKeyframe, frame.keyframe);
  }
  enc.close();
});
