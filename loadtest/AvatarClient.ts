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
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  dePacketizeRtpPackets,
  useH264,
  useOPUS,
  useVP8,
} from 'werift';
import { RTCRtpCodecParameters, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import { OPUS_FRAME_SAMPLES, OPUS_RATE, OpusEncoder } from '../server/media/OpusCodec.ts';
import { PeerTransports } from '../server/media/PeerTransports.ts';
import { percentileOfSorted } from '../engines/util/percentile.ts';
import { disableDefaultStun } from '../server/media/noDefaultStun.ts';

/** Audio sample rate the client encodes at (Hz). */
export const AUDIO_RATE_HZ = OPUS_RATE;
/** Opus packet duration (ms). */
export const AUDIO_PACKET_MS = 20;
const SAMPLES_PER_PACKET = OPUS_FRAME_SAMPLES; // 20 ms at 48 kHz
/** When the event loop stalls longer than this, skip audio instead of bursting it (ms). */
const MAX_CATCH_UP_MS = 200;
/** Frames whose marker packet never came are abandoned after this many newer frames. */
const MAX_PENDING_FRAMES = 8;
/** Bound on stored latency samples (about 11 h at 25 fps). */
const MAX_LATENCY_SAMPLES = 1_000_000;

export type VideoCodecChoice = 'h264' | 'vp8' | 'both';

export interface AvatarClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Portrait id from POST /v1/references; the server's default portrait when absent. */
  referenceId?: string;
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

/** One complete received video frame. */
export interface EncodedVideoFrame {
  /** Annex B for H.264, the raw VP8 frame for VP8. */
  data: Buffer;
  /** 'video/H264' or 'video/VP8'. */
  mimeType: string;
  keyframe: boolean;
  rtpTimestamp: number;
  /** performance.now() at the arrival of the frame's last packet (ms). */
  arrivalMs: number;
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
  | { type: 'expression'; scale: number };

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

/** A failed HTTP exchange with the server; `retryAfterS` is set on 503. */
export class AvatarServerError extends Error {
  override readonly name = 'AvatarServerError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    readonly retryAfterS: number | null,
  ) {
    super(message);
  }
}

/** Encoded Opus packets per PCM buffer, shared by every client streaming the same audio. */
const encodedAudioCache = new WeakMap<Float32Array, Buffer[]>();

/** Encodes 48 kHz mono PCM into 20 ms Opus packets (last one zero-padded). */
export function encodeOpusPackets(audio: Float32Array): Buffer[] {
  const cached = encodedAudioCache.get(audio);
  if (cached) return cached;
  const encoder = new OpusEncoder();
  const frame = new Float32Array(SAMPLES_PER_PACKET);
  const packets: Buffer[] = [];
  for (let start = 0; start < audio.length; start += SAMPLES_PER_PACKET) {
    frame.fill(0);
    frame.set(audio.subarray(start, Math.min(start + SAMPLES_PER_PACKET, audio.length)));
    const packet = encoder.encodeFrame(frame);
    packets.push(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }
  encodedAudioCache.set(audio, packets);
  return packets;
}

let silencePacket: Buffer | null = null;
function opusSilence(): Buffer {
  if (!silencePacket) {
    const packet = new OpusEncoder().encodeFrame(new Float32Array(SAMPLES_PER_PACKET));
    silencePacket = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  }
  return silencePacket;
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

interface PendingFrame {
  timestamp: number;
  packets: RtpPacket[];
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
  private audioTrack: MediaStreamTrack | null = null;
  private videoTransceiver: RTCRtpTransceiver | null = null;
  private state: AvatarClientState = 'new';
  private sessionUrl: string | null = null;
  private sessionId: string | null = null;
  private answer: string | null = null;

  // Audio sender
  private audioPackets: Buffer[] = [];
  private audioCursor = 0;
  private audioSeq = Math.floor(Math.random() * 0x10000);
  private audioTs = Math.floor(Math.random() * 0x1_0000_0000);
  private audioTimer: NodeJS.Timeout | null = null;
  private audioStartMs = 0;
  private audioTicks = 0;
  private silenceLeft = 0;
  private paused = false;
  private talkspurt = true;

  // Video receiver
  private readonly pending = new Map<number, PendingFrame>();
  private payloadTypes = new Map<number, string>();
  private videoMime: string | null = null;
  private lastVideoSeq: number | null = null;
  private videoSsrc: number | null = null;
  private lastFrameArrivalMs: number | null = null;
  private firstFrameArrivalMs: number | null = null;

  // Measurements
  private connectStartMs = 0;
  private iceConnectedAtMs: number | null = null;
  private closedAtMs: number | null = null;
  private counters = {
    frames: 0,
    keyframes: 0,
    incompleteFrames: 0,
    videoPackets: 0,
    videoPacketsMissing: 0,
    bytes: 0,
    maxFrameGapMs: 0,
    frameMessages: 0,
    frameIndexGaps: 0,
    audioPacketsSent: 0,
    audioPacketsSkipped: 0,
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
    if (!['h264', 'vp8', 'both'].includes(codec)) {
      throw new TypeError(`invalid codec [codec:${codec}, allowed:h264|vp8|both]`);
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
    this.audioPackets = encodeOpusPackets(this.options.audio);
    try {
      const pc = new RTCPeerConnection({
        iceServers: [],
        // Seconds. No STUN server is configured, but keep gathering short regardless.
        iceStunGatherTimeout: 0.1,
        iceAdditionalHostAddresses: ['127.0.0.1'],
        iceUseIpv6: false,
        codecs: { audio: [useOPUS()], video: this.videoCodecs() },
      });
      this.pc = pc;
      this.transports = new PeerTransports(pc);
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
      const audioTransceiver = pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
      audioTransceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe(() => {
          this.counters.audioPacketsReceived++;
        });
      });

      this.videoTransceiver = pc.addTransceiver('video', { direction: 'recvonly' });
      this.videoTransceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => this.onVideoRtp(rtp));
      });

      this.channel = pc.createDataChannel('control');
      this.channel.onMessage.subscribe((data) => this.onControlMessage(data));

      disableDefaultStun(pc);
      await pc.setLocalDescription(await pc.createOffer());
      this.transports.snapshot();
      await this.waitForGathering(pc);
      const offer = (this.options.transformOffer ?? ((sdp: string) => sdp))(pc.localDescription!.sdp);

      const query = this.options.referenceId ? `?reference=${encodeURIComponent(this.options.referenceId)}` : '';
      const res = await fetch(`${this.baseUrl}/v1/sessions${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp', ...this.authHeader() },
        body: offer,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const body = await res.text();
      if (res.status !== 201) {
        const retry = res.headers.get('retry-after');
        const retryAfterS = retry !== null && retry !== '' && Number.isFinite(Number(retry)) ? Number(retry) : null;
        throw new AvatarServerError(
          `session offer rejected [status:${res.status}, body:${body.slice(0, 200)}]`,
          res.status,
          body,
          retryAfterS,
        );
      }
      const location = res.headers.get('location');
      if (location) {
        this.sessionUrl = new URL(location, `${this.baseUrl}/`).toString();
        this.sessionId = location.split('/').filter(Boolean).pop() ?? null;
      }
      this.answer = body;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      this.transports?.snapshot();
      for (const codec of this.videoTransceiver.codecs) this.payloadTypes.set(codec.payloadType, codec.mimeType);
      this.videoMime = this.videoTransceiver.codecs[0]?.mimeType ?? null;
      this.startAudio();
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
    if (this.videoSsrc === null || !this.videoTransceiver) return false;
    this.videoTransceiver.receiver.sendRtcpPLI(this.videoSsrc).catch(() => undefined);
    return true;
  }

  /** Sends `durationMs` of encoded silence before resuming the audio where it was. */
  insertSilence(durationMs: number): void {
    if (!(durationMs >= 0)) throw new TypeError(`invalid durationMs [durationMs:${durationMs}]`);
    this.silenceLeft += Math.round(durationMs / AUDIO_PACKET_MS);
  }

  /** Stops sending audio packets (the RTP clock keeps running, like a muted DTX sender). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes sending audio after pause(); the next packet carries the marker bit. */
  resume(): void {
    if (this.paused) this.talkspurt = true;
    this.paused = false;
  }

  /** Raw server-side latency samples from `frame` messages (ms), in arrival order. */
  latencySamples(): readonly number[] {
    return this.latencies;
  }

  /** Snapshot of the measurements, as a plain object. */
  getStats(): AvatarClientStats {
    const c = this.counters;
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
      incompleteFrames: c.incompleteFrames,
      videoPackets: c.videoPackets,
      videoPacketsMissing: c.videoPacketsMissing,
      bytes: c.bytes,
      fps: spanS > 0 ? (c.frames - 1) / spanS : 0,
      kbps: spanS > 0 ? (c.bytes * 8) / 1000 / spanS : 0,
      maxFrameGapMs: c.maxFrameGapMs,
      latency: summarizeLatency(this.latencies),
      frameMessages: c.frameMessages,
      frameIndexGaps: c.frameIndexGaps,
      serverDroppedFrames: this.serverDroppedFrames,
      serverStats: this.serverStats,
      audioPacketsSent: c.audioPacketsSent,
      audioPacketsSkipped: c.audioPacketsSkipped,
      audioPacketsReceived: c.audioPacketsReceived,
      durationMs: this.connectStartMs === 0 ? 0 : end - this.connectStartMs,
    };
  }

  /** Ends the session: DELETE on the server (best effort), then closes the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const sessionUrl = this.sessionUrl;
    await this.teardown('closed');
    if (sessionUrl) {
      try {
        const res = await fetch(sessionUrl, {
          method: 'DELETE',
          headers: this.authHeader(),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        });
        await res.body?.cancel();
      } catch {
        // The server may already be gone (end of a load test); the peer is closed either way.
      }
    }
  }

  // ---------------------------------------------------------------- internals

  private videoCodecs(): RTCRtpCodecParameters[] {
    // Offer High profile before baseline, as Chrome does: the server's x264 stream is High profile.
    const h264 = [h264High(), useH264()];
    switch (this.options.codec) {
      case 'h264':
        return h264;
      case 'vp8':
        return [useVP8()];
      case 'both':
        return [...h264, useVP8()];
    }
  }

  private negotiatedVideoCodec(): string | null {
    return this.videoMime;
  }

  private authHeader(): Record<string, string> {
    return this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  private waitForGathering(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    const timeoutMs = this.options.gatherTimeoutMs;
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

  private startAudio(): void {
    this.audioStartMs = performance.now();
    this.audioTicks = 0;
    this.scheduleAudio();
  }

  /** setTimeout chain re-aimed at start + n * 20 ms each time, so timer jitter does not accumulate. */
  private scheduleAudio(): void {
    const due = this.audioStartMs + (this.audioTicks + 1) * AUDIO_PACKET_MS;
    this.audioTimer = setTimeout(() => this.onAudioTick(), Math.max(0, due - performance.now()));
  }

  private onAudioTick(): void {
    this.audioTimer = null;
    if (this.state === 'closed' || this.state === 'failed') return;
    const now = performance.now();
    const dueTicks = Math.floor((now - this.audioStartMs) / AUDIO_PACKET_MS);
    let behind = dueTicks - this.audioTicks;
    const maxBurst = MAX_CATCH_UP_MS / AUDIO_PACKET_MS;
    if (behind > maxBurst) {
      // The loop stalled: a real microphone would have lost this audio too. Skip it but keep the
      // RTP clock honest so the server sees a gap, not compressed time.
      const skip = behind - 1;
      this.counters.audioPacketsSkipped += skip;
      this.audioTicks += skip;
      this.audioTs = (this.audioTs + skip * SAMPLES_PER_PACKET) >>> 0;
      this.advanceCursor(skip);
      this.talkspurt = true;
      behind = 1;
    }
    for (let i = 0; i < behind; i++) this.sendAudioPacket();
    this.scheduleAudio();
  }

  private advanceCursor(packets: number): void {
    const n = this.audioPackets.length;
    if (n === 0) return;
    this.audioCursor += packets;
    if (this.options.loop) this.audioCursor %= n;
  }

  private nextAudioPayload(): Buffer {
    if (this.silenceLeft > 0) {
      this.silenceLeft--;
      return opusSilence();
    }
    const n = this.audioPackets.length;
    if (this.audioCursor >= n) {
      if (!this.options.loop || n === 0) return opusSilence();
      this.audioCursor = 0;
    }
    return this.audioPackets[this.audioCursor++]!;
  }

  private sendAudioPacket(): void {
    this.audioTicks++;
    const payload = this.paused ? null : this.nextAudioPayload();
    if (payload && this.audioTrack) {
      const header = new RtpHeader({
        payloadType: 111, // rewritten by the werift sender to the negotiated type
        sequenceNumber: this.audioSeq,
        timestamp: this.audioTs,
        marker: this.talkspurt,
      });
      this.audioTrack.writeRtp(new RtpPacket(header, payload));
      this.audioSeq = (this.audioSeq + 1) & 0xffff;
      this.talkspurt = false;
      this.counters.audioPacketsSent++;
    }
    this.audioTs = (this.audioTs + SAMPLES_PER_PACKET) >>> 0;
  }

  private onVideoRtp(rtp: RtpPacket): void {
    const arrivalMs = performance.now();
    this.videoSsrc = rtp.header.ssrc;
    const c = this.counters;
    c.videoPackets++;
    const seq = rtp.header.sequenceNumber;
    if (this.lastVideoSeq !== null) {
      const gap = (seq - this.lastVideoSeq - 1) & 0xffff;
      if (gap > 0 && gap < 0x8000) c.videoPacketsMissing += gap;
    }
    if (this.lastVideoSeq === null || ((seq - this.lastVideoSeq) & 0xffff) < 0x8000) this.lastVideoSeq = seq;

    const ts = rtp.header.timestamp;
    let frame = this.pending.get(ts);
    if (!frame) {
      frame = { timestamp: ts, packets: [] };
      this.pending.set(ts, frame);
      if (this.pending.size > MAX_PENDING_FRAMES) {
        const oldest = this.pending.keys().next().value!;
        this.pending.delete(oldest);
        c.incompleteFrames++;
      }
    }
    frame.packets.push(rtp);
    if (!rtp.header.marker) return;

    this.pending.delete(ts);
    // Older frames still waiting for their marker will never complete in order.
    for (const [olderTs] of this.pending) {
      if (((ts - olderTs) >>> 0) < 0x8000_0000 && olderTs !== ts) {
        this.pending.delete(olderTs);
        c.incompleteFrames++;
      }
    }
    this.completeFrame(frame, arrivalMs);
  }

  private completeFrame(frame: PendingFrame, arrivalMs: number): void {
    const c = this.counters;
    const packets = frame.packets.sort((a, b) => {
      const d = (a.header.sequenceNumber - b.header.sequenceNumber) & 0xffff;
      return d === 0 ? 0 : d < 0x8000 ? 1 : -1;
    });
    const mimeType = this.payloadTypes.get(packets[0]!.header.payloadType) ?? this.negotiatedVideoCodec() ?? 'video/H264';
    const depacketizer = mimeType.toLowerCase() === 'video/vp8' ? 'VP8' : 'MPEG4/ISO/AVC';
    let data: Buffer;
    let keyframe: boolean;
    try {
      const out = dePacketizeRtpPackets(depacketizer, packets);
      data = out.data;
      keyframe = out.isKeyframe;
    } catch {
      c.incompleteFrames++;
      return;
    }
    if (data.length === 0) {
      c.incompleteFrames++;
      return;
    }
    c.frames++;
    if (keyframe) c.keyframes++;
    for (const p of packets) c.bytes += p.payload.length;
    if (this.firstFrameArrivalMs === null) this.firstFrameArrivalMs = arrivalMs;
    if (this.lastFrameArrivalMs !== null) c.maxFrameGapMs = Math.max(c.maxFrameGapMs, arrivalMs - this.lastFrameArrivalMs);
    this.lastFrameArrivalMs = arrivalMs;

    const encoded: EncodedVideoFrame = { data, mimeType, keyframe, rtpTimestamp: frame.timestamp, arrivalMs };
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
    if (this.audioTimer) clearTimeout(this.audioTimer);
    this.audioTimer = null;
    this.pending.clear();
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
