import { VideoEncoder as NativeVideoEncoder, VideoFrame } from '@napi-rs/webcodecs';
import type { EncodedVideoChunk } from '@napi-rs/webcodecs';
import { InvalidStateError } from '../errors.ts';
import { checkFrameSize, closedError, emptyEncoderStats, KeyframeSchedule, readProfileLevelId, validateConfig, type EncodedVideoFrame, type VideoFrameEncoder, type VideoEncoderConfig, type VideoEncoderStats, type PendingFrame } from './VideoEncoder.ts';

/** An encoder that returns nothing for this long with frames pending is failed, ms. */
const STALL_TIMEOUT_MS = 2000;

/**
 * RGBA -> H.264 (Annex B) or VP8 over @napi-rs/webcodecs, with keyframes under our control.
 * Uses latencyMode 'quality' because 'realtime' forces a keyframe every 10 frames here; 'quality'
 * still returns each frame right after its encode (no B-frames, no lookahead).
 * Note: the bundled x264 always produces High profile with CABAC whatever the codec string says, and its VP8
 * has no speed setting (10-18 ms a 512x512 frame): LibavVideoEncoder is the default where node-av loads.
 */
export class WebCodecsVideoEncoder implements VideoFrameEncoder {
  /** The validated configuration. */
  readonly config: Readonly<VideoEncoderConfig>;
  private readonly encoder: NativeVideoEncoder;
  private readonly pending: PendingFrame[] = [];
  private isClosed = false;
  private profileLevelId: string | undefined;
  /**
   * Watchdog while frames are pending. It also keeps the event loop alive: the native encoder's
   * output callback does not, so a script awaiting encode() would otherwise exit early.
   */
  private watchdog: NodeJS.Timeout | undefined;
  private readonly stats: VideoEncoderStats = emptyEncoderStats();
  private readonly keyframes: KeyframeSchedule;

  constructor(config: VideoEncoderConfig) {
    this.config = Object.freeze(validateConfig(config));
    this.keyframes = new KeyframeSchedule(this.config.keyframeIntervalFrames);
    const { codec, width, height, fps, bitrateKbps } = this.config;
    this.encoder = new NativeVideoEncoder({
      output: (chunk) => this.onOutput(chunk),
      error: (err) => this.fail(err instanceof Error ? err : new Error(String(err))),
    });
    this.encoder.configure({
      codec: codec === 'h264' ? 'avc1.42e01f' : 'vp8',
      width,
      height,
      framerate: fps,
      bitrate: bitrateKbps * 1000,
      latencyMode: 'quality',
      ...(codec === 'h264' ? { avc: { format: 'annexb' as const } } : {}),
    });
  }

  /** True after close() or an encoder error. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Frames submitted and not yet output. */
  get pendingFrames(): number {
    return this.pending.length;
  }

  /** H.264 profile-level-id of the stream (6 hex digits from the SPS, e.g. '64001e'), known after the first keyframe. */
  get h264ProfileLevelId(): string | undefined {
    return this.profileLevelId;
  }

  /** Encodes one RGBA frame (width*height*4 bytes); resolves with the encoded frame, rejects if the encoder fails or closes. */
  encode(rgba: Uint8Array, timestampUs: number, forceKeyframe = false): Promise<EncodedVideoFrame> {
    if (this.isClosed) return Promise.reject(closedError(this.config.codec));
    const sizeError = checkFrameSize(rgba, this.config);
    if (sizeError) return Promise.reject(sizeError);
    const { width, height } = this.config;
    const keyFrame = this.keyframes.next(forceKeyframe);
    return new Promise<EncodedVideoFrame>((resolve, reject) => {
      const frame = new VideoFrame(rgba, { format: 'RGBA', codedWidth: width, codedHeight: height, timestamp: timestampUs });
      this.pending.push({ timestampUs, submittedAt: performance.now(), resolve, reject });
      this.armWatchdog();
      try {
        this.encoder.encode(frame, { keyFrame });
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      } finally {
        frame.close();
      }
    });
  }

  /** Makes the next encoded frame a keyframe (on PLI/FIR). */
  requestKeyframe(): void {
    this.stats.keyframeRequests++;
    this.keyframes.request();
  }

  /** Closes the encoder; pending encodes reject with InvalidStateError. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.rejectAll(new InvalidStateError(`VideoEncoder closed, pending frame aborted [codec:${this.config.codec}]`));
    try {
      this.encoder.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }

  /** Counters. */
  toJSON(): VideoEncoderStats & { pending: number; closed: boolean } {
    return { ...this.stats, pending: this.pending.length, closed: this.isClosed };
  }

  private onOutput(chunk: EncodedVideoChunk): void {
    const timestampUs = chunk.timestamp;
    // Outputs come in submit order; anything older than this chunk was dropped by the encoder.
    while (this.pending.length > 0 && this.pending[0]!.timestampUs !== timestampUs) {
      const lost = this.pending.shift()!;
      this.stats.dropped++;
      lost.reject(new Error(`encoder dropped frame [timestampUs:${lost.timestampUs}]`));
    }
    const waiter = this.pending.shift();
    if (!waiter) return;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const keyframe = chunk.type === 'key';
    if (keyframe) {
      this.stats.keyframes++;
      // An encoder-chosen keyframe (scene cut) also restarts the interval, like x264's keyint.
      // Only when nothing is queued behind it, so the count stays tied to submit order.
      if (this.pending.length === 0) this.keyframes.restart();
      if (this.config.codec === 'h264' && this.profileLevelId === undefined) this.profileLevelId = readProfileLevelId(data);
    }
    this.stats.frames++;
    this.stats.bytes += data.length;
    this.stats.encodeMsTotal += performance.now() - waiter.submittedAt;
    waiter.resolve({ data, keyframe, timestampUs });
    if (this.pending.length === 0) this.disarmWatchdog();
    else this.watchdog?.refresh();
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      this.fail(new Error(`no output for ${STALL_TIMEOUT_MS} ms with ${this.pending.length} frame(s) pending`));
    }, STALL_TIMEOUT_MS);
  }

  private disarmWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private fail(err: Error): void {
    this.stats.errors++;
    this.isClosed = true;
    this.rejectAll(new InvalidStateError(`VideoEncoder failed: ${err.message} [codec:${this.config.codec}]`));
    try {
      this.encoder.close();
    } catch {
      // The native encoder may already be closed after its error callback.
    }
  }

  private rejectAll(err: Error): void {
    this.disarmWatchdog();
    for (const waiter of this.pending.splice(0)) waiter.reject(err);
  }
}
