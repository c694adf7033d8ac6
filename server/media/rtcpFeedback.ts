import { RtcpPayloadSpecificFeedback } from 'werift';
import type { RtcpPacket } from 'werift';
import { logger } from '../logger.ts';

/** Minimal view of a werift RTCRtpTransceiver: anything whose DTLS transport emits decoded RTCP. */
export interface RtcpSource {
  /** werift's transport; its onRtcp sees every RTCP packet of the bundle. */
  readonly dtlsTransport: {
    readonly onRtcp: { subscribe(cb: (packet: RtcpPacket) => void): { unSubscribe: () => void } };
  };
}

/** What asked for a keyframe. */
export type KeyframeRequestKind = 'pli' | 'fir';

/** PSFB feedback message types (RFC 4585 §6.3, RFC 5104 §4.3.1). */
const FMT_PLI = 1;
const FMT_FIR = 4;

/**
 * Calls `cb` when the peer sends a PLI or FIR for `mediaSsrc`; returns an unsubscribe function.
 *
 * Listens on the transceiver's DTLS transport rather than sender.onPictureLossIndication because
 * werift can route a PLI to the receiver, so the sender's event may never fire. A throwing `cb` is
 * caught and logged here, since werift swallows errors in RTCP handlers silently.
 */
export function onKeyframeRequest(
  transceiver: RtcpSource,
  mediaSsrc: number,
  cb: (kind: KeyframeRequestKind) => void,
): () => void {
  const ssrc = mediaSsrc >>> 0;
  const { unSubscribe } = transceiver.dtlsTransport.onRtcp.subscribe((packet) => {
    const request = keyframeRequestKind(packet, ssrc);
    if (!request) return;
    try {
      cb(request);
    } catch (err) {
      logger.error({ err, mediaSsrc: ssrc, kind: request }, 'keyframe request handler failed');
    }
  });
  return unSubscribe;
}

/** 'pli' / 'fir' when `packet` asks `mediaSsrc` for a keyframe, else undefined. */
export function keyframeRequestKind(packet: RtcpPacket, mediaSsrc: number): KeyframeRequestKind | undefined {
  if (!(packet instanceof RtcpPayloadSpecificFeedback) || !packet.feedback) return undefined;
  const feedback = packet.feedback;
  // The feedback classes are told apart by their FMT (`count`); FullIntraRequest is not exported by werift.
  if (feedback.count === FMT_PLI && 'mediaSsrc' in feedback && feedback.mediaSsrc >>> 0 === mediaSsrc) return 'pli';
  // FIR names its targets in the FCI entries; the header's media SSRC should be 0 (RFC 5104 §4.3.1.2) but some senders fill it.
  if (feedback.count === FMT_FIR && 'fir' in feedback) {
    if (feedback.mediaSsrc >>> 0 === mediaSsrc || feedback.fir.some((entry) => entry.ssrc >>> 0 === mediaSsrc)) return 'fir';
  }
  return undefined;
}
