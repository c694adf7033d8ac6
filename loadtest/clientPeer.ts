/**
 * The werift peer setup every Node client of the server shares: offered codecs, loopback-only ICE without
 * STUN, waiting for gathering (the server takes offers with every candidate in them) and for the connection.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, useH264, useOPUS, useVP8 } from 'werift';
import { PeerTransports } from '../server/media/PeerTransports.ts';
import { disableDefaultStun } from '../server/media/noDefaultStun.ts';

/** 'baseline': only Constrained Baseline H.264 and no VP8, as Firefox with OpenH264, Safari's defaults and many SDKs. */
export type VideoCodecChoice = 'h264' | 'vp8' | 'both' | 'baseline';

export const VIDEO_CODEC_CHOICES: readonly VideoCodecChoice[] = ['h264', 'vp8', 'both', 'baseline'];

/** H.264 High profile, level 3.1, packetization-mode 1. */
function h264High(): RTCRtpCodecParameters {
  const base = useH264();
  return new RTCRtpCodecParameters({
    mimeType: base.mimeType,
    clockRate: base.clockRate,
    rtcpFeedback: base.rtcpFeedback,
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f',
  });
}

/** Video codecs to offer; High profile before baseline, as Chrome does. */
export function offeredVideoCodecs(choice: VideoCodecChoice): RTCRtpCodecParameters[] {
  const h264 = [h264High(), useH264()];
  switch (choice) {
    case 'h264':
      return h264;
    case 'vp8':
      return [useVP8()];
    case 'both':
      return [...h264, useVP8()];
    case 'baseline':
      return [useH264()];
  }
}

/** A client peer (Opus audio, the chosen video codecs) and the tracker that closes all its sockets. */
export function createClientPeer(video: VideoCodecChoice, inboundLossPercent = 0): { pc: RTCPeerConnection; transports: PeerTransports } {
  const pc = new RTCPeerConnection({
    // werift drops an inbound media packet when inboundPacketLoss / 100 < Math.random(): the share it keeps, in %.
    ...(inboundLossPercent > 0 ? { debug: { inboundPacketLoss: 100 - inboundLossPercent } } : {}),
    iceServers: [],
    // Seconds. No STUN server is configured, but keep gathering short regardless.
    iceStunGatherTimeout: 0.1,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    codecs: { audio: [useOPUS()], video: offeredVideoCodecs(video) },
  });
  return { pc, transports: new PeerTransports(pc) };
}

/** Creates the offer, applies it and waits for ICE gathering; returns the offer with its candidates. */
export async function createCompleteOffer(pc: RTCPeerConnection, transports: PeerTransports, gatherTimeoutMs: number): Promise<string> {
  disableDefaultStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  transports.snapshot();
  await waitForGathering(pc, gatherTimeoutMs);
  return pc.localDescription!.sdp;
}

export function waitForGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`ICE gathering not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    const { unSubscribe: unsubscribe } = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  });
}

/** Resolves when ICE and DTLS are connected; rejects on failure or after `timeoutMs`. */
export async function waitForPeerConnected(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`peer not connected within ${timeoutMs} ms [state:${pc.connectionState}]`));
    }, timeoutMs);
    const { unSubscribe: unsubscribe } = pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected' || s === 'failed' || s === 'closed') {
        clearTimeout(timer);
        unsubscribe();
        if (s === 'connected') resolve();
        else reject(new Error(`peer ${s} before connecting`));
      }
    });
  });
}
