import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { RtcpPacketConverter, RtcpSenderInfo, RtcpSourceDescriptionPacket, RtcpSrPacket, RtpHeader, RtpPacket, SourceDescriptionChunk, SourceDescriptionItem, SrtcpSession, SrtpSession } from 'werift';
import { loadNativeFanout, type NativeFanoutModule } from '../../server/media/NativeFanout.ts';
import { FramePackets, RtpHistory, socketFd } from '../../server/media/RtpFanout.ts';

// Built at `npm ci` from native/*.c when libssl-dev is installed (.ci/run installs it).
const expected = existsSync('/usr/include/openssl/evp.h');

function native(): NativeFanoutModule {
  const loaded = loadNativeFanout();
  assert.ok('module' in loaded, `native fan-out not built: ${'reason' in loaded ? loaded.reason : ''}`);
  return loaded.module;
}

const bind = (s: Socket) => new Promise<number>((r) => s.bind(0, '127.0.0.1', () => r(s.address().port)));

function packet(seq: number, ts: number, marker: boolean, payload: Buffer): RtpPacket {
  return new RtpPacket(new RtpHeader({ payloadType: 100, sequenceNumber: seq, timestamp: ts, ssrc: 1, marker }), payload);
}

describe('native fan-out (SRTP on libcrypto + sendmmsg)', { skip: !expected && 'libssl-dev not installed' }, () => {
  let tx: Socket;
  let rx: Socket;
  let rxPort = 0;
  const received: Buffer[] = [];
  let waiters: (() => void)[] = [];
  const waitFor = async (n: number) => {
    while (received.length < n) await new Promise<void>((r) => waiters.push(r));
  };

  before(async () => {
    tx = createSocket('udp4');
    rx = createSocket('udp4');
    await bind(tx);
    rxPort = await bind(rx);
    rx.on('message', (m) => {
      received.push(m);
      for (const w of waiters.splice(0)) w();
    });
  });
  after(() => {
    tx.close();
    rx.close();
    waiters = [];
  });

  for (const [name, profile, saltLen] of [
    ['AES128_CM_HMAC_SHA1_80', 1, 14],
    ['AEAD_AES_128_GCM', 7, 12],
  ] as const) {
    test(`${name}: what werift decrypts is the packet with this viewer's SSRC, payload type and offsets`, async () => {
      const m = native();
      const key = randomBytes(16);
      const salt = randomBytes(saltLen);
      const t = m.createTransport(profile, Buffer.concat([key, salt]));
      const fd = socketFd(tx);
      assert.ok(fd !== undefined, 'the dgram socket exposes its fd');
      m.setTarget(t, fd, '127.0.0.1', rxPort);
      const payloads = [randomBytes(1200), randomBytes(1200), randomBytes(333)];
      const frame = new FramePackets([packet(65534, 4294967000, false, payloads[0]!), packet(65535, 4294967000, false, payloads[1]!), packet(0, 4294967000, true, payloads[2]!)]);
      const start = received.length;
      assert.equal(m.send(t, frame.wire, 0xdeadbeef, 102, 10, 1000), 3);
      // A NACK resends a sequence number already protected: allowed, and it decrypts to the same packet.
      assert.equal(m.send(t, [frame.wire[1]!], 0xdeadbeef, 102, 10, 1000), 1);
      await waitFor(start + 4);
      const srtp = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile });
      const got = received.slice(start, start + 4).map((b) => RtpPacket.deSerialize(srtp.decrypt(b)));
      assert.deepEqual(
        got.map((p) => [p.header.ssrc, p.header.payloadType, p.header.sequenceNumber, p.header.timestamp, p.header.marker]),
        [
          [0xdeadbeef, 102, 8, 704, false], // 65534 + 10 wraps to 8; the timestamp wraps too
          [0xdeadbeef, 102, 9, 704, false],
          [0xdeadbeef, 102, 10, 704, true],
          [0xdeadbeef, 102, 9, 704, false],
        ],
      );
      assert.deepEqual(got.map((p) => p.payload), [payloads[0], payloads[1], payloads[2], payloads[1]]);
      const [packets, bytes, sendErrors, protectErrors] = m.stats(t);
      assert.equal(packets, 4);
      assert.equal(bytes, received.slice(start, start + 4).reduce((a, b) => a + b.length, 0));
      assert.equal(sendErrors + protectErrors, 0);
      m.close(t);
      m.close(t); // idempotent
      assert.throws(() => m.send(t, frame.wire, 1, 102, 0, 0), /closed/);
    });
  }

  for (const gso of [true, false]) {
    test(`a keyframe of 71 packets (more than one batch${gso ? ', runs of equal sizes as UDP GSO' : ', one datagram each'}) arrives whole and in order`, async () => {
      const m = native();
      const key = randomBytes(16);
      const salt = randomBytes(12);
      const t = m.createTransport(7, Buffer.concat([key, salt]), gso);
      m.setTarget(t, socketFd(tx)!, '127.0.0.1', rxPort);
      const sizes = [40, 12, ...Array.from({ length: 68 }, () => 1180), 400]; // SPS/PPS-like small ones first
      const frame = new FramePackets(sizes.map((n, i) => packet(1000 + i, 90_000, i === sizes.length - 1, randomBytes(n))));
      const start = received.length;
      assert.equal(m.send(t, frame.wire, 7, 96, 0, 0), 71);
      await waitFor(start + 71);
      const srtp = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile: 7 });
      const got = received.slice(start, start + 71).map((b) => RtpPacket.deSerialize(srtp.decrypt(b)));
      assert.deepEqual(got.map((p) => p.header.sequenceNumber), sizes.map((_, i) => 1000 + i));
      assert.deepEqual(got.map((p) => p.payload), frame.rtp.map((p) => p.payload));
      assert.equal(m.stats(t)[4], gso ? 1 : 0, 'loopback takes GSO sends');
      m.close(t);
    });
  }

  for (const [name, profile, saltLen] of [
    ['AES128_CM_HMAC_SHA1_80', 1, 14],
    ['AEAD_AES_128_GCM', 7, 12],
  ] as const) {
    test(`${name}: across a sequence-number wrap the rollover counter moves on, and a late retransmission keeps its own`, async () => {
      const m = native();
      const key = randomBytes(16);
      const salt = randomBytes(saltLen);
      const t = m.createTransport(profile, Buffer.concat([key, salt]));
      m.setTarget(t, socketFd(tx)!, '127.0.0.1', rxPort);
      const seqs = [65533, 65534, 65535, 0, 1, 2];
      const payloads = seqs.map(() => randomBytes(200));
      const frame = new FramePackets(seqs.map((q, i) => packet(q, 1000, false, payloads[i]!)));
      const start = received.length;
      assert.equal(m.send(t, frame.wire, 42, 96, 0, 0), 6);
      assert.equal(m.send(t, [frame.wire[1]!], 42, 96, 0, 0), 1); // 65534 again, after the wrap: ROC 0, not 1
      await waitFor(start + 7);
      // werift's receiver tracks the rollover counter itself, as a browser does.
      const srtp = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile });
      const got = received.slice(start, start + 7).map((b) => RtpPacket.deSerialize(srtp.decrypt(b)));
      assert.deepEqual(got.map((p) => p.header.sequenceNumber), [...seqs, 65534]);
      assert.deepEqual(got.map((p) => p.payload), [...payloads, payloads[1]]);
      m.close(t);
    });
  }

  for (const [name, profile, saltLen] of [
    ['AES128_CM_HMAC_SHA1_80', 1, 14],
    ['AEAD_AES_128_GCM', 7, 12],
  ] as const) {
    test(`${name}: sender reports go out as SRTCP that werift decrypts, each with the next index`, async () => {
      const m = native();
      const key = randomBytes(16);
      const salt = randomBytes(saltLen);
      const t = m.createTransport(profile, Buffer.concat([key, salt]));
      m.setTarget(t, socketFd(tx)!, '127.0.0.1', rxPort);
      const compound = (packets: number) =>
        Buffer.concat([
          new RtcpSrPacket({ ssrc: 0xabcdef01, senderInfo: new RtcpSenderInfo({ ntpTimestamp: 0x0123456789abcdefn, rtpTimestamp: 90_000, packetCount: packets, octetCount: packets * 1000 }) }).serialize(),
          new RtcpSourceDescriptionPacket({ chunks: [new SourceDescriptionChunk({ source: 0xabcdef01, items: [new SourceDescriptionItem({ type: 1, text: 'avatar' })] })] }).serialize(),
        ]);
      const start = received.length;
      assert.equal(m.sendRtcp(t, compound(10)), 1);
      assert.equal(m.sendRtcp(t, compound(20)), 1);
      await waitFor(start + 2);
      const srtcp = new SrtcpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile });
      const got = received.slice(start, start + 2).map((b) => RtcpPacketConverter.deSerialize(srtcp.decrypt(b)));
      for (const [i, packets] of got.entries()) {
        const sr = packets[0] as RtcpSrPacket;
        assert.equal(sr.ssrc, 0xabcdef01);
        assert.equal(sr.senderInfo.ntpTimestamp, 0x0123456789abcdefn);
        assert.equal(sr.senderInfo.packetCount, (i + 1) * 10);
        assert.equal((packets[1] as RtcpSourceDescriptionPacket).chunks[0]!.items[0]!.text, 'avatar');
      }
      assert.equal(received[start]!.readUInt32BE(received[start]!.length - (profile === 1 ? 14 : 4)) & 0x7fffffff, 0, 'the first SRTCP index is 0');
      m.close(t);
    });
  }

  test('bad input is refused with a reason', () => {
    const m = native();
    assert.throws(() => m.createTransport(1, randomBytes(16)), /wrong length/);
    assert.throws(() => m.createTransport(2, randomBytes(30)), /unsupported SRTP protection profile/);
    const t = m.createTransport(1, randomBytes(30));
    assert.throws(() => m.send(t, [randomBytes(100)], 1, 96, 0, 0), /setTarget/);
    assert.throws(() => m.setTarget(t, socketFd(tx)!, 'not-an-address', 5000), /IPv4 or IPv6/);
    m.setTarget(t, socketFd(tx)!, '::1', 5000); // IPv6 is an address too (this IPv4 socket just cannot reach it)
    m.setTarget(t, socketFd(tx)!, '127.0.0.1', rxPort);
    assert.throws(() => m.send(t, [randomBytes(8)], 1, 96, 0, 0), /not RTP/);
    assert.throws(() => m.send(t, ['x' as unknown as Buffer], 1, 96, 0, 0), /Buffers/);
    m.close(t);
  });
});

test('the history keeps the last packets by sequence number and forgets older ones at the same slot', () => {
  const h = new RtpHistory();
  const frame = new FramePackets([packet(7, 0, false, Buffer.from([1])), packet(8, 0, true, Buffer.from([2]))], h);
  assert.equal(h.get(7), undefined, 'nothing until the frame is serialized');
  const wire = frame.wire;
  assert.equal(h.get(7), wire[0]);
  assert.equal(h.get(8), wire[1]);
  new FramePackets([packet(7 + 512, 0, false, Buffer.from([3]))], h).wire;
  assert.equal(h.get(7), undefined);
  assert.equal(frame.payloadBytes, 2);
});
