import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtcpPacketConverter, RtcpPayloadSpecificFeedback, PictureLossIndication, RtcpRrPacket } from 'werift';
import type { RtcpPacket, RTCRtpTransceiver } from 'werift';
import { Event } from 'werift/nonstandard';
import { logger } from '../../server/logger.ts';
import { onKeyframeRequest, keyframeRequestKind, type KeyframeRequestKind, type RtcpSource } from '../../server/media/rtcpFeedback.ts';

const VIDEO_SSRC = 0xdeadbeef;

/** FIR for `ssrc` (RFC 5104 §4.3.1): header media SSRC 0, one FCI entry. Built as bytes since werift does not export FullIntraRequest. */
function firBytes(ssrc: number): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x80 | 4; b[1] = 206; b.writeUInt16BE(4, 2);
  b.writeUInt32BE(1, 4); b.writeUInt32BE(0, 8);
  b.writeUInt32BE(ssrc, 12); b[16] = 7;
  return b;
}

function pli(mediaSsrc: number): RtcpPacket {
  return new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc }) });
}

function fakeTransceiver(): { source: RtcpSource; rtcp: Event<[RtcpPacket]> } {
  const rtcp = new Event<[RtcpPacket]>();
  return { source: { dtlsTransport: { onRtcp: rtcp } }, rtcp };
}

test('PLI and FIR for the video SSRC call back with their kind; other SSRCs and packet types do not', () => {
  const { source, rtcp } = fakeTransceiver();
  const got: KeyframeRequestKind[] = [];
  onKeyframeRequest(source, VIDEO_SSRC, (kind) => got.push(kind));
  rtcp.execute(pli(VIDEO_SSRC));
  rtcp.execute(pli(1234));
  for (const p of RtcpPacketConverter.deSerialize(firBytes(VIDEO_SSRC))) rtcp.execute(p);
  for (const p of RtcpPacketConverter.deSerialize(firBytes(1234))) rtcp.execute(p);
  rtcp.execute(new RtcpRrPacket({ ssrc: VIDEO_SSRC }));
  assert.deepEqual(got, ['pli', 'fir']);
});

test('a PLI parsed from the wire is recognised', () => {
  const [parsed] = RtcpPacketConverter.deSerialize(pli(VIDEO_SSRC).serialize());
  assert.equal(keyframeRequestKind(parsed!, VIDEO_SSRC), 'pli');
  assert.equal(keyframeRequestKind(parsed!, VIDEO_SSRC + 1), undefined);
});

test('a throwing callback is caught, and later requests still arrive', (t) => {
  const { source, rtcp } = fakeTransceiver();
  let calls = 0;
  const level = logger.level;
  logger.level = 'silent';
  t.after(() => { logger.level = level; });
  onKeyframeRequest(source, VIDEO_SSRC, () => {
    calls++;
    throw new Error('boom');
  });
  assert.doesNotThrow(() => rtcp.execute(pli(VIDEO_SSRC)));
  rtcp.execute(pli(VIDEO_SSRC));
  assert.equal(calls, 2);
});

test('the returned function unsubscribes', () => {
  const { source, rtcp } = fakeTransceiver();
  let calls = 0;
  const off = onKeyframeRequest(source, VIDEO_SSRC, () => calls++);
  rtcp.execute(pli(VIDEO_SSRC));
  off();
  rtcp.execute(pli(VIDEO_SSRC));
  assert.equal(calls, 1);
  assert.equal(rtcp.length, 0);
});

// Compile-time check: a real werift transceiver fits the parameter type.
export const acceptsWeriftTransceiver = (t: RTCRtpTransceiver): (() => void) => onKeyframeRequest(t, 1, () => {});
