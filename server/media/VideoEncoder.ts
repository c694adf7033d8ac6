import { InvalidStateError } from '../errors.ts';

/** Video codecs this server sends. */
export type VideoCodecName = 'h264' | 'vp8';

/** Encoder configuration (validated in the constructor). */
export interface VideoEncoderConfig {
  /** 'h264' (default in config; ~2 ms a 512x512 frame) or 'vp8' (~20 ms). */
  codec: VideoCodecName;
  /** Frame width, px (even). */
  width: number;
  /** Frame height, px (even). */
  height: number;
  /** Frame rate, frames/s (rate-control hint). */
  fps: number;
  /** Target bitrate, kbit/s. */
  bitrateKbps: number;
  /** A keyframe every this many frames, counted from the last keyframe (requested ones restart the count). */
  keyframeIntervalFrames: number;
}

/** One encoded frame. */
export interface EncodedVideoFrame {
  /** H.264: Annex B access unit (start codes; SPS+PPS before IDR). VP8: one raw frame. Owns its buffer. */
  data: Uint8Array;
  /** True for an IDR / VP8 key frame. */
  keyframe: boolean;
  /** Presentation time given to encode(), µs. */
  timestampUs: number;
}

/** Encoder counters. */
export interface VideoEncoderStats {
  /** Frames output. */
  frames: number;
  /** Keyframes output (periodic, requested and encoder-chosen). */
  keyframes: number;
  /** requestKeyframe() calls (PLI/FIR). */
  keyframeRequests: number;
  /** Encoded bytes output. */
  bytes: number;
  /** Frames the encoder never returned (rejected). */
  dropped: number;
  /** Encoder errors and stalls (each closes the encoder). */
  errors: number;
  /** Sum of submit-to-output times, ms (divide by frames for the mean). */
  encodeMsTotal: number;
}

/** What every video encoder backend offers; one instance per session. */
export interface VideoFrameEncoder {
  /** The validated configuration. */
  readonly config: Readonly<VideoEncoderConfig>;
  /** True after close() or an encoder error. */
  readonly closed: boolean;
  /** Frames submitted and not yet output. */
  readonly pendingFrames: number;
  /** H.264 profile-level-id of the stream (6 hex digits from the SPS, e.g. '42c01e'), known after the first keyframe. */
  readonly h264ProfileLevelId: string | undefined;
  /** Encodes one RGBA frame (width*height*4 bytes); resolves with the encoded frame, rejects if the encoder fails or closes. */
  encode(rgba: Uint8Array, timestampUs: number, forceKeyframe?: boolean): Promise<EncodedVideoFrame>;
  /** Makes the next encoded frame a keyframe (on PLI/FIR). */
  requestKeyframe(): void;
  /** Closes the encoder; pending encodes reject with InvalidStateError. Idempotent. */
  close(): void;
  /** Counters. */
  toJSON(): VideoEncoderStats & { pending: number; closed: boolean };
}

/**
 * Encoder backends: 'libav' (FFmpeg's libx264 and libvpx through node-av: Constrained Baseline H.264 that every
 * browser decodes, VP8 at realtime speed) and 'webcodecs' (@napi-rs/webcodecs: High-profile H.264 only, slow VP8).
 */
export type EncoderBackend = 'libav' | 'webcodecs';

/** The H.264 profile a backend emits: what an SDP answer may promise. An unresolved 'auto' promises only High's superset. */
export function h264ProfileOf(backend: EncoderBackend | 'auto'): 'constrained-baseline' | 'high' {
  return backend === 'libav' ? 'constrained-baseline' : 'high';
}

/**
 * Which frames are keyframes: the first, every `intervalFrames` counted from the last keyframe, any forced or requested
 * (PLI/FIR) one; an encoder-chosen keyframe (scene cut) also restarts the count, as x264's keyint does.
 */
export class KeyframeSchedule {
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
export function emptyEncoderStats(): VideoEncoderStats {
  return { frames: 0, keyframes: 0, keyframeRequests: 0, bytes: 0, dropped: 0, errors: 0, encodeMsTotal: 0 };
}

/** Builds encoders of one backend. */
export type VideoEncoderFactory = (config: VideoEncoderConfig) => VideoFrameEncoder;

/** Rejects an encode() on a closed encoder. */
export function closedError(codec: VideoCodecName): InvalidStateError {
  return new InvalidStateError(`VideoEncoder is closed [codec:${codec}]`);
}

/** Checks an RGBA frame's size; the error names the expected shape. */
export function checkFrameSize(rgba: Uint8Array, { width, height }: VideoEncoderConfig): TypeError | undefined {
  if (rgba.length === width * height * 4) return undefined;
  return new TypeError(`rgba must be ${width}x${height}x4 = ${width * height * 4} bytes, got ${rgba.length}`);
}

export function validateConfig(config: VideoEncoderConfig): VideoEncoderConfig {
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
export function readProfileLevelId(annexB: Uint8Array): string | undefined {
  for (let i = 0; i + 6 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1 && (annexB[i + 3]! & 0x1f) === 7) {
      return Array.from(annexB.subarray(i + 4, i + 7), (b) => b.toString(16).padStart(2, '0')).join('');
    }
  }
  return undefined;
}
