/**
 * A headless WHEP viewer (werift) of an avatar session: what a browser's <video> gets, in Node.
 *
 *   const viewer = new WhepViewer({ baseUrl: 'http://127.0.0.1:8080', sessionId });
 *   await viewer.connect();          // recvonly offer -> POST /v1/sessions/{id}/whep -> answer
 *   await viewer.waitForFrames(25);
 *   viewer.videoClock.toNtpMs(frame.rtpTimestamp), viewer.audioClock.toNtpMs(packet.rtpTimestamp)
 *   await viewer.close();            // DELETE the Location, close the peer
 *
 * It keeps each complete video frame (RTP timestamp, arrival, Annex B / VP8 data), each audio packet decoded
 * to 48 kHz PCM, and both tracks' RTCP sender reports, which place their RTP timestamps on the sender's NTP
 * clock as a browser does for lip sync.
 */
import { performance } from 'node:perf_hooks';
import { RtcpSrPacket, type RTCPeerConnection, type RTCRtpTransceiver, type RtcpPacket, type RtpPacket } from 'werift';
import { OPUS_RATE, OpusDecoder } from '../server/media/OpusCodec.ts';
import type { PeerTransports } from '../server/media/PeerTransports.ts';
import { createClientPeer, createCompleteOffer, VIDEO_CODEC_CHOICES, waitForPeerConnected, type VideoCodecChoice } from './clientPeer.ts';
import { ntpToUnixMs, RtpNtpClock } from './rtpNtpClock.ts';
import { VideoFrameAssembler, type EncodedVideoFrame } from './rtpVideoFrames.ts';
import { deleteResource, postForCreated } from './serverRequests.ts';

/** Unix wall clock in ms with sub-ms resolution (the clock sender reports are compared with). */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

/** One received audio packet, decoded. */
export interface DecodedAudioPacket {
  rtpTimestamp: number;
  sequenceNumber: number;
  /** performance.now() at arrival. */
  arrivalMs: number;
  /** Mono PCM at 48 kHz. */
  pcm: Int16Array;
}

export interface WhepViewerOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  sessionId: string;
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string;
  /** Video codecs to offer (default 'both': H.264 first, then VP8). */
  codec?: VideoCodecChoice;
  /** Keep frames in `frames` and packets in `audio` (default true; long runs use the callbacks and takeAudio()). */
  keep?: boolean;
  onFrame?: (frame: EncodedVideoFrame) => void;
  onAudio?: (packet: DecodedAudioPacket) => void;
  /** Every video RTP packet as it arrives (retransmissions included). */
  onVideoRtp?: (rtp: RtpPacket) => void;
  /** Drop this share of inbound media packets (%), to exercise NACK retransmission. */
  inboundLossPercent?: number;
  /** Deadline for each HTTP request (ms, default 10000). */
  requestTimeoutMs?: number;
  /** Deadline for ICE gathering (ms, default 5000). */
  gatherTimeoutMs?: number;
}

export interface WhepViewerStats {
  state: 'new' | 'connecting' | 'connected' | 'closed' | 'failed';
  videoCodec: string | null;
  frames: number;
  keyframes: number;
  incompleteFrames: number;
  videoPacketsMissing: number;
  audioPackets: number;
  audioPacketsMissing: number;
  videoSenderReports: number;
  audioSenderReports: number;
  /** connect() -> ICE/DTLS connected, and -> first complete frame (ms). */
  connectedMs: number | null;
  firstFrameMs: number | null;
  /** Whether the first complete frame was a keyframe (null before one). */
  firstFrameKeyframe: boolean | null;
}

export class WhepViewer {
  /** Complete video frames in arrival order (with `keep`). */
  readonly frames: EncodedVideoFrame[] = [];
  /** Decoded audio packets in arrival order (with `keep`). */
  audio: DecodedAudioPacket[] = [];
  /** RTP (90 kHz) -> sender NTP for the video track. */
  readonly videoClock = new RtpNtpClock(90_000);
  /** RTP (48 kHz) -> sender NTP for the audio track. */
  readonly audioClock = new RtpNtpClock(OPUS_RATE);

  private readonly options: WhepViewerOptions & Required<Pick<WhepViewerOptions, 'codec' | 'keep' | 'requestTimeoutMs' | 'gatherTimeoutMs'>>;
  private readonly baseUrl: string;
  private pc: RTCPeerConnection | null = null;
  private transports: PeerTransports | null = null;
  private videoTransceiver: RTCRtpTransceiver | null = null;
  private resourceUrl: string | null = null;
  private state: WhepViewerStats['state'] = 'new';
  private readonly payloadTypes = new Map<number, string>();
  private videoMime: string | null = null;
  private readonly assembler = new VideoFrameAssembler((pt) => this.payloadTypes.get(pt) ?? this.videoMime ?? 'video/H264');
  private readonly opus = new OpusDecoder();
  private lastAudioSeq: number | null = null;
  private lastAudioTimestamp: number | null = null;
  private connectStartMs = 0;
  private connectedAtMs: number | null = null;
  private firstFrame: EncodedVideoFrame | null = null;
  private readonly counts = { frames: 0, keyframes: 0, audioPackets: 0, audioPacketsMissing: 0 };
  private frameWaiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(options: WhepViewerOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) throw new TypeError(`invalid baseUrl [baseUrl:${String(options.baseUrl)}]`);
    if (!options.sessionId) throw new TypeError('sessionId is required');
    const codec = options.codec ?? 'both';
    if (!VIDEO_CODEC_CHOICES.includes(codec)) throw new TypeError(`invalid codec [codec:${codec}, allowed:${VIDEO_CODEC_CHOICES.join('|')}]`);
    this.options = { keep: true, requestTimeoutMs: 10_000, gatherTimeoutMs: 5_000, ...options, codec };
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** The viewer's resource (Location of the WHEP answer), once connected. */
  get url(): string | null {
    return this.resourceUrl;
  }

  /** RTP timestamp of the newest audio packet received; null before any. */
  get lastAudioRtp(): number | null {
    return this.lastAudioTimestamp;
  }

  /** Negotiated video codec, e.g. 'video/H264'. */
  get videoCodec(): string | null {
    return this.videoMime;
  }

  /** Offer -> WHEP POST -> answer. Throws AvatarServerError on a non-201 answer (e.g. 422 codec, 503 viewer limit). */
  async connect(): Promise<void> {
    if (this.state !== 'new') throw new Error(`connect() called twice [state:${this.state}]`);
    this.state = 'connecting';
    this.connectStartMs = performance.now();
    try {
      const { pc, transports } = createClientPeer(this.options.codec, this.options.inboundLossPercent);
      this.pc = pc;
      this.transports = transports;
      pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected' && this.state === 'connecting') {
          this.state = 'connected';
          this.connectedAtMs = performance.now();
        }
        if (s === 'failed' && this.state !== 'closed') this.state = 'failed';
      });

      this.videoTransceiver = pc.addTransceiver('video', { direction: 'recvonly' });
      this.videoTransceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.onVideoRtp(rtp)));
      this.videoTransceiver.receiver.onRtcp.subscribe((rtcp) => this.onRtcp(rtcp, this.videoClock));
      const audio = pc.addTransceiver('audio', { direction: 'recvonly' });
      audio.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.onAudioRtp(rtp)));
      audio.receiver.onRtcp.subscribe((rtcp) => this.onRtcp(rtcp, this.audioClock));

      const offer = await createCompleteOffer(pc, transports, this.options.gatherTimeoutMs);
      const { body, location } = await postForCreated(
        `${this.baseUrl}/v1/sessions/${encodeURIComponent(this.options.sessionId)}/whep`,
        'application/sdp',
        offer,
        { token: this.options.token, timeoutMs: this.options.requestTimeoutMs },
      );
      this.resourceUrl = location;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      transports.snapshot();
      for (const codec of this.videoTransceiver.codecs) this.payloadTypes.set(codec.payloadType, codec.mimeType);
      this.videoMime = this.videoTransceiver.codecs[0]?.mimeType ?? null;
    } catch (error) {
      const closedDuringConnect = (this.state as WhepViewerStats['state']) === 'closed';
      await this.teardown(closedDuringConnect ? 'closed' : 'failed');
      if (closedDuringConnect) throw new Error('WhepViewer closed during connect()');
      throw error;
    }
  }

  async waitForConnected(timeoutMs = 10_000): Promise<void> {
    if (!this.pc) throw new Error(`not connecting [state:${this.state}]`);
    await waitForPeerConnected(this.pc, timeoutMs);
  }

  /** Resolves once `count` complete video frames have arrived in total; rejects after `timeoutMs`. */
  waitForFrames(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.counts.frames >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.frameWaiters = this.frameWaiters.filter((w) => w !== waiter);
        reject(new Error(`fewer than ${count} frames within ${timeoutMs} ms [frames:${this.counts.frames}]`));
      }, timeoutMs);
      this.frameWaiters.push(waiter);
    });
  }

  /** Hands over the kept audio packets and starts a new list (long runs analyse the stream piece by piece). */
  takeAudio(): DecodedAudioPacket[] {
    const out = this.audio;
    this.audio = [];
    return out;
  }

  /** Asks the server for a keyframe (RTCP PLI); false before any video arrived. */
  requestKeyframe(): boolean {
    const ssrc = this.assembler.ssrc;
    if (ssrc === null || !this.videoTransceiver) return false;
    this.videoTransceiver.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
    return true;
  }

  getStats(): WhepViewerStats {
    const v = this.assembler.counters;
    return {
      state: this.state,
      videoCodec: this.videoMime,
      frames: this.counts.frames,
      keyframes: this.counts.keyframes,
      incompleteFrames: v.incompleteFrames,
      videoPacketsMissing: v.packetsMissing,
      audioPackets: this.counts.audioPackets,
      audioPacketsMissing: this.counts.audioPacketsMissing,
      videoSenderReports: this.videoClock.reportCount,
      audioSenderReports: this.audioClock.reportCount,
      connectedMs: this.connectedAtMs === null ? null : this.connectedAtMs - this.connectStartMs,
      firstFrameMs: this.firstFrame === null ? null : this.firstFrame.arrivalMs - this.connectStartMs,
      firstFrameKeyframe: this.firstFrame === null ? null : this.firstFrame.keyframe,
    };
  }

  /** DELETE the viewer resource (best effort), then close the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const url = this.resourceUrl;
    await this.teardown('closed');
    if (url) await deleteResource(url, { token: this.options.token, timeoutMs: this.options.requestTimeoutMs });
  }

  private onVideoRtp(rtp: RtpPacket): void {
    this.options.onVideoRtp?.(rtp);
    const frame = this.assembler.push(rtp, performance.now());
    if (!frame) return;
    this.counts.frames++;
    if (frame.keyframe) this.counts.keyframes++;
    this.firstFrame ??= frame;
    if (this.options.keep) this.frames.push(frame);
    this.options.onFrame?.(frame);
    if (this.frameWaiters.length > 0) {
      const ready = this.frameWaiters.filter((w) => w.count <= this.counts.frames);
      this.frameWaiters = this.frameWaiters.filter((w) => w.count > this.counts.frames);
      for (const w of ready) w.resolve();
    }
  }

  private onAudioRtp(rtp: RtpPacket): void {
    const arrivalMs = performance.now();
    const seq = rtp.header.sequenceNumber;
    if (this.lastAudioSeq !== null) {
      const gap = (seq - this.lastAudioSeq - 1) & 0xffff;
      if (gap > 0 && gap < 0x8000) this.counts.audioPacketsMissing += gap;
    }
    if (this.lastAudioSeq === null || ((seq - this.lastAudioSeq) & 0xffff) < 0x8000) {
      this.lastAudioSeq = seq;
      this.lastAudioTimestamp = rtp.header.timestamp;
    }
    this.counts.audioPackets++;
    const packet: DecodedAudioPacket = { rtpTimestamp: rtp.header.timestamp, sequenceNumber: seq, arrivalMs, pcm: this.opus.decode(rtp.payload) };
    if (this.options.keep) this.audio.push(packet);
    this.options.onAudio?.(packet);
  }

  private onRtcp(rtcp: RtcpPacket, clock: RtpNtpClock): void {
    if (rtcp.type !== RtcpSrPacket.type) return;
    const sr = rtcp as RtcpSrPacket;
    clock.addReport({ ntpMs: ntpToUnixMs(sr.senderInfo.ntpTimestamp), rtpTimestamp: sr.senderInfo.rtpTimestamp, arrivalMs: wallClockMs() });
  }

  private async teardown(state: 'closed' | 'failed'): Promise<void> {
    this.state = state;
    this.assembler.reset();
    const pc = this.pc;
    this.pc = null;
    if (pc) await this.transports?.close().catch(() => undefined);
  }
}
