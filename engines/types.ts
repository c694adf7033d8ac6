/**
 * Shared data shapes of the engines. Engines are pure compute: no network, no express, no werift.
 * Time base: audio is 16 kHz mono Float32 in [-1, 1]; video frame k shows audio [k/fps, (k+1)/fps).
 */

/** Internal audio sample rate, Hz. */
export const AUDIO_RATE = 16000;

/** MediaPipe face-mesh landmark count (canonical topology, no iris). */
export const NUM_LANDMARKS = 468;

/** 2D landmarks, flat `[x0, y0, x1, y1, ...]` (length 936), in output-frame pixels. */
export type Landmarks2D = Float32Array;

/** 3D mesh, flat `[x0, y0, z0, ...]` (length 1404). */
export type Mesh3D = Float32Array;

/** One frame of streaming audio features. */
export interface FeatureFrame {
  /** Audio time of the frame's centre, ms from the stream start. */
  timeMs: number;
  /** Feature vector, length = the extractor's `dim`. */
  values: Float32Array;
}

/** Streaming audio feature extractor (log-mel default; wav2vec ONNX later). */
export interface AudioFeatureExtractor {
  /** Frames per second that `push` emits. */
  readonly featureRate: number;
  /** Length of each frame's `values`. */
  readonly dim: number;
  /** How much future audio a frame needs before it is emitted, ms. */
  readonly lookaheadMs: number;
  /** Feed 16 kHz samples; returns every frame that became complete, in order, each exactly once. */
  push(pcm16k: Float32Array): FeatureFrame[];
  /** Forget all history (used by `clear`). */
  reset(): void;
}

/** Head pose: Euler angles in degrees (x = pitch, y = yaw, z = roll) + translation in output pixels. */
export interface HeadPose {
  pitchDeg: number;
  yawDeg: number;
  rollDeg: number;
  tx: number;
  ty: number;
  tz: number;
}

/** Output of the motion stage for one video frame. */
export interface MotionFrame {
  /** Video frame index k (frame shows audio [k/fps, (k+1)/fps)). */
  index: number;
  /** Audio time the frame represents (its start, k*1000/fps), ms. */
  audioTimeMs: number;
  /** Animated landmarks in output-frame pixels. */
  landmarks: Landmarks2D;
  /** Lip opening 0..1 (0 closed, 1 widest), for stats and tests. */
  mouthOpen: number;
  /** Eye closure 0..1 (1 = fully closed), for stats and tests. */
  blink: number;
  pose: HeadPose;
  /** While a live face drives the motion: the client's timestamp of the newest face sample in this frame, ms. */
  faceT?: number;
  /** Gaze of a driving face, -1..1 on image axes (+x right, +y down); absent: eyes as in the portrait. */
  gaze?: { x: number; y: number };
}

/** RGBA image, 8 bits a channel, row-major, no padding. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A portrait ready for animation: aligned/cropped to the output size, with its landmarks. */
export interface ReferencePortrait {
  /** Content hash of the source image bytes (hex). */
  id: string;
  image: RgbaImage;
  /** Landmarks of `image`, in its pixels. */
  landmarks: Landmarks2D;
}

/** One item of a render batch. */
export interface RenderRequest {
  referenceId: string;
  landmarks: Landmarks2D;
  frameIndex: number;
  /** Lip opening 0..1 from the motion stage (renderers may use it for the mouth interior). */
  mouthOpen: number;
  /** Gaze -1..1 on image axes; renderers that can move the irises do (the warp renderer), others ignore it. */
  gaze?: { x: number; y: number };
}

/** Lmk2Video renderer. */
export interface Renderer {
  readonly name: string;
  /** Most frames `render` takes at once. */
  readonly maxBatch: number;
  /** Frames of temporal context the renderer needs (0 for the warp renderer). */
  readonly temporalContext: number;
  /** Precompute per-portrait state (cached by `reference.id`). Idempotent. */
  prepare(reference: ReferencePortrait): Promise<void>;
  /** Render frames; each output is `width*height*4` RGBA. */
  render(batch: RenderRequest[]): Promise<RgbaImage[]>;
  /** Drop cached state of one portrait. */
  release(referenceId: string): void;
  dispose(): Promise<void>;
}
