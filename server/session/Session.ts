import { randomUUID } from 'node:crypto';
import type { RTCDataChannel, RTCRtpSender, RtpPacket } from 'werift';
import type { WebSocket } from 'ws';
import type { PipelineControl } from '../../engines/pipeline.ts';
import type { Config } from '../config.ts';
import { CapacityError, InvalidStateError, NotFoundError, UnsupportedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { TypedEmitter } from '../TypedEmitter.ts';
import { OpusReceiver, type ReceivedAudio } from '../media/OpusReceiver.ts';
import { VideoPacketizer } from '../media/VideoPacketizer.ts';
import { ntpNow } from '../media/senderReportClock.ts';
import { loadNativeFanout, type NativeFanoutModule } from '../media/NativeFanout.ts';
import { FramePackets, PeerLink, RtpHistory, SENDER_REPORT_INTERVAL_MS, sendReports, sendToPeer, TrackOutput } from '../media/RtpFanout.ts';
import { VoiceOut } from '../media/VoiceOut.ts';
import type { PipelineHandle, PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { FaultMode, WorkerFrame, WorkerReference } from '../media/pipelineProtocol.ts';
import { AnsweringPeer } from './AnsweringPeer.ts';
import { AudioArrivalLog } from './AudioArrivalLog.ts';
import { parseControlMessage, RateLimiter } from './controlMessages.ts';
import { answerProfileLevelId, chooseVideoCodec, inspectOffer, offersHighProfile, viewerCanReceive, type OfferSummary } from './sdpOffer.ts';
import { h264ProfileOf } from '../media/VideoEncoder.ts';
import { sessionIdPrefix } from '../pool/sessionIds.ts';
import { LatencyStats } from './LatencyStats.ts';
import { WebSocketSource, type AgentSampleRate } from './WebSocketSource.ts';

/** Wall clock in ms with sub-ms resolution. */
const now = () => performance.timeOrigin + performance.now();

/** Interval of the idle check, the play-out of WebSocket audio and of stats messages, ms. */
const TICK_MS = 20;
const STATS_EVERY_MS = 1000;
/** Viewers' PLI/FIR are honoured at most this often: one viewer must not force keyframes on everyone, ms. */
const VIEWER_KEYFRAME_INTERVAL_MS = 500;
/** With nobody watching, one frame in this many is rendered (one a second at 25 fps): the clock, the voice and the agent's marks go on. */
const UNWATCHED_STRIDE = 25;
/** Payload type the shared packetizer stamps; each sender rewrites it (and the SSRC) to what it negotiated. */
const SHARED_PAYLOAD_TYPE = 96;

/** Where a session's driving audio comes from. */
export type SessionSource = 'webrtc' | 'websocket' | 'whip';

/** How a session is started. */
export type SessionInit =
  /** The microphone API: the caller's peer sends audio and receives the avatar; `echo` sends the voice back too. */
  | { source: 'webrtc'; offerSdp: string; echo: boolean }
  /** WHIP ingest: the publisher's audio drives the avatar; viewers watch over WHEP. */
  | { source: 'whip'; offerSdp: string }
  /** A voice agent's PCM over a WebSocket; viewers watch over WHEP. */
  | { source: 'websocket'; sampleRate: AgentSampleRate | undefined };

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
  source: SessionSource;
  codec: 'h264' | 'vp8';
  state: string;
  framesSent: number;
  framesDropped: number;
  /** Frames skipped on purpose: while degraded under overload, or queued when an interrupt came. */
  framesShed: number;
  /** Set while the server sheds this session's load (a lower frame rate) because the machine is overloaded. */
  degraded: { fps: number; reason: string } | null;
  keyframesSent: number;
  bytesSent: number;
  audioPacketsReceived: number;
  audioPacketsLost: number;
  audioMs: number;
  latencyMs: { p50: number; p95: number; p99: number; count: number };
  firstFrameMs: number | undefined;
  firstAudioMediaMs: number | undefined;
  controlMessagesRefused: number;
  /** Face samples applied, and face messages refused (invalid, or over limits.faceMessagesPerSecond). */
  faceMessages: number;
  faceMessagesRefused: number;
  /** Non-STUN datagrams from addresses that are not the peer's, dropped before DTLS/SRTP. */
  foreignDatagramsDropped: number;
  renderMsAvg: number;
  encodeMsAvg: number;
  viewers: number;
  /** The voice going out (to the caller with echo, and to viewers). */
  voice: { outputs: number; packets: number; bufferedMs: number };
  /**
   * Outputs by send path ('pending': not connected yet), video packets resent natively on NACK, and the CPU time spent
   * sending to all outputs since the start (ms; null without the native addon, which measures it).
   */
  fanout: { native: number; werift: number; pending: number; retransmitted: number; sendCpuMs: number | null };
  /** The WebSocket agent, for source 'websocket'. */
  agent?: { attached: boolean; sampleRate: number | null; bufferedMs: number; bytesReceived: number; underrunMs: number; messagesRefused: number };
}

/** A session's codec and inspected offer, decided before it starts (see Session.plan). */
export interface SessionPlan {
  codec: 'h264' | 'vp8';
  offer: OfferSummary | undefined;
}

export interface SessionOptions {
  init: SessionInit;
  reference: WorkerReference;
  config: Config;
  pool: PipelineWorkerPool;
  metrics: Metrics;
  log: Logger;
}

/** Somewhere the session's packets go: the caller's peer or a WHEP viewer. */
interface MediaOutput {
  video: TrackOutput | undefined;
  voice: TrackOutput | undefined;
  /** The peer's native send path (one SRTP context and ICE socket for both tracks). */
  link: PeerLink | undefined;
  /** A late joiner gets video from the next keyframe on; decoders cannot start on a delta frame. */
  awaitingKeyframe: boolean;
}

interface Viewer {
  peer: AnsweringPeer;
  output: MediaOutput;
  lastKeyframeRequest: number;
}

/**
 * One talking avatar: a source of driving audio (the caller's microphone, a WHIP publisher or a voice agent's
 * WebSocket), a pipeline in a worker thread, and its outputs (the caller's peer, WHEP viewers), which all share the
 * single encode and the single voice encode. Owns its media clock: the audio delivered to the pipeline.
 */
export class Session extends TypedEmitter<SessionEvents> {
  readonly id: string;
  readonly codec: 'h264' | 'vp8';
  readonly source: SessionSource;
  readonly createdAt = now();
  private readonly log: Logger;
  private readonly config: Config;
  private readonly metrics: Metrics;
  /** The caller's or WHIP publisher's peer. */
  private peer: AnsweringPeer | undefined;
  private receiver: OpusReceiver | undefined;
  private agent: WebSocketSource | undefined;
  private readonly viewers = new Map<string, Viewer>();
  private pendingViewers = 0;
  private readonly outputs = new Set<MediaOutput>();
  private readonly packetizer: VideoPacketizer;
  private readonly voice: VoiceOut;
  /** Video packets in wire form for NACKs answered on the native path. */
  private readonly videoHistory = new RtpHistory();
  private readonly nativeFanout: NativeFanoutModule | undefined;
  /** This thread's CPU clock (ns) from the addon when it is built, whichever send path is configured. */
  private readonly threadCpuNs: (() => number) | undefined;
  private readonly arrivals = new AudioArrivalLog();
  private readonly latency = new LatencyStats(1024);
  private pipeline: PipelineHandle | undefined;
  private control: RTCDataChannel | undefined;
  private closed = false;
  /** When the media clock started running (peer connected, or creation for WebSocket sessions). */
  private connectedAt: number | undefined;
  private lastAudioAt = now();
  private readonly rtpTimestampBase = Math.floor(Math.random() * 2 ** 31);
  private timers: NodeJS.Timeout[] = [];
  private lastStatsAt = 0;
  private readonly frameMs: number;
  private degradation: { stride: number; reason: string } | undefined;
  /** One frame in this many is rendered (see updateStride). */
  private stride = 1;
  private readonly s = {
    framesSent: 0,
    framesDropped: 0,
    /** Frames skipped on purpose: load shedding, or queued when an interrupt came. */
    framesShed: 0,
    keyframesSent: 0,
    bytesSent: 0,
    /** Samples at 16 kHz delivered to the pipeline: the session's media clock. */
    audioSamples: 0,
    firstFrameMs: undefined as number | undefined,
    /** Media clock position when the first real audio was delivered (idle fill may come before it), ms. */
    firstAudioMediaMs: undefined as number | undefined,
    controlMessagesRefused: 0,
    faceMessages: 0,
    faceMessagesRefused: 0,
    renderMsTotal: 0,
    encodeMsTotal: 0,
    /** CPU of this thread sending to the outputs (SRTP, sockets, bookkeeping), when the native addon can tell. */
    sendCpuNs: 0,
  };

  private constructor(
    private readonly opts: SessionOptions,
    codec: 'h264' | 'vp8',
  ) {
    super();
    this.id = sessionIdPrefix(opts.config.pool.member?.index) + randomUUID();
    this.config = opts.config;
    this.metrics = opts.metrics;
    this.codec = codec;
    this.source = opts.init.source;
    this.log = opts.log.child({ sessionId: this.id });
    this.frameMs = 1000 / this.config.video.fps;
    this.packetizer = new VideoPacketizer({ codec, payloadType: SHARED_PAYLOAD_TYPE, ssrc: 1, maxPayloadBytes: this.config.video.mtu });
    this.voice = new VoiceOut({ bitrateBps: this.config.voice.bitrateKbps * 1000 });
    const addon = nativeAddon(opts.log);
    this.nativeFanout = this.config.webrtc.nativeFanout === 'off' ? undefined : addon;
    this.threadCpuNs = addon?.threadCpuNs;
  }

  /** Wrap a peer's senders as this session's outputs: native send path when built and allowed, else werift's. */
  private attachOutput(output: MediaOutput, video: RTCRtpSender | undefined, voice: RTCRtpSender | undefined, log: Logger): void {
    const link = new PeerLink(this.nativeFanout, log);
    output.link = link;
    output.video = video && new TrackOutput(video, link, log, this.videoHistory);
    output.voice = voice && new TrackOutput(voice, link, log);
  }

  private detachOutput(output: MediaOutput): void {
    this.outputs.delete(output);
    output.video?.close();
    output.voice?.close();
    output.link?.close();
  }

  /**
   * What a session will be, known before anything is started: the video codec (the offer decides for a microphone
   * caller) and the inspected offer. Throws BadInputError/UnsupportedError for offers it cannot serve.
   */
  static plan(init: SessionInit, config: Config): SessionPlan {
    if (init.source === 'websocket') return { codec: config.video.codec, offer: undefined };
    const role = init.source === 'whip' ? 'whip' : 'caller';
    const offer = inspectOffer(init.offerSdp, config.limits.sdpBytes, config.limits.sdpLines, role);
    return { codec: role === 'caller' ? chooseVideoCodec(offer, config.video.codec, h264ProfileOf(config.video.encoder)) : config.video.codec, offer };
  }

  /** Start a session; resolves with it and, for the peer sources, the SDP answer (gathering complete). */
  static async create(opts: SessionOptions, plan = Session.plan(opts.init, opts.config)): Promise<{ session: Session; answerSdp: string | undefined }> {
    const { init } = opts;
    const { codec, offer } = plan;
    if (init.source === 'websocket') {
      const session = new Session(opts, codec);
      session.startWebSocket(init.sampleRate);
      return { session, answerSdp: undefined };
    }
    if (!offer) throw new InvalidStateError('a peer session is planned from its offer');
    const role = init.source === 'whip' ? 'whip' : 'caller';
    const session = new Session(opts, codec);
    if (role === 'caller') {
      session.log.info({ codec, offeredH264: offer.h264ProfileLevelIds, offeredVp8: offer.hasVp8 }, 'video codec chosen');
      if (codec === 'h264' && h264ProfileOf(opts.config.video.encoder) === 'high' && !offersHighProfile(offer)) {
        session.log.warn({ profileLevelId: offer.h264ProfileLevelId }, 'offer has only baseline H.264 and no VP8; sending High-profile H.264 anyway');
      }
    }
    try {
      const echo = init.source === 'webrtc' && init.echo;
      if (echo && !offer.receivesAudioOpus) session.log.warn('echo asked for, but the offer cannot receive audio (sendonly): no voice back');
      const answerSdp = await session.connectPeer(init.offerSdp, role, echo && offer.receivesAudioOpus, answerProfileLevelId(offer, h264ProfileOf(opts.config.video.encoder)) ?? '42e01f');
      return { session, answerSdp };
    } catch (err) {
      session.close('negotiation failed');
      throw err;
    }
  }

  private async connectPeer(offerSdp: string, role: 'caller' | 'whip', echo: boolean, h264ProfileLevelId: string): Promise<string> {
    this.receiver = await OpusReceiver.create(this.config.audio.jitterBufferMs, (audio) => this.onReceivedAudio(audio), this.log);
    const callerOutput: MediaOutput = { video: undefined, voice: undefined, link: undefined, awaitingKeyframe: true };
    const { peer, answerSdp } = await AnsweringPeer.answer({
      role,
      offerSdp,
      codec: this.codec,
      h264ProfileLevelId,
      sendVoice: echo,
      streamId: this.id,
      config: this.config,
      log: this.log,
      onAudioRtp: (rtp) => this.onAudioRtp(rtp),
      ...(role === 'caller' ? { onDataChannel: (dc: RTCDataChannel) => this.onDataChannel(dc) } : {}),
      onKeyframeRequest: () => this.pipeline?.requestKeyframe(),
      onConnected: () => {
        this.connectedAt ??= now();
        this.lastAudioAt = now();
        this.startVideoAt(callerOutput);
      },
      onEnded: (reason) => this.close(reason),
    });
    if (this.closed) {
      await peer.close();
      throw new InvalidStateError(`session closed during negotiation [sessionId:${this.id}]`);
    }
    this.peer = peer;
    this.attachOutput(callerOutput, peer.videoSender, peer.voiceSender, this.log);
    if (peer.videoSender || peer.voiceSender) this.outputs.add(callerOutput);
    this.openPipeline();
    this.updateStride();
    this.startTimers();
    this.startDurationLimit();
    this.log.info({ source: this.source, codec: this.codec, echo }, 'session negotiated');
    return answerSdp;
  }

  private startTimers(): void {
    this.timers.push(
      setInterval(() => this.tick(), TICK_MS),
      setInterval(() => {
        for (const o of this.outputs) if (o.link) sendReports(o.link, o.video, o.voice);
      }, SENDER_REPORT_INTERVAL_MS),
    );
  }

  private startWebSocket(sampleRate: AgentSampleRate | undefined): void {
    const { limits, websocket } = this.config;
    this.agent = new WebSocketSource(
      {
        sampleRate,
        maxBufferedMs: websocket.maxBufferedS * 1000,
        controlMessageBytes: limits.controlMessageBytes,
        controlMessagesPerSecond: limits.controlMessagesPerSecond,
        log: this.log,
        onControl: (msg) => this.applyControl(msg),
      },
      now(),
    );
    this.connectedAt = now();
    this.openPipeline();
    this.updateStride();
    this.startTimers();
    this.startDurationLimit();
    this.log.info({ source: this.source, codec: this.codec, sampleRate: sampleRate ?? null }, 'session started');
  }

  private startDurationLimit(): void {
    const limitS = this.config.sessions.maxDurationS;
    this.timers.push(setTimeout(() => this.close(`maximum duration reached (${limitS} s)`), limitS * 1000));
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
        onDropped: (index, shed) => {
          if (shed) {
            this.s.framesShed++;
          } else {
            this.s.framesDropped++;
            this.metrics.framesDropped.inc();
          }
          this.mediaSent(index * this.frameMs);
        },
        onError: (message) => {
          this.log.error({ err: message }, 'pipeline failed');
          this.sendControl({ type: 'error', message });
          this.agent?.send({ type: 'error', message });
          this.close(`pipeline error: ${message}`);
        },
      },
    );
  }

  private onAudioRtp(rtp: RtpPacket): void {
    if (this.closed || !this.receiver) return;
    this.receiver.push(rtp, now());
  }

  private onReceivedAudio(audio: ReceivedAudio): void {
    if (audio.concealed) this.metrics.audioPacketsLost.inc();
    else this.s.firstAudioMediaMs ??= (this.s.audioSamples * 1000) / 16000;
    this.pushAudio(audio.pcm16, audio.pcm48, audio.arrivalMs);
    this.lastAudioAt = audio.arrivalMs;
  }

  /** Advance the media clock: 16 kHz audio to the pipeline, the same audio at 48 kHz (or silence) to the voice. */
  private pushAudio(pcm16: Float32Array, pcm48: Float32Array | null, arrivalMs: number): void {
    if (pcm16.length === 0 || !this.pipeline) return;
    this.voice.write(pcm48, pcm16.length, this.s.audioSamples);
    this.s.audioSamples += pcm16.length;
    this.arrivals.record((this.s.audioSamples * 1000) / 16000, arrivalMs);
    this.pipeline.pushAudio(pcm16);
  }

  private get clockMs(): number {
    return (this.s.audioSamples * 1000) / 16000;
  }

  /** Periodic work: play out WebSocket audio, release late audio, feed silence when the peer is quiet, send stats. */
  private tick(): void {
    if (this.closed) return;
    const t = now();
    if (this.agent) {
      const { idleTimeoutS } = this.config.sessions;
      if (!this.agent.attached && t - this.agent.detachedSince > idleTimeoutS * 1000) {
        this.close(`idle: no audio socket for ${idleTimeoutS} s`);
        return;
      }
      const audio = this.agent.pull(t, this.clockMs);
      if (audio.pcm16.length > 0) {
        if (audio.real) {
          this.s.firstAudioMediaMs ??= this.clockMs;
          this.lastAudioAt = t;
        }
        // Copy: pushAudio transfers the 16 kHz buffer to the worker.
        this.pushAudio(audio.pcm16.slice(), audio.pcm48, t);
      }
    } else {
      this.receiver?.poll(t);
      if (this.connectedAt && t - this.lastAudioAt > this.config.sessions.idleTimeoutS * 1000) {
        this.close(`idle: no audio for ${this.config.sessions.idleTimeoutS} s`);
        return;
      }
      if (this.connectedAt && t - this.lastAudioAt > this.config.audio.idleFillMs) {
        // No audio (DTX, muted mic, or a stall): keep the clock moving so the avatar idles instead of freezing.
        this.pushAudio(new Float32Array((16000 * TICK_MS) / 1000), null, t);
      }
    }
    if (t - this.lastStatsAt >= STATS_EVERY_MS && this.connectedAt) {
      this.lastStatsAt = t;
      this.sendControl({ type: 'stats', ...this.stats() });
    }
  }

  private onFrame(frame: WorkerFrame): void {
    if (this.closed) return;
    const rtpTimestamp = (this.rtpTimestampBase + Math.round(frame.audioTimeMs * 90)) >>> 0;
    const packets = new FramePackets(this.packetizer.packetize(frame, rtpTimestamp), this.videoHistory);
    const ntp = ntpNow(); // one send instant for the whole burst (every packet of the frame, every output)
    this.mediaSent(frame.audioTimeMs, ntp, packets, frame.keyframe);
    const sentAt = now();
    const frameEndMs = frame.audioTimeMs + this.frameMs;
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
    // faceT echoes the client's timestamp of the face sample shown: camera-to-avatar latency on the client's own clock.
    this.sendControl({ type: 'frame', index: info.index, audioTimeMs: info.audioTimeMs, latencyMs: info.latencyMs ?? null, ...(frame.faceT === undefined ? {} : { faceT: frame.faceT }) });
    this.safeEmit('frame', info);
  }

  /**
   * The frame for `mediaMs` goes out now (`video`), or was dropped: the voice up to the same media time leaves with
   * it, so both tracks carry one media time at one send instant; the agent hears which utterances have played.
   * A late joiner's video starts at a keyframe (decoders cannot start on a delta frame); its voice at once.
   */
  private mediaSent(mediaMs: number, ntp = ntpNow(), video?: FramePackets, keyframe = false): void {
    let listeners = 0;
    for (const o of this.outputs) if (o.voice) listeners++;
    let voice: FramePackets | undefined;
    if (listeners > 0) voice = new FramePackets(this.voice.packetsUpTo(mediaMs));
    else this.voice.skipUpTo(mediaMs); // nobody listens: no Opus encode
    const cpu0 = this.threadCpuNs?.();
    for (const out of this.outputs) {
      let outVideo = video;
      if (outVideo && out.awaitingKeyframe) {
        if (keyframe) out.awaitingKeyframe = false;
        else outVideo = undefined;
      }
      if (out.link) sendToPeer(out.link, out.video, outVideo, out.voice, voice, ntp);
    }
    if (cpu0 !== undefined) this.s.sendCpuNs += this.threadCpuNs!() - cpu0;
    this.agent?.onMediaSent(mediaMs + this.frameMs);
  }

  /**
   * "control": control messages (replies and errors go back on it). "face": webcam face samples, best sent unordered
   * without retransmits (a late sample is worth nothing), with their own rate limit; errors go back on "control".
   */
  private onDataChannel(dc: RTCDataChannel): void {
    if (dc.label !== 'control' && dc.label !== 'face') {
      this.log.debug({ label: dc.label }, 'ignoring data channel');
      return;
    }
    const face = dc.label === 'face';
    if (!face) this.control = dc;
    const perSecond = face ? this.config.limits.faceMessagesPerSecond : this.config.limits.controlMessagesPerSecond;
    const limiter = new RateLimiter(perSecond, now());
    const lastWarning = { rate: 0, invalid: 0 };
    // Errors of a flooding or garbage-sending client are reported once a second of each kind, not once a message.
    const warn = (kind: 'rate' | 'invalid', t: number, message: string) => {
      if (t - lastWarning[kind] < 1000) return;
      lastWarning[kind] = t;
      this.sendControl({ type: 'error', message });
    };
    dc.onMessage.subscribe((data) => {
      if (this.closed) return;
      const t = now();
      if (!limiter.take(t)) {
        if (face) this.s.faceMessagesRefused++;
        else this.s.controlMessagesRefused++;
        warn('rate', t, `too many ${dc.label} messages (limit ${perSecond}/s); extra ones are dropped`);
        return;
      }
      const result = parseControlMessage(data, this.config.limits.controlMessageBytes);
      if ('error' in result) {
        if (!face) return this.sendControl({ type: 'error', message: result.error });
        this.s.faceMessagesRefused++;
        warn('invalid', t, result.error);
        return;
      }
      if (result.message.type === 'face') this.s.faceMessages++;
      this.applyControl(result.message);
    });
  }

  /** Apply a control message (from the data channel, the agent's socket or the API). */
  applyControl(msg: PipelineControl): void {
    if (this.closed) throw new InvalidStateError(`session is closed [sessionId:${this.id}]`);
    if (msg.type === 'clear') {
      // Barge-in empties every queue at once: received audio, the agent's buffer, the voice not yet sent, the pipeline.
      this.receiver?.reset();
      this.agent?.clear();
      this.voice.silenceUnsent();
    }
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

  /**
   * A peer just connected: frames sent before were dropped by werift (no DTLS yet), so its video starts at the next
   * keyframe, asked for now: the picture appears at once, not at the next periodic keyframe or after a PLI.
   */
  private startVideoAt(output: MediaOutput): void {
    output.awaitingKeyframe = true;
    this.pipeline?.requestKeyframe();
  }

  /** A voice agent's WebSocket (source 'websocket' only). */
  attachAudioSocket(ws: WebSocket, queryRate: number | undefined): Promise<void> {
    if (!this.agent) {
      ws.close(1008, `session ${this.id} takes its audio from ${this.source}, not from a WebSocket`);
      return Promise.resolve();
    }
    return this.agent.attach(ws, queryRate);
  }

  /** A WHEP viewer: answers its offer with the session's video and voice; resolves with its id and the answer. */
  async addViewer(offerSdp: string): Promise<{ viewerId: string; answerSdp: string }> {
    if (this.closed) throw new NotFoundError(`session ${this.id} has ended`);
    const { viewers, limits } = this.config;
    if (this.viewers.size + this.pendingViewers >= viewers.maxPerSession) {
      throw new CapacityError(`session ${this.id} has its maximum of ${viewers.maxPerSession} viewers`, 5);
    }
    const offer = inspectOffer(offerSdp, limits.sdpBytes, limits.sdpLines, 'viewer');
    const unsupported = viewerCanReceive(offer, this.codec, h264ProfileOf(this.config.video.encoder));
    if (unsupported) throw new UnsupportedError(unsupported);
    const viewerId = randomUUID();
    const log = this.log.child({ viewerId });
    const output: MediaOutput = { video: undefined, voice: undefined, link: undefined, awaitingKeyframe: true };
    let lastKeyframeRequest = 0;
    this.pendingViewers++;
    let answered: { peer: AnsweringPeer; answerSdp: string };
    try {
      answered = await AnsweringPeer.answer({
        role: 'viewer',
        offerSdp,
        codec: this.codec,
        h264ProfileLevelId: answerProfileLevelId(offer, h264ProfileOf(this.config.video.encoder)) ?? '42e01f',
        sendVoice: offer.receivesAudioOpus,
        streamId: this.id,
        config: this.config,
        log,
        onKeyframeRequest: () => {
          const t = now();
          if (t - lastKeyframeRequest < VIEWER_KEYFRAME_INTERVAL_MS) return;
          lastKeyframeRequest = t;
          this.pipeline?.requestKeyframe();
        },
        onConnected: () => {
          lastKeyframeRequest = now();
          this.startVideoAt(output);
          log.info('viewer connected');
        },
        onEnded: (reason) => this.removeViewer(viewerId, reason),
      });
    } finally {
      this.pendingViewers--;
    }
    if (this.closed) {
      await answered.peer.close();
      throw new NotFoundError(`session ${this.id} has ended`);
    }
    this.attachOutput(output, answered.peer.videoSender, answered.peer.voiceSender, log);
    this.viewers.set(viewerId, { peer: answered.peer, output, lastKeyframeRequest: 0 });
    this.outputs.add(output);
    this.updateStride();
    this.metrics.viewersActive.inc();
    log.info({ voice: output.voice !== undefined, viewers: this.viewers.size }, 'viewer added');
    return { viewerId, answerSdp: answered.answerSdp };
  }

  /** End one viewer; throws NotFoundError for an unknown id. */
  removeViewer(viewerId: string, reason = 'deleted by client'): void {
    const viewer = this.viewers.get(viewerId);
    if (!viewer) throw new NotFoundError(`no viewer ${viewerId} on session ${this.id}`);
    this.viewers.delete(viewerId);
    this.detachOutput(viewer.output);
    this.updateStride();
    this.metrics.viewersActive.dec();
    viewer.peer.close().catch(() => undefined);
    this.log.info({ viewerId, reason, viewers: this.viewers.size }, 'viewer ended');
  }

  /**
   * Shed this session's load under overload: render one frame in `stride` (the voice and the media clock go on), and
   * tell the client why. `restore()` gives the frame rate back.
   */
  degrade(stride: number, reason: string): void {
    if (this.closed || this.degradation) return;
    this.degradation = { stride, reason };
    this.updateStride();
    const msg = { type: 'degraded', fps: this.config.video.fps / stride, reason };
    this.sendControl(msg);
    this.agent?.send(msg);
    this.log.warn({ fps: msg.fps, reason }, 'session degraded');
  }

  restore(): void {
    if (this.closed || !this.degradation) return;
    this.degradation = undefined;
    this.updateStride();
    const msg = { type: 'restored', fps: this.config.video.fps };
    this.sendControl(msg);
    this.agent?.send(msg);
    this.log.info({ fps: msg.fps }, 'session restored');
  }

  /** Render every frame for someone, fewer when shedding load, one a second when nobody watches. */
  private updateStride(): void {
    const stride = this.outputs.size === 0 ? UNWATCHED_STRIDE : (this.degradation?.stride ?? 1);
    if (stride === this.stride) return;
    this.stride = stride;
    this.pipeline?.setStride(stride);
  }

  /** Frames dropped so far for falling behind (the overload governor's signal; cheaper than stats()). */
  get framesDropped(): number {
    return this.s.framesDropped;
  }

  get isDegraded(): boolean {
    return this.degradation !== undefined;
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
    const voice = this.voice.toJSON();
    const rs = this.receiver?.stats;
    const stats: SessionStats = {
      id: this.id,
      source: this.source,
      codec: this.codec,
      state: this.closed ? 'closed' : this.connectedAt ? 'connected' : 'connecting',
      framesSent: this.s.framesSent,
      framesDropped: this.s.framesDropped,
      framesShed: this.s.framesShed,
      degraded: this.degradation ? { fps: this.config.video.fps / this.degradation.stride, reason: this.degradation.reason } : null,
      keyframesSent: this.s.keyframesSent,
      bytesSent: this.s.bytesSent,
      audioPacketsReceived: rs?.packetsReceived ?? 0,
      audioPacketsLost: rs?.packetsLost ?? 0,
      audioMs: Math.round(this.clockMs),
      latencyMs: this.latency.summary(),
      firstFrameMs: this.s.firstFrameMs === undefined ? undefined : Math.round(this.s.firstFrameMs),
      firstAudioMediaMs: this.s.firstAudioMediaMs,
      controlMessagesRefused: this.s.controlMessagesRefused + (this.agent?.stats.messagesRefused ?? 0),
      faceMessages: this.s.faceMessages,
      faceMessagesRefused: this.s.faceMessagesRefused,
      foreignDatagramsDropped: (this.peer?.foreignDatagramsDropped() ?? 0) + [...this.viewers.values()].reduce((a, v) => a + v.peer.foreignDatagramsDropped(), 0),
      renderMsAvg: Math.round((this.s.renderMsTotal / n) * 100) / 100,
      encodeMsAvg: Math.round((this.s.encodeMsTotal / n) * 100) / 100,
      viewers: this.viewers.size,
      voice: { outputs: [...this.outputs].filter((o) => o.voice).length, packets: voice.packets, bufferedMs: voice.bufferedMs },
      fanout: this.fanoutStats(),
    };
    if (this.agent) {
      const a = this.agent;
      stats.agent = {
        attached: a.attached,
        sampleRate: a.sampleRate ?? null,
        bufferedMs: Math.round(a.bufferedMs),
        bytesReceived: a.stats.bytesReceived,
        underrunMs: Math.round(a.stats.underrunMs),
        messagesRefused: a.stats.messagesRefused,
      };
    }
    return stats;
  }

  /** Which send path each output takes, and the NACK retransmissions the native path answered. */
  private fanoutStats(): SessionStats['fanout'] {
    const f = { native: 0, werift: 0, pending: 0, retransmitted: 0, sendCpuMs: this.threadCpuNs ? Math.round(this.s.sendCpuNs / 1e4) / 100 : null };
    for (const o of this.outputs) {
      f[o.link?.path ?? 'werift']++;
      f.retransmitted += o.video?.retransmitted ?? 0;
    }
    return f;
  }

  /** End the session: idempotent; frees the pipeline, peers, the agent's socket and timers, then emits 'close' once. */
  close(reason: string): void {
    if (this.closed) return;
    this.sendControl({ type: 'closed', reason });
    this.agent?.send({ type: 'closed', reason });
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.pipeline?.close();
    this.pipeline = undefined;
    this.receiver?.close();
    this.agent?.close(reason);
    for (const id of [...this.viewers.keys()]) this.removeViewer(id, `session ended: ${reason}`);
    for (const o of [...this.outputs]) this.detachOutput(o);
    this.peer?.close().catch(() => undefined);
    this.log.info({ reason, ...this.stats() }, 'session closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}

let fanoutLogged = false;

/** The native addon when it is built; logs once per process whether it is. */
function nativeAddon(log: Logger): NativeFanoutModule | undefined {
  const loaded = loadNativeFanout();
  if (!fanoutLogged) {
    fanoutLogged = true;
    if ('module' in loaded) log.info('native fan-out: SRTP on libcrypto, sendmmsg + UDP GSO');
    else log.warn({ reason: loaded.reason }, "native fan-out unavailable; peers use werift's JavaScript send path (about 25 us a packet)");
  }
  return 'module' in loaded ? loaded.module : undefined;
}
