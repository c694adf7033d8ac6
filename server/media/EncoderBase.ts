import { InvalidStateError } from '../errors.ts';
import type { EncodedVideoFrame, VideoCodecName, VideoEncoderConfig, VideoEncoderStats, VideoFrameEncoder } from './VideoEncoder.ts';

/**
 * What every encoder backend shares: config checks, keyframe placement, frames waiting for output (in submit order),
 * output bookkeeping and counters, close and failure. A backend submits frames to its codec and releases it.
 */
export abstract class EncoderBase<P extends PendingFrame = PendingFrame> implements VideoFrameEncoder {
  readonly config: Readonly<VideoEncoderConfig>;
  protected readonly pending: P[] = [];
  protected readonly stats: VideoEncoderStats = emptyEncoderStats();
  private readonly keyframes: KeyframeSchedule;
  private isClosed = false;
  private profileLevelId: string | undefined;

  constructor(config: VideoEncoderConfig) {
    this.config = Object.freeze(validateConfig(config));
    this.keyframes = new KeyframeSchedule(this.config.keyframeIntervalFrames);
  }

  /** True after close() or an encoder error. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Frames submitted and not yet output. */
  get pendingFrames(): number {
    return this.pending.length;
  }

  /** H.264 profile-level-id of the stream (6 hex digits from the SPS), known after the first keyframe. */
  get h264ProfileLevelId(): string | undefined {
    return this.profileLevelId;
  }

  /** Encodes one RGBA frame (width*height*4 bytes); resolves with the encoded frame, rejects if the encoder fails or closes. */
  encode(rgba: Uint8Array, timestampUs: number, forceKeyframe = false): Promise<EncodedVideoFrame> {
    if (this.isClosed) return Promise.reject(closedError(this.config.codec));
    const sizeError = checkFrameSize(rgba, this.config);
    if (sizeError) return Promise.reject(sizeError);
    const keyFrame = this.keyframes.next(forceKeyframe);
    return new Promise<EncodedVideoFrame>((resolve, reject) => {
      this.submit(rgba, keyFrame, { timestampUs, submittedAt: performance.now(), resolve, reject });
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
    this.release();
  }

  /** Counters. */
  toJSON(): VideoEncoderStats & { pending: number; closed: boolean } {
    return { ...this.stats, pending: this.pending.length, closed: this.isClosed };
  }

  /** Hands one frame to the codec; the backend queues `waiter` in `pending` and settles it through deliver/drop/fail. */
  protected abstract submit(rgba: Uint8Array, keyFrame: boolean, waiter: PendingFrame): void;

  /** Releases the codec (after close or failure; at most once). */
  protected abstract release(): void;

  /** A frame the codec skipped (rate control): counted and rejected. */
  protected drop(lost: P): void {
    this.stats.dropped++;
    lost.reject(new Error(`encoder dropped frame [timestampUs:${lost.timestampUs}]`));
  }

  /** A frame the codec output: counted and resolved. */
  protected deliver(waiter: P, data: Uint8Array, keyframe: boolean): void {
    if (keyframe) {
      this.stats.keyframes++;
      // Only when nothing is queued behind it, so the keyframe count stays tied to submit order.
      if (this.pending.length === 0) this.keyframes.restart();
      if (this.config.codec === 'h264' && this.profileLevelId === undefined) this.profileLevelId = readProfileLevelId(data);
    }
    this.stats.frames++;
    this.stats.bytes += data.length;
    this.stats.encodeMsTotal += performance.now() - waiter.submittedAt;
    waiter.resolve({ data, keyframe, timestampUs: waiter.timestampUs });
  }

  /** The codec failed: every pending frame rejects, the encoder closes for good. */
  protected fail(err: Error): void {
    if (this.isClosed) return;
    this.stats.errors++;
    this.isClosed = true;
    this.rejectAll(new InvalidStateError(`VideoEncoder failed: ${err.message} [codec:${this.config.codec}]`));
    this.release();
  }

  protected rejectAll(err: Error): void {
    for (const waiter of this.pending.splice(0)) waiter.reject(err);
  }
}

/**
 * Which frames are keyframes: the first, every `intervalFrames` counted from the last keyframe, any forced or requested
 * (PLI/FIR) one; an encoder-chosen keyframe (scene cut) also restarts the count, as x264's keyint does.
 */
class KeyframeSchedule {
  private sinceKeyframe = 0;
  private requested = true;

  constructor(private readonly intervalFrames: number) {}

  /** Whether the next frame submitted is a keyframe (and counts it). */
  next(force: boolean): boolean {
    const key = force || this.requested || this.sinceKeyframe >= this.intervalFrames;
    if (key) {
      this.requested = false;
      this.sinceKeyframe = 0;
    }
    this.sinceKeyframe++;
    return key;
  }

  request(): void {
    this.requested = true;
  }

  /** A keyframe came out with nothing queued behind it: the count restarts there. */
  restart(): void {
    this.sinceKeyframe = 1;
  }
}

/** A frame submitted to an encoder and not yet output. */
export interface PendingFrame {
  timestampUs: number;
  submittedAt: number;
  resolve: (frame: EncodedVideoFrame) => void;
  reject: (err: Error) => void;
}

/** Fresh counters of an encoder. */
function emptyEncoderStats(): VideoEncoderStats {
  return { frames: 0, keyframes: 0, keyframeRequests: 0, bytes: 0, dropped: 0, errors: 0, encodeMsTotal: 0 };
}

/** Rejects an encode() on a closed encoder. */
function closedError(codec: VideoCodecName): InvalidStateError {
  return new InvalidStateError(`VideoEncoder is closed [codec:${codec}]`);
}

/** Checks an RGBA frame's size; the error names the expected shape. */
function checkFrameSize(rgba: Uint8Array, { width, height }: VideoEncoderConfig): TypeError | undefined {
  if (rgba.length === width * height * 4) return undefined;
  return new TypeError(`rgba must be ${width}x${height}x4 = ${width * height * 4} bytes, got ${rgba.length}`);
}

function validateConfig(config: VideoEncoderConfig): VideoEncoderConfig {
  const { codec, width, height, fps, bitrateKbps, keyframeIntervalFrames } = config;
  if (codec !== 'h264' && codec !== 'vp8') throw new TypeError(`codec must be 'h264' or 'vp8', got ${String(codec)}`);
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(value) || value < 16 || value > 4096 || value % 2 !== 0) {
      throw new TypeError(`${name} must be an even integer in [16, 4096] px, got ${value}`);
    }
  }
  if (!(fps > 0 && fps <= 120)) throw new TypeError(`fps must be in (0, 120], got ${fps}`);
  if (!(bitrateKbps >= 50 && bitrateKbps <= 50000)) throw new TypeError(`bitrateKbps must be in [50, 50000], got ${bitrateKbps}`);
  if (!Number.isInteger(keyframeIntervalFrames) || keyframeIntervalFrames < 1) {
    throw new TypeError(`keyframeIntervalFrames must be an integer >= 1, got ${keyframeIntervalFrames}`);
  }
  return { codec, width, height, fps, bitrateKbps, keyframeIntervalFrames };
}

/** profile_idc, constraint flags and level_idc of the first SPS in an Annex B access unit, as 6 hex digits. */
function readProfileLevelId(annexB: Uint8Array): string | undefined {
  for (let i = 0; i + 6 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1 && (annexB[i + 3]! & 0x1f) === 7) {
      return Array.from(annexB.subarray(i + 4, i + 7), (b) => b.toString(16).padStart(2, '0')).join('');
    }
  }
  return undefined;
}
