/**
 * A headless werift peer that talks to the avatar server exactly like a browser
 * would: a small runnable example of the wire API (DESIGN.md "Wire API").
 *
 *   const client = new AvatarClient({ baseUrl: 'http://127.0.0.1:8080', audio: pcm48k, loop: true });
 *   await client.connect();          // offer -> POST /v1/sessions -> answer, audio starts
 *   await client.waitForFrames(25);  // first second of video
 *   client.clear();                  // {type:"clear"} on the control channel
 *   console.log(client.getStats());
 *   await client.close();            // DELETE /v1/sessions/{id}, close the peer
 */
import { performance } from 'node:perf_hooks';
import { MediaStreamTrack, type RTCDataChannel, type RTCPeerConnection, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import { OPUS_RATE } from '../server/media/OpusCodec.ts';
import { PeerTransports } from '../server/media/PeerTransports.ts';
import { percentileOfSorted } from '../engines/util/percentile.ts';
import { createClientPeer, createCompleteOffer, VIDEO_CODEC_CHOICES, waitForPeerConnected, type VideoCodecChoice } from './clientPeer.ts';
import { VideoFrameAssembler, type EncodedVideoFrame } from './rtpVideoFrames.ts';
import { AvatarServerError, deleteResource, postForCreated } from './serverRequests.ts';
import { AUDIO_PACKET_MS, encodeOpusPackets, OpusTrackSender } from './OpusTrackSender.ts';

export { AUDIO_PACKET_MS, AvatarServerError, encodeOpusPackets, type EncodedVideoFrame, type VideoCodecChoice };

/** Audio sample rate the client encodes at (Hz). */
export const AUDIO_RATE_HZ = OPUS_RATE;
/** Bound on kept echo packets (10 minutes of 20 ms packets). */
const MAX_ECHO_PACKETS = 30_000;
/** Bound on stored latency samples (about 11 h at 25 fps). */
const MAX_LATENCY_SAMPLES = 1_000_000;

export interface AvatarClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Portrait id from POST /v1/references; the server's default portrait when absent. */
  referenceId?: string;
  /** Also open the "face" data channel (webcam face samples; see sendFace). */
  faceChannel?: boolean;
  /** Ask for the voice back with the face (`?echo=1`); the received audio is counted and kept in `echoAudio`. */
  echo?: boolean;
  /** Video codecs to offer (default 'h264'). 'both' offers H.264 first, then VP8. */
  codec?: VideoCodecChoice;
  /** Speech to stream: 48 kHz mono PCM in [-1, 1]. */
  audio: Float32Array;
  /** Start over at the end of `audio` (default false: silence after the end). */
  loop?: boolean;
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string;
  /** Keep every depacketized encoded frame in `frames` (for a decoder; default false). */
  keepFrames?: boolean;
  /** Called for each complete video frame (after its last packet). */
  onFrame?: (frame: EncodedVideoFrame) => void;
  /** Called for each parsed control-channel message from the server. */
  onMessage?: (message: ServerMessage) => void;
  /** Deadline for each HTTP request (ms, default 10000). */
  requestTimeoutMs?: number;
  /** Deadline for ICE gathering (ms, default 5000). */
  gatherTimeoutMs?: number;
  /** Rewrites the offer before it is sent (tests: e.g. mDNS-only candidates, as Firefox sends). */
  transformOffer?: (sdp: string) => string;
}

/** Messages the server sends on the `control` channel. */
export type ServerMessage =
  | { type: 'frame'; index: number; audioTimeMs: number; latencyMs: number }
  | { type: 'stats'; [field: string]: unknown }
  | { type: string; [field: string]: unknown };

/** Messages the client sends on the `control` channel. */
export type ControlMessage =
  | { type: 'clear' }
  | { type: 'pose'; yaw: number; pitch: number; roll: number }
  | { type: 'expression'; scale: number }
  | { type: 'faceMix'; mouth: 'face' | 'audio' | 'max' }
  | { type: 'edit'; smile?: number; browRaise?: number; eyeWiden?: number; jaw?: number; rampMs?: number }
  | { type: 'poseTemplate'; keyframes: number[][]; loop?: boolean }
  | { type: 'poseTemplate'; reset: true };

export type AvatarClientState = 'new' | 'connecting' | 'connected' | 'closed' | 'failed';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Plain-object snapshot of everything the client measured. */
export interface AvatarClientStats {
  sessionId: string | null;
  state: AvatarClientState;
  /** Negotiated video codec, e.g. 'video/H264'. */
  videoCodec: string | null;
  /** connect() -> ICE connected (ms). */
  iceConnectedMs: number | null;
  /** connect() -> last packet of the first video frame (ms). */
  firstFrameMs: number | null;
  /** ICE connected -> last packet of the first video frame (ms). */
  firstFrameAfterIceMs: number | null;
  frames: number;
  keyframes: number;
  /** Frames abandoned because their marker packet never arrived. */
  incompleteFrames: number;
  videoPackets: number;
  /** Sequence-number gaps seen on the video stream (lost or reordered packets). */
  videoPacketsMissing: number;
  /** Video payload bytes. */
  bytes: number;
  /** Frames per second between the first and the last frame. */
  fps: number;
  /** Mean video bitrate between the first and the last frame (kbit/s). */
  kbps: number;
  /** Largest gap between two consecutive frame arrivals (ms). */
  maxFrameGapMs: number;
  /** Server-side latency from `frame` messages (ms). */
  latency: LatencySummary | null;
  frameMessages: number;
  /** Jumps in the `index` of `frame` messages (frames the server never sent). */
  frameIndexGaps: number;
  /** Dropped frames as the server last reported them in a `stats` message. */
  serverDroppedFrames: number | null;
  /** The last `stats` message, as received. */
  serverStats: Record<string, unknown> | null;
  audioPacketsSent: number;
  /** Audio packets skipped because the timer fell behind by more than 200 ms. */
  audioPacketsSkipped: number;
  audioPacketsReceived: number;
  /** connect() -> now, or -> close() (ms). */
  durationMs: number;
}

/** Summarises latency samples (ms); null when there are none. */
export function summarizeLatency(samples: readonly number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 0.5),
    p95: percentileOfSorted(sorted, 0.95),
    p99: percentileOfSorted(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

/** One talking-avatar session seen from the client side. */
export class AvatarClient {
  /** Depacketized frames, filled only with `keepFrames: true`. */
  readonly frames: EncodedVideoFrame[] = [];

  private readonly options: Required<Pick<AvatarClientOptions, 'codec' | 'loop' | 'requestTimeoutMs' | 'gatherTimeoutMs'>> &
    AvatarClientOptions;
  private readonly baseUrl: string;
  private pc: RTCPeerConnection | null = null;
  private transports: PeerTransports | undefined;
  private channel: RTCDataChannel | null = null;
  private faceChannel: RTCDataChannel | null = null;
  private audioTrack: MediaStreamTrack | null = null;
  /** Opus payloads of the voice the server sent back (with `echo`), in arrival order. */
  readonly echoAudio: Buffer[] = [];
  private videoTransceiver: RTCRtpTransceiver | null = null;
  private state: AvatarClientState = 'new';
  private sessionUrl: string | null = null;
  private sessionId: string | null = null;
  private answer: string | null = null;

  private audioSender: OpusTrackSender | null = null;

  // Video receiver
  private readonly assembler = new VideoFrameAssembler(
    (payloadType) => this.payloadTypes.get(payloadType) ?? this.videoMime ?? 'video/H264',
  );
  private payloadTypes = new Map<number, string>();
  private videoMime: string | null = null;
  private lastFrameArrivalMs: number | null = null;
  private firstFrameArrivalMs: number | null = null;

  // Measurements
  private connectStartMs = 0;
  private iceConnectedAtMs: number | null = null;
  private closedAtMs: number | null = null;
  private counters = {
    frames: 0,
    keyframes: 0,
    maxFrameGapMs: 0,
    frameMessages: 0,
    frameIndexGaps: 0,
    audioPacketsReceived: 0,
  };
  private latencies: number[] = [];
  private lastFrameIndex: number | null = null;
  private serverStats: Record<string, unknown> | null = null;
  private serverDroppedFrames: number | null = null;
  private frameWaiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(options: AvatarClientOptions) {
    if (typeof options.baseUrl !== 'string' || !/^https?:\/\//.test(options.baseUrl)) {
      throw new TypeError(`invalid baseUrl [baseUrl:${String(options.baseUrl)}]`);
    }
    if (!(options.audio instanceof Float32Array)) throw new TypeError('audio must be a Float32Array (48 kHz mono)');
    const codec = options.codec ?? 'h264';
    if (!VIDEO_CODEC_CHOICES.includes(codec)) {
      throw new TypeError(`invalid codec [codec:${codec}, allowed:${VIDEO_CODEC_CHOICES.join('|')}]`);
    }
    this.options = { loop: false, requestTimeoutMs: 10_000, gatherTimeoutMs: 5_000, ...options, codec };
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** Session id from the Location header, once connected. */
  get id(): string | null {
    return this.sessionId;
  }

  get connectionState(): AvatarClientState {
    return this.state;
  }

  /** The server's SDP answer (its ICE candidates included), once connect() got it. */
  get answerSdp(): string | null {
    return this.answer;
  }

  /**
   * Negotiates the session and starts streaming audio. Resolves once the answer is
   * applied (ICE/DTLS may still be connecting; see waitForConnected()).
   * Throws AvatarServerError on a non-201 answer (503 carries retryAfterS).
   */
  async connect(): Promise<void> {
    if (this.state !== 'new') throw new Error(`connect() called twice [state:${this.state}]`);
    this.state = 'connecting';
    this.connectStartMs = performance.now();
    try {
      const { pc, transports } = createClientPeer(this.options.codec);
      this.pc = pc;
      this.transports = transports;
      pc.iceConnectionStateChange.subscribe((s) => {
        if ((s === 'connected' || s === 'completed') && this.iceConnectedAtMs === null) {
          this.iceConnectedAtMs = performance.now();
        }
      });
      pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected' && this.state === 'connecting') this.state = 'connected';
        if (s === 'failed' && this.state !== 'closed') this.state = 'failed';
      });

      this.audioTrack = new MediaStreamTrack({ kind: 'audio' });
      this.audioSender = new OpusTrackSender(this.audioTrack, { audio: this.options.audio, loop: this.options.loop });
      const audioTransceiver = pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
      audioTransceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => {
          this.counters.audioPacketsReceived++;
          if (this.options.echo && this.echoAudio.length < MAX_ECHO_PACKETS) this.echoAudio.push(Buffer.from(rtp.payload));
        });
      });

      this.videoTransceiver = pc.addTransceiver('video', { direction: 'recvonly' });
      this.videoTransceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => this.onVideoRtp(rtp));
      });

      this.channel = pc.createDataChannel('control');
      this.channel.onMessage.subscribe((data) => this.onControlMessage(data));
      // Face samples go unordered, without retransmits, as the demo page sends them.
      if (this.options.faceChannel) this.faceChannel = pc.createDataChannel('face', { ordered: false, maxRetransmits: 0 });

      const completeOffer = await createCompleteOffer(pc, transports, this.options.gatherTimeoutMs);
      const offer = (this.options.transformOffer ?? ((sdp: string) => sdp))(completeOffer);

      const params = new URLSearchParams();
      if (this.options.referenceId) params.set('reference', this.options.referenceId);
      if (this.options.echo) params.set('echo', '1');
      const query = params.size > 0 ? `?${params}` : '';
      const { body, location } = await postForCreated(`${this.baseUrl}/v1/sessions${query}`, 'application/sdp', offer, {
        token: this.options.token,
        timeoutMs: this.options.requestTimeoutMs,
      });
      if (location) {
        this.sessionUrl = location;
        this.sessionId = new URL(location).pathname.split('/').filter(Boolean).pop() ?? null;
      }
      this.answer = body;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      this.transports?.snapshot();
      for (const codec of this.videoTransceiver.codecs) this.payloadTypes.set(codec.payloadType, codec.mimeType);
      this.videoMime = this.videoTransceiver.codecs[0]?.mimeType ?? null;
      this.audioSender.start();
    } catch (error) {
      // close() may have run while we awaited; TS narrowed `state` before the awaits.
      const closedDuringConnect = (this.state as AvatarClientState) === 'closed';
      await this.teardown(closedDuringConnect ? 'closed' : 'failed');
      if (closedDuringConnect) throw new Error('AvatarClient closed during connect()');
      throw error;
    }
  }

  /** Resolves when ICE and DTLS are connected; rejects after `timeoutMs`. */
  async waitForConnected(timeoutMs = 10_000): Promise<void> {
    const pc = this.pc;
    if (!pc) throw new Error(`not connecting [state:${this.state}]`);
    await waitForPeerConnected(pc, timeoutMs);
  }

  /** Resolves once `count` video frames have arrived in total; rejects after `timeoutMs`. */
  waitForFrames(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.counters.frames >= count) return Promise.resolve();
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
        reject(new Error(`fewer than ${count} frames within ${timeoutMs} ms [frames:${this.counters.frames}]`));
      }, timeoutMs);
      this.frameWaiters.push(waiter);
    });
  }

  /**
   * Sends a raw message on the "face" data channel (`faceChannel: true`): a face sample, or anything a test wants to
   * see refused. Returns false when the channel is not open.
   */
  sendFace(message: unknown): boolean {
    if (!this.faceChannel || this.faceChannel.readyState !== 'open') return false;
    this.faceChannel.send(typeof message === 'string' ? message : JSON.stringify(message));
    return true;
  }

  /** Sends a control message; returns false when the channel is not open yet. */
  send(message: ControlMessage): boolean {
    if (!this.channel || this.channel.readyState !== 'open') return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }

  /** Interrupt: the server empties its queues and glides to idle. */
  clear(): boolean {
    return this.send({ type: 'clear' });
  }

  /** Head pose offset in degrees. */
  setPose(yaw: number, pitch: number, roll: number): boolean {
    return this.send({ type: 'pose', yaw, pitch, roll });
  }

  /** Expression intensity (1 = as predicted). */
  setExpression(scale: number): boolean {
    return this.send({ type: 'expression', scale });
  }

  /** Ask the server for a keyframe with an RTCP PLI for the received video stream; false before any video arrived. */
  requestKeyframe(): boolean {
    const ssrc = this.assembler.ssrc;
    if (ssrc === null || !this.videoTransceiver) return false;
    this.videoTransceiver.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
    return true;
  }

  /** Sends `durationMs` of encoded silence before resuming the audio where it was. */
  insertSilence(durationMs: number): void {
    if (!this.audioSender) throw new Error(`not connecting [state:${this.state}]`);
    this.audioSender.insertSilence(durationMs);
  }

  /** Stops sending audio packets (the RTP clock keeps running, like a muted DTX sender). */
  pause(): void {
    this.audioSender?.pause();
  }

  /** Resumes sending audio after pause(); the next packet carries the marker bit. */
  resume(): void {
    this.audioSender?.resume();
  }

  /** Raw server-side latency samples from `frame` messages (ms), in arrival order. */
  latencySamples(): readonly number[] {
    return this.latencies;
  }

  /** Snapshot of the measurements, as a plain object. */
  getStats(): AvatarClientStats {
    const c = this.counters;
    const v = this.assembler.counters;
    const first = this.firstFrameArrivalMs;
    const last = this.lastFrameArrivalMs;
    const spanS = first !== null && last !== null && last > first ? (last - first) / 1000 : 0;
    const end = this.closedAtMs ?? performance.now();
    return {
      sessionId: this.sessionId,
      state: this.state,
      videoCodec: this.negotiatedVideoCodec(),
      iceConnectedMs: this.iceConnectedAtMs === null ? null : this.iceConnectedAtMs - this.connectStartMs,
      firstFrameMs: first === null ? null : first - this.connectStartMs,
      firstFrameAfterIceMs: first === null || this.iceConnectedAtMs === null ? null : first - this.iceConnectedAtMs,
      frames: c.frames,
      keyframes: c.keyframes,
      incompleteFrames: v.incompleteFrames,
      videoPackets: v.packets,
      videoPacketsMissing: v.packetsMissing,
      bytes: v.payloadBytes,
      fps: spanS > 0 ? (c.frames - 1) / spanS : 0,
      kbps: spanS > 0 ? (v.payloadBytes * 8) / 1000 / spanS : 0,
      maxFrameGapMs: c.maxFrameGapMs,
      latency: summarizeLatency(this.latencies),
      frameMessages: c.frameMessages,
      frameIndexGaps: c.frameIndexGaps,
      serverDroppedFrames: this.serverDroppedFrames,
      serverStats: this.serverStats,
      audioPacketsSent: this.audioSender?.counters.sent ?? 0,
      audioPacketsSkipped: this.audioSender?.counters.skipped ?? 0,
      audioPacketsReceived: c.audioPacketsReceived,
      durationMs: this.connectStartMs === 0 ? 0 : end - this.connectStartMs,
    };
  }

  /** Ends the session: DELETE on the server (best effort), then closes the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const sessionUrl = this.sessionUrl;
    await this.teardown('closed');
    if (sessionUrl) await deleteResource(sessionUrl, { token: this.options.token, timeoutMs: this.options.requestTimeoutMs });
  }

  // ---------------------------------------------------------------- internals

  private negotiatedVideoCodec(): string | null {
    return this.videoMime;
  }

  private onVideoRtp(rtp: RtpPacket): void {
    const encoded = this.assembler.push(rtp, performance.now());
    if (encoded) this.onEncodedFrame(encoded);
  }

  private onEncodedFrame(encoded: EncodedVideoFrame): void {
    const c = this.counters;
    const arrivalMs = encoded.arrivalMs;
    c.frames++;
    if (encoded.keyframe) c.keyframes++;
    if (this.firstFrameArrivalMs === null) this.firstFrameArrivalMs = arrivalMs;
    if (this.lastFrameArrivalMs !== null) c.maxFrameGapMs = Math.max(c.maxFrameGapMs, arrivalMs - this.lastFrameArrivalMs);
    this.lastFrameArrivalMs = arrivalMs;

    if (this.options.keepFrames) this.frames.push(encoded);
    this.options.onFrame?.(encoded);
    if (this.frameWaiters.length > 0) {
      const ready = this.frameWaiters.filter((w) => w.count <= c.frames);
      this.frameWaiters = this.frameWaiters.filter((w) => w.count > c.frames);
      for (const w of ready) w.resolve();
    }
  }

  private onControlMessage(data: string | Buffer): void {
    let message: ServerMessage;
    try {
      const parsed: unknown = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string') return;
      message = parsed as ServerMessage;
    } catch {
      return;
    }
    if (message.type === 'frame') {
      const c = this.counters;
      c.frameMessages++;
      const { index, latencyMs } = message as { index?: unknown; latencyMs?: unknown };
      if (typeof latencyMs === 'number' && Number.isFinite(latencyMs) && this.latencies.length < MAX_LATENCY_SAMPLES) {
        this.latencies.push(latencyMs);
      }
      if (typeof index === 'number') {
        if (this.lastFrameIndex !== null && index > this.lastFrameIndex + 1) c.frameIndexGaps += index - this.lastFrameIndex - 1;
        this.lastFrameIndex = index;
      }
    } else if (message.type === 'stats') {
      this.serverStats = message as Record<string, unknown>;
      const dropped = findDroppedFrames(message as Record<string, unknown>);
      if (dropped !== null) this.serverDroppedFrames = dropped;
    }
    this.options.onMessage?.(message);
  }

  private async teardown(state: 'closed' | 'failed'): Promise<void> {
    this.state = state;
    this.closedAtMs ??= performance.now();
    this.audioSender?.stop();
    this.assembler.reset();
    const pc = this.pc;
    this.pc = null;
    if (pc) await (this.transports ?? new PeerTransports(pc)).close().catch(() => undefined);
  }
}

/** The server's stats message names are not pinned down by the wire API; accept the likely ones. */
function findDroppedFrames(stats: Record<string, unknown>): number | null {
  for (const key of ['droppedFrames', 'framesDropped', 'dropped']) {
    const v = stats[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  for (const nested of ['video', 'frames', 'pipeline']) {
    const v = stats[nested];
    if (typeof v === 'object' && v !== null) {
      const found = findDroppedFrames(v as Record<string, unknown>);
      if (found !== null) return found;
    }
  }
  return null;
}
