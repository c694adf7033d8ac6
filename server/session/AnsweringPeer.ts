import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCDataChannel,
  type RTCRtpSender,
  type RtpPacket,
} from 'werift';
import type { Config } from '../config.ts';
import { BadInputError, InvalidStateError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { guardMediaSources } from '../media/mediaSourceGuard.ts';
import { disableDefaultStun, hasStunServer } from '../media/noDefaultStun.ts';
import { PeerTransports } from '../media/PeerTransports.ts';
import { onKeyframeRequest } from '../media/rtcpFeedback.ts';
import { offerForIce, type OfferRole } from './sdpOffer.ts';

const OPUS = new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 });
const VIDEO_FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];
/** H.264 answer parameters for the offer's chosen profile-level-id (see sdpOffer.ts for why High comes first). */
const h264 = (profileLevelId: string) =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    rtcpFeedback: VIDEO_FEEDBACK,
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${profileLevelId}`,
  });
const VP8 = new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK });

/** How long a peer may take to connect before it is given up, ms. */
const CONNECT_TIMEOUT_MS = 30_000;
/** A peer 'disconnected' this long is given up, ms. */
const DISCONNECT_GRACE_MS = 5_000;

/** What a peer does with its media and how it reports back. */
export interface AnsweringPeerOptions {
  role: OfferRole;
  offerSdp: string;
  /** Video codec the session sends (callers and viewers). */
  codec: 'h264' | 'vp8';
  h264ProfileLevelId: string;
  /** Send the session's voice on the offer's audio m-line (the caller checked that the offer can receive it). */
  sendVoice: boolean;
  /** MediaStream id of the video and voice tracks: one stream, so browsers lip-sync them. */
  streamId: string;
  config: Config;
  log: Logger;
  onAudioRtp?: (rtp: RtpPacket) => void;
  onDataChannel?: (dc: RTCDataChannel) => void;
  onKeyframeRequest?: () => void;
  onConnected?: () => void;
  /** The peer failed, closed, stayed disconnected or never connected. */
  onEnded: (reason: string) => void;
}

/**
 * One werift peer that answers a client's offer, in one of three roles: the microphone caller (audio in, video
 * and optionally voice out, the `control` data channel), a WHIP publisher (audio in only) or a WHEP viewer
 * (video and voice out). Non-trickle: the answer carries every server candidate; the client's own checks
 * (peer-reflexive candidates) are accepted, so offers without candidates connect too.
 */
export class AnsweringPeer {
  videoSender: RTCRtpSender | undefined;
  voiceSender: RTCRtpSender | undefined;
  connected = false;
  private readonly pc: RTCPeerConnection;
  private readonly transports: PeerTransports;
  private sourceGuard: { dropped: () => number } | undefined;
  private disposers: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private disconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: AnsweringPeerOptions) {
    const { webrtc } = opts.config;
    this.pc = new RTCPeerConnection({
      codecs: { audio: [OPUS], video: [opts.codec === 'h264' ? h264(opts.h264ProfileLevelId) : VP8] },
      iceServers: webrtc.iceServers.map((s) => ({ ...s })),
      iceAdditionalHostAddresses: [...webrtc.additionalHostAddresses],
      iceStunGatherTimeout: webrtc.stunGatherTimeoutMs / 1000, // werift takes seconds
      ...(webrtc.icePortRange ? { icePortRange: [...webrtc.icePortRange] as [number, number] } : {}),
    });
    this.transports = new PeerTransports(this.pc);
  }

  /** Negotiate; resolves with the peer and its SDP answer (gathering complete). Closes itself on failure. */
  static async answer(opts: AnsweringPeerOptions): Promise<{ peer: AnsweringPeer; answerSdp: string }> {
    const peer = new AnsweringPeer(opts);
    try {
      return { peer, answerSdp: await peer.negotiate() };
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  private async negotiate(): Promise<string> {
    const { pc, opts } = this;
    this.disposers.push(
      pc.onTrack.subscribe((track) => {
        if (track.kind !== 'audio' || !opts.onAudioRtp) return;
        const onRtp = opts.onAudioRtp;
        const sub = track.onReceiveRtp.subscribe((rtp) => onRtp(rtp));
        this.disposers.push(() => sub.unSubscribe());
      }).unSubscribe,
      pc.onDataChannel.subscribe((dc) => {
        if (opts.onDataChannel) opts.onDataChannel(dc);
        else opts.log.debug({ label: dc.label }, 'ignoring data channel');
      }).unSubscribe,
      pc.connectionStateChange.subscribe((state) => this.onConnectionState(state)).unSubscribe,
    );

    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offerForIce(opts.offerSdp) });
    } catch (err) {
      // werift's parser throws plain errors (e.g. "m line not found") on offers our shape check let through.
      throw new BadInputError(`SDP offer could not be applied: ${(err as Error).message}`);
    } finally {
      this.transports.snapshot();
    }
    await this.setDirections();

    if (!hasStunServer(opts.config.webrtc.iceServers)) disableDefaultStun(pc);
    try {
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (err) {
      // werift's answer builder throws plain errors on offers it cannot answer (e.g. duplicate or missing mids).
      throw new BadInputError(`SDP offer could not be answered: ${(err as Error).message}`);
    }
    this.transports.snapshot();
    await this.waitForGathering();
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new InvalidStateError('no local description after negotiation');
    this.sourceGuard = guardMediaSources(pc);
    if (this.videoSender && opts.onKeyframeRequest) {
      const video = pc.getTransceivers().find((t) => t.sender === this.videoSender)!;
      this.disposers.push(onKeyframeRequest(video, video.sender.ssrc, opts.onKeyframeRequest));
    }
    this.timers.push(
      setTimeout(() => {
        if (!this.connected) this.end('connect timeout');
      }, CONNECT_TIMEOUT_MS),
    );
    return sdp;
  }

  /** Directions and tracks per role; the first audio and video m-lines are used, extra ones are turned off. */
  private async setDirections(): Promise<void> {
    const { role, sendVoice, streamId } = this.opts;
    const transceivers = this.pc.getTransceivers();
    const video = transceivers.find((t) => t.kind === 'video');
    const audio = transceivers.find((t) => t.kind === 'audio');
    for (const t of transceivers) if (t !== video && t !== audio) t.setDirection('inactive');

    if (role === 'whip') {
      video?.setDirection('inactive'); // a publisher's camera is not used
    } else {
      if (!video) throw new InvalidStateError('offer produced no video transceiver');
      video.setDirection('sendonly');
      video.sender.streamId = streamId;
      await video.sender.replaceTrack(new MediaStreamTrack({ kind: 'video' }));
      if (!video.sender.codec) throw new InvalidStateError('no video codec negotiated');
      this.videoSender = video.sender;
    }

    if (!audio) return;
    const voice = sendVoice && role !== 'whip';
    if (role === 'viewer') {
      audio.setDirection(voice ? 'sendonly' : 'inactive');
    } else {
      audio.setDirection(voice ? 'sendrecv' : 'recvonly');
    }
    if (voice) {
      audio.sender.streamId = streamId;
      await audio.sender.replaceTrack(new MediaStreamTrack({ kind: 'audio' }));
      this.voiceSender = audio.sender;
    }
  }

  private async waitForGathering(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const sub = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          sub.unSubscribe();
          resolve();
        }
      });
    });
  }

  private onConnectionState(state: string): void {
    this.opts.log.debug({ state, role: this.opts.role }, 'connection state');
    if (state === 'connected' && !this.connected) {
      this.connected = true;
      this.opts.onConnected?.();
    }
    if (state === 'failed' || state === 'closed') this.end(`peer ${state}`);
    // 'disconnected' is often transient (a network blip): give ICE a moment to recover before ending.
    if (state === 'disconnected' && !this.disconnectTimer) {
      this.disconnectTimer = setTimeout(() => this.end('peer disconnected'), DISCONNECT_GRACE_MS);
      this.timers.push(this.disconnectTimer);
    }
    if (state === 'connected' && this.disconnectTimer) {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = undefined;
    }
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.opts.onEnded(reason);
  }

  /** Datagrams from addresses that are not the peer's, dropped before DTLS/SRTP. */
  foreignDatagramsDropped(): number {
    return this.sourceGuard?.dropped() ?? 0;
  }

  /** Idempotent: stops timers, handlers, the peer and every transport it had. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    for (const d of this.disposers.splice(0)) {
      try {
        d();
      } catch {
        /* already disposed */
      }
    }
    await this.transports.close().catch((err: Error) => this.opts.log.debug({ err: err.message }, 'peer close failed'));
  }
}
