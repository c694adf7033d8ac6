/**
 * A WHIP publisher (werift): sends speech as Opus to `POST /v1/whip`, which drives an avatar session that
 * viewers watch over WHEP. Audio only; the session's id comes from the answer's Location.
 *
 *   const pub = new WhipPublisher({ baseUrl: 'http://127.0.0.1:8080', audio: pcm48k });
 *   await pub.connect();            // sendonly offer -> POST /v1/whip -> answer, audio starts
 *   console.log(pub.sessionId);     // view at /view/{id}
 *   await pub.close();              // DELETE the session, close the peer
 */
import { performance } from 'node:perf_hooks';
import { MediaStreamTrack, type RTCPeerConnection } from 'werift';
import type { PeerTransports } from '../server/media/PeerTransports.ts';
import { createClientPeer, createCompleteOffer, waitForPeerConnected } from './clientPeer.ts';
import { OpusTrackSender } from './OpusTrackSender.ts';
import { deleteResource, postForCreated } from './serverRequests.ts';

export interface WhipPublisherOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** 48 kHz mono PCM in [-1, 1]. */
  audio: Float32Array;
  /** Start over at the end of `audio` (default false: silence after the end). */
  loop?: boolean;
  /** Portrait id from POST /v1/references; the server's default when absent. */
  referenceId?: string;
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string;
  /** Deadline for each HTTP request (ms, default 10000). */
  requestTimeoutMs?: number;
  /** Deadline for ICE gathering (ms, default 5000). */
  gatherTimeoutMs?: number;
}

export class WhipPublisher {
  private readonly options: WhipPublisherOptions & { requestTimeoutMs: number; gatherTimeoutMs: number };
  private pc: RTCPeerConnection | null = null;
  private transports: PeerTransports | null = null;
  private sender: OpusTrackSender | null = null;
  private resourceUrl: string | null = null;
  private startedAtMs: number | null = null;
  private closed = false;

  constructor(options: WhipPublisherOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) throw new TypeError(`invalid baseUrl [baseUrl:${String(options.baseUrl)}]`);
    if (!(options.audio instanceof Float32Array)) throw new TypeError('audio must be a Float32Array (48 kHz mono)');
    this.options = { requestTimeoutMs: 10_000, gatherTimeoutMs: 5_000, ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  /** The session's resource (`Location` of the answer), once connected. */
  get url(): string | null {
    return this.resourceUrl;
  }

  get sessionId(): string | null {
    return this.resourceUrl ? (new URL(this.resourceUrl).pathname.split('/').filter(Boolean).pop() ?? null) : null;
  }

  /** Audio sent to its end (never with `loop`). */
  get finished(): boolean {
    return this.sender?.finished ?? false;
  }

  /** Seconds of audio sent since connect(). */
  get sentSeconds(): number {
    return this.startedAtMs === null ? 0 : (performance.now() - this.startedAtMs) / 1000;
  }

  /** Offer -> WHIP POST -> answer, then starts the audio. Throws AvatarServerError on a non-201 answer. */
  async connect(): Promise<void> {
    if (this.pc) throw new Error('connect() called twice');
    const { pc, transports } = createClientPeer('h264');
    this.pc = pc;
    this.transports = transports;
    try {
      const track = new MediaStreamTrack({ kind: 'audio' });
      pc.addTransceiver(track, { direction: 'sendonly' });
      this.sender = new OpusTrackSender(track, { audio: this.options.audio, loop: this.options.loop ?? false });
      const offer = await createCompleteOffer(pc, transports, this.options.gatherTimeoutMs);
      const query = this.options.referenceId ? `?reference=${encodeURIComponent(this.options.referenceId)}` : '';
      const { body, location } = await postForCreated(`${this.options.baseUrl}/v1/whip${query}`, 'application/sdp', offer, {
        token: this.options.token,
        timeoutMs: this.options.requestTimeoutMs,
      });
      this.resourceUrl = location;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      transports.snapshot();
      this.sender.start();
      this.startedAtMs = performance.now();
    } catch (error) {
      await this.teardown();
      throw error;
    }
  }

  async waitForConnected(timeoutMs = 10_000): Promise<void> {
    if (!this.pc) throw new Error('not connecting');
    await waitForPeerConnected(this.pc, timeoutMs);
  }

  /** DELETE the session (best effort), then close the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const url = this.resourceUrl;
    await this.teardown();
    if (url) await deleteResource(url, { token: this.options.token, timeoutMs: this.options.requestTimeoutMs });
  }

  private async teardown(): Promise<void> {
    this.sender?.stop();
    const transports = this.transports;
    this.pc = null;
    this.transports = null;
    await transports?.close().catch(() => undefined);
  }
}
