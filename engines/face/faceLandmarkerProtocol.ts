/** Messages between FaceLandmarker and its worker. */

/** Axis-aligned box in image pixels. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One detected face. */
export interface DetectedFace {
  box: FaceBox;
  /** Detector confidence 0..1. */
  score: number;
  /** 468 MediaPipe landmarks, flat `[x0, y0, ...]` (length 936), image pixels. */
  landmarks: Float32Array;
}

/** Caller -> worker. */
export interface DetectRequest {
  id: number;
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Worker -> caller: `faces` on success, `error` on failure. */
export interface WorkerReply {
  id: number;
  faces?: DetectedFace[];
  error?: string;
}
