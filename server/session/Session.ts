import { randomUUID } from 'node:crypto';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCDataChannel,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import type { PipelineControl } from '../../engines/pipeline.ts';
import type { Config } from '../config.ts';
import { BadInputError, InvalidStateError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { TypedEmitter } from '../TypedEmitter.ts';
import { JitterBuffer, type JitterBufferOutput } from '../media/JitterBuffer.ts';
import { OpusDecoder } from '../media/OpusCodec.ts';
import { Resampler } from '../media/Resampler.ts';
import { VideoPacketizer } from '../media/VideoPacketizer.ts';
import { onKeyframeRequest } from '../media/rtcpFeedback.ts';
import { PeerTransports } from '../media/PeerTransports.ts';
import { guardMediaSources } from '../media/mediaSourceGuard.ts';
import { disableDefaultStun, hasStunServer } from '../media/noDefaultStun.ts';
import type { PipelineHandle, PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { FaultMode, WorkerFrame, WorkerReference } from '../media/pipelineProtocol.ts';
import { AudioArrivalLog } from './AudioArrivalLog.ts';
import { parseControlMessage, RateLimiter } from './controlMessages.ts';
import { chooseVideoCodec, inspectOffer, offerForIce, offersHighProfile } from './sdpOffer.ts';
import { LatencyStats } from './LatencyStats.ts';

/** Wall clock in ms with sub-ms resolution. */
const now = () => performance.timeOrigin + performance.now();

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

/** How long a session may take to connect before it is given up, ms. */
const CONNECT_TIMEOUT_MS = 30_000;
/** A peer 'disconnected' this long is given up, ms. */
const DISCONNECT_GRACE_MS = 5_000;
/** Interval of the idle check and of stats messages, ms. */
const TICK_MS = 20;
const STATS_EVERY_MS = 1000;
/** A longer gap is a stream restart, not loss: conceal at most this many packets of it. */
const MAX_CONCEALED_PACKETS = 5;

export interface SessionEvents extends Record<string, unknown[]> {
  /** Emitted once when the session ends, with the reason. */
  close: [reason: string];
  /** A frame went on the wire. */
  frame: [
    info: { index: number; audioTimeMs: number; latencyMs: number | undefined; keyframe: boolean; bytes: number; mouthOpen: number; renderMs: number; encodeMs: number },
  ];
}

/** Numbers a session reports about itself. */
export interface SessionStats {
  id: string;
  codec: 'h264' | 'vp8';
  state: string;
  framesSent: number;
  framesDropped: number;
  keyframesSent: number;
  bytesSent: number;
  audioPacketsReceived: number;
  audioPacketsLost: number;
  audioMs: number;
  latencyMs: { p50: number; p95: number; p99: number; count: number };
  firstFrameMs: number | undefined;
  firstAudioMediaMs: number | undefined;
  controlMessagesRefused: number;
  /** Non-STUN datagrams from addresses that are not the peer's, dropped before DTLS/SRTP. */
  foreignDatagramsDropped: number;
  renderMsAvg: number;
  encodeMsAvg: number;
}

export interface SessionOptions {
  offerSdp: string;
  reference: WorkerReference;
  config: Config;
  pool: PipelineWorkerPool;
  metrics: Metrics;
  log: Logger;
}

/**
 * One talking-avatar call: a werift answering peer, the audio receive chain (jitter buffer, Opus, resampler),
 * a pipeline in a worker thread, and the video send path. Owns its media clock: the received audio.
 */
export class Session extends TypedEmitter<SessionEvents> {
  readonly id = randomUUID();
  readonly codec: 'h264' | 'vp8';
  readonly createdAt = now();
  private readonly log: Logger;
  private readonly config: Config;
  private readonly metrics: Metrics;
  private readonly pc: RTCPeerConnection;
  private readonly transports: PeerTransports;
  private sourceGuard: { dropped: () => number } | undefined;
  private readonly jitter: JitterBuffer<Buffer>;
  private readonly opus = new OpusDecoder();
  private readonly resampler: Resampler;
  private packetizer: VideoPacketizer | undefined;
  private readonly arrivals = new AudioArrivalLog();
  private readonly latency = new LatencyStats(1024);
  private pipeline: PipelineHandle | undefined;
  private videoTransceiver: RTCRtpTransceiver | undefined;
  private control: RTCDataChannel | undefined;
  private closed = false;
  private connectedAt: number | undefined;
  private lastAudioAt = now();
  private readonly rtpTimestampBase = Math.floor(Math.random() * 2 ** 31);
  private timers: NodeJS.Timeout[] = [];
  private disconnectTimer: NodeJS.Timeout | undefined;
  private disposers: (() => void)[] = [];
  private lastStatsAt = 0;
  private readonly s = {
    framesSent: 0,
    framesDropped: 0,
    keyframesSent: 0,
    bytesSent: 0,
    audioPacketsReceived: 0,
    audioPacketsLost: 0,
    /** Samples at 16 kHz delivered to the pipeline: the session's media clock. */
    audioSamples: 0,
    firstFrameMs: undefined as number | undefined,
    /** Media clock position when the first real audio packet was delivered (idle fill may come before it), ms. */
    firstAudioMediaMs: undefined as number | undefined,
    controlMessagesRefused: 0,
    renderMsTotal: 0,
    encodeMsTotal: 0,
  };

  private constructor(
    private readonly opts: SessionOptions,
    codec: 'h264' | 'vp8',
    resampler: Resampler,
    h264ProfileLevelId: string,
  ) {
    super();
    this.resampler = resampler;
    this.config = opts.config;
    this.metrics = opts.metrics;
    this.codec = codec;
    this.log = opts.log.child({ sessionId: this.id });
    const { webrtc, audio } = this.config;
    this.jitter = new JitterBuffer<Buffer>({ maxDelayMs: audio.jitterBufferMs, maxPackets: 64 });
    this.pc = new RTCPeerConnection({
      codecs: { audio: [OPUS], video: [codec === 'h264' ? h264(h264ProfileLevelId) : VP8] },
      iceServers: webrtc.iceServers.map((s) => ({ ...s })),
      iceAdditionalHostAddresses: [...webrtc.additionalHostAddresses],
      iceStunGatherTimeout: webrtc.stunGatherTimeoutMs / 1000, // werift takes seconds
      ...(webrtc.icePortRange ? { icePortRange: [...webrtc.icePortRange] as [number, number] } : {}),
    });
    this.transports = new PeerTransports(this.pc);
  }

  /** Negotiate a session from a client's offer; resolves with the session and its SDP answer (gathering complete). */
  static async create(opts: SessionOptions): Promise<{ session: Session; answerSdp: string }> {
    const offer = inspectOffer(opts.offerSdp, opts.config.limits.sdpBytes, opts.config.limits.sdpLines);
    const resampler = await Resampler.create({ inputRate: 48000, outputRate: 16000, maxInputSamples: 5760 });
    const codec = chooseVideoCodec(offer, opts.config.video.codec);
    const session = new Session(opts, codec, resampler, offer.h264ProfileLevelId ?? '64001f');
    session.log.info({ codec, offeredH264: offer.h264ProfileLevelId ?? null, offeredVp8: offer.hasVp8 }, 'video codec chosen');
    if (codec === 'h264' && !offersHighProfile(offer)) {
      session.log.warn({ profileLevelId: offer.h264ProfileLevelId }, 'offer has only baseline H.264 and no VP8; sending High-profile H.264 anyway');
    }
    try {
      const answerSdp = await session.negotiate();
      return { session, answerSdp };
    } catch (err) {
      session.close('negotiation failed');
      throw err;
    }
  }

  private async negotiate(): Promise<string> {
    const pc = this.pc;
    this.disposers.push(
      pc.onTrack.subscribe((track) => {
        if (track.kind !== 'audio') return;
        const sub = track.onReceiveRtp.subscribe((rtp) => this.onAudioRtp(rtp));
        this.disposers.push(() => sub.unSubscribe());
      }).unSubscribe,
      pc.onDataChannel.subscribe((dc) => this.onDataChannel(dc)).unSubscribe,
      pc.connectionStateChange.subscribe((state) => this.onConnectionState(state)).unSubscribe,
    );

    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offerForIce(this.opts.offerSdp) });
    } catch (err) {
      // werift's parser throws plain errors (e.g. "m line not found") on offers our shape check let through.
      throw new BadInputError(`SDP offer could not be applied: ${(err as Error).message}`);
    } finally {
      this.transports.snapshot();
    }
    const video = pc.getTransceivers().find((t) => t.kind === 'video');
    if (!video) throw new InvalidStateError(`offer produced no video transceiver [sessionId:${this.id}]`);
    this.videoTransceiver = video;
    video.setDirection('sendonly');
    await video.sender.replaceTrack(new MediaStreamTrack({ kind: 'video' }));
    for (const t of pc.getTransceivers()) if (t.kind === 'audio') t.setDirection('recvonly');

    if (!hasStunServer(this.config.webrtc.iceServers)) disableDefaultStun(pc);
    try {
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (err) {
      // werift's answer builder throws plain errors on offers it cannot answer (e.g. duplicate or missing mids).
      throw new BadInputError(`SDP offer could not be answered: ${(err as Error).message}`);
    }
    this.transports.snapshot();
    await this.waitForGathering();
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new InvalidStateError(`no local description after negotiation [sessionId:${this.id}]`);
    this.sourceGuard = guardMediaSources(pc);

    const payloadType = video.sender.codec?.payloadType;
    if (payloadType === undefined) throw new InvalidStateError(`no video codec negotiated [sessionId:${this.id}]`);
    this.packetizer = new VideoPacketizer({ codec: this.codec, payloadType, ssrc: video.sender.ssrc, maxPayloadBytes: this.config.video.mtu });
    this.disposers.push(onKeyframeRequest(video, video.sender.ssrc, () => this.pipeline?.requestKeyframe()));
    this.openPipeline();
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(
      setTimeout(() => {
        if (!this.connectedAt) this.close('connect timeout');
      }, CONNECT_TIMEOUT_MS),
      setTimeout(() => this.close(`maximum duration reached (${this.config.sessions.maxDurationS} s)`), this.config.sessions.maxDurationS * 1000),
    );
    this.log.info({ codec: this.codec }, 'session negotiated');
    return sdp;
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

  private openPipeline(): void {
    const { video, renderer, pipeline } = this.config;
    this.pipeline = this.opts.pool.open(
      this.id,
      {
        reference: this.opts.reference,
        seed: pipeline.seed,
        maxQueueFrames: renderer.maxQueueFrames,
        video: {
          codec: this.codec,
          width: video.width,
          height: video.height,
          fps: video.fps,
          bitrateKbps: video.bitrateKbps,
          keyframeIntervalFrames: Math.max(1, Math.round(video.keyframeIntervalS * video.fps)),
        },
      },
      {
        onOpened: (lookaheadMs, chunkFrames) => this.log.debug({ lookaheadMs, chunkFrames }, 'pipeline ready'),
        onFrame: (frame) => this.onFrame(frame),
        onDropped: () => {
          this.s.framesDropped++;
          this.metrics.framesDropped.inc();
        },
        onError: (message) => {
          this.log.error({ err: message }, 'pipeline failed');
          this.sendControl({ type: 'error', message });
          this.close(`pipeline error: ${message}`);
        },
      },
    );
  }

  private onConnectionState(state: string): void {
    this.log.debug({ state }, 'connection state');
    if (state === 'connected' && !this.connectedAt) {
      this.connectedAt = now();
      this.lastAudioAt = now();
    }
    if (state === 'failed' || state === 'closed') this.close(`peer ${state}`);
    // 'disconnected' is often transient (a network blip): give ICE a moment to recover before ending the call.
    if (state === 'disconnected' && !this.disconnectTimer) {
      this.disconnectTimer = setTimeout(() => this.close('peer disconnected'), DISCONNECT_GRACE_MS);
      this.timers.push(this.disconnectTimer);
    }
    if (state === 'connected' && this.disconnectTimer) {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = undefined;
    }
  }

  private onAudioRtp(rtp: RtpPacket): void {
    if (this.closed) return;
    this.s.audioPacketsReceived++;
    const t = now();
    this.release(this.jitter.push(rtp.header.sequenceNumber, rtp.payload, t), t);
  }

  private release(outputs: JitterBufferOutput<Buffer>[], t: number): void {
    for (const out of outputs) {
      if (out.kind === 'packet') this.deliverAudio(out.packet, t);
      else for (let i = 0; i < Math.min(out.count, MAX_CONCEALED_PACKETS); i++) this.deliverAudio(null, t);
    }
  }

  /** Decode one released packet (or conceal a lost one), resample and hand it to the pipeline. */
  private deliverAudio(payload: Buffer | null, arrivalMs: number): void {
    if (!this.pipeline) return;
    let pcm48: Float32Array;
    if (payload === null) {
      this.s.audioPacketsLost++;
      this.metrics.audioPacketsLost.inc();
      pcm48 = this.opus.concealFloat();
    } else {
      this.s.firstAudioMediaMs ??= (this.s.audioSamples * 1000) / 16000;
      try {
        pcm48 = this.opus.decodeFloat(payload);
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'undecodable opus packet; concealing');
        pcm48 = this.opus.concealFloat();
      }
    }
    // Copy out of the resampler's reusable buffer: the copy is transferred to the worker.
    this.pushPcm16k(this.resampler.push(pcm48).slice(), arrivalMs);
    this.lastAudioAt = arrivalMs;
  }

  private pushPcm16k(pcm16k: Float32Array, arrivalMs: number): void {
    if (pcm16k.length === 0 || !this.pipeline) return;
    this.s.audioSamples += pcm16k.length;
    this.arrivals.record((this.s.audioSamples * 1000) / 16000, arrivalMs);
    this.pipeline.pushAudio(pcm16k);
  }

  /** Periodic work: release audio the jitter buffer gave up waiting for, feed silence when the peer is quiet, send stats. */
  private tick(): void {
    if (this.closed) return;
    const t = now();
    this.release(this.jitter.poll(t), t);
    if (this.connectedAt && t - this.lastAudioAt > this.config.sessions.idleTimeoutS * 1000) {
      this.close(`idle: no audio for ${this.config.sessions.idleTimeoutS} s`);
      return;
    }
    if (this.connectedAt && t - this.lastAudioAt > this.config.audio.idleFillMs) {
      // No audio (DTX, muted mic, or a stall): keep the clock moving so the avatar idles instead of freezing.
      this.pushPcm16k(new Float32Array((16000 * TICK_MS) / 1000), t);
    }
    if (t - this.lastStatsAt >= STATS_EVERY_MS && this.connectedAt) {
      this.lastStatsAt = t;
      this.sendControl({ type: 'stats', ...this.stats() });
    }
  }

  private onFrame(frame: WorkerFrame): void {
    const sender = this.videoTransceiver?.sender;
    if (this.closed || !sender || !this.packetizer) return;
    const rtpTimestamp = (this.rtpTimestampBase + Math.round(frame.audioTimeMs * 90)) >>> 0;
    const packets = this.packetizer.packetize(frame, rtpTimestamp);
    for (const p of packets) {
      sender.sendRtp(p).catch((err: Error) => this.log.debug({ err: err.message }, 'rtp send failed'));
    }
    const sentAt = now();
    const frameEndMs = frame.audioTimeMs + 1000 / this.config.video.fps;
    const arrival = this.arrivals.arrivalOf(frameEndMs);
    const latencyMs = arrival === undefined ? undefined : sentAt - arrival;
    if (latencyMs !== undefined) {
      this.latency.add(latencyMs);
      this.metrics.latency.observe(latencyMs / 1000);
    }
    this.s.framesSent++;
    this.s.bytesSent += frame.data.byteLength;
    if (frame.keyframe) this.s.keyframesSent++;
    this.s.renderMsTotal += frame.renderMs;
    this.s.encodeMsTotal += frame.encodeMs;
    if (this.s.firstFrameMs === undefined && this.connectedAt) this.s.firstFrameMs = sentAt - this.connectedAt;
    this.metrics.framesSent.inc({ codec: this.codec });
    this.metrics.renderSeconds.observe(frame.renderMs / 1000);
    this.metrics.encodeSeconds.observe(frame.encodeMs / 1000);
    const info = {
      index: frame.index,
      audioTimeMs: frame.audioTimeMs,
      latencyMs: latencyMs === undefined ? undefined : Math.round(latencyMs * 10) / 10,
      keyframe: frame.keyframe,
      bytes: frame.data.byteLength,
      mouthOpen: frame.mouthOpen,
      renderMs: frame.renderMs,
      encodeMs: frame.encodeMs,
    };
    this.sendControl({ type: 'frame', index: info.index, audioTimeMs: info.audioTimeMs, latencyMs: info.latencyMs ?? null });
    this.safeEmit('frame', info);
  }

  private onDataChannel(dc: RTCDataChannel): void {
    if (dc.label !== 'control') {
      this.log.debug({ label: dc.label }, 'ignoring data channel');
      return;
    }
    this.control = dc;
    const limiter = new RateLimiter(this.config.limits.controlMessagesPerSecond, now());
    let lastRateWarning = 0;
    dc.onMessage.subscribe((data) => {
      if (this.closed) return;
      const t = now();
      if (!limiter.take(t)) {
        this.s.controlMessagesRefused++;
        if (t - lastRateWarning > 1000) {
          lastRateWarning = t;
          this.sendControl({ type: 'error', message: `too many control messages (limit ${this.config.limits.controlMessagesPerSecond}/s); extra ones are dropped` });
        }
        return;
      }
      const result = parseControlMessage(data, this.config.limits.controlMessageBytes);
      if ('error' in result) {
        this.sendControl({ type: 'error', message: result.error });
        return;
      }
      this.applyControl(result.message);
    });
  }

  /** Apply a control message (from the data channel or the API). */
  applyControl(msg: PipelineControl): void {
    if (this.closed) throw new InvalidStateError(`session is closed [sessionId:${this.id}]`);
    if (msg.type === 'clear') this.jitter.reset();
    this.pipeline?.control(msg);
  }

  private sendControl(msg: object): void {
    const dc = this.control;
    if (!dc || dc.readyState !== 'open') return;
    try {
      dc.send(JSON.stringify(msg));
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'control send failed');
    }
  }

  /** Test hook: fail this session's pipeline ('stage') or kill the worker thread that hosts it ('worker'). */
  injectFault(mode: FaultMode): void {
    this.pipeline?.injectFault(mode);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): SessionStats {
    const n = Math.max(this.s.framesSent, 1);
    return {
      id: this.id,
      codec: this.codec,
      state: this.closed ? 'closed' : this.connectedAt ? 'connected' : 'connecting',
      framesSent: this.s.framesSent,
      framesDropped: this.s.framesDropped,
      keyframesSent: this.s.keyframesSent,
      bytesSent: this.s.bytesSent,
      audioPacketsReceived: this.s.audioPacketsReceived,
      audioPacketsLost: this.s.audioPacketsLost,
      audioMs: Math.round((this.s.audioSamples * 1000) / 16000),
      latencyMs: this.latency.summary(),
      firstFrameMs: this.s.firstFrameMs === undefined ? undefined : Math.round(this.s.firstFrameMs),
      firstAudioMediaMs: this.s.firstAudioMediaMs,
      controlMessagesRefused: this.s.controlMessagesRefused,
      foreignDatagramsDropped: this.sourceGuard?.dropped() ?? 0,
      renderMsAvg: Math.round((this.s.renderMsTotal / n) * 100) / 100,
      encodeMsAvg: Math.round((this.s.encodeMsTotal / n) * 100) / 100,
    };
  }

  /** End the session: idempotent; frees the pipeline, the peer and timers, then emits 'close' once. */
  close(reason: string): void {
    if (this.closed) return;
    this.sendControl({ type: 'closed', reason });
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const d of this.disposers.splice(0)) {
      try {
        d();
      } catch {
        /* already disposed */
      }
    }
    this.pipeline?.close();
    this.pipeline = undefined;
    this.resampler.close();
    this.transports.close().catch((err: Error) => this.log.debug({ err: err.message }, 'peer close failed'));
    this.log.info({ reason, ...this.stats() }, 'session closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
