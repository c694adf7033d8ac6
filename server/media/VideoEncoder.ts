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

/** Builds encoders of one backend. */
export type VideoEncoderFactory = (config: VideoEncoderConfig) => VideoFrameEncoder;
