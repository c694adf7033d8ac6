/**
 * The motion stage as the pipeline sees it: audio in, one MotionFrame per video frame out. `push` is async
 * for every implementation so that ONNX-backed stages (whose ORT runs are async) and the embedded one are
 * interchangeable; overlapping pushes are processed and resolved in call order.
 */
import type { MotionFrame } from '../types.ts';
import { Audio2Landmarks, type Audio2LandmarksOptions, type PoseOverride } from './Audio2Landmarks.ts';
import type { MotionOverlay } from './MotionOverlay.ts';

/** One session's motion stage. */
export interface MotionStage {
  /** Video frame rate, Hz. */
  readonly fps: number;
  /** Audio needed past the end of a frame's audio interval before the frame is emitted, ms. */
  readonly lookaheadMs: number;
  /** Feed 16 kHz mono samples (copied or consumed at call time); resolves with every frame now complete, in index order, each once. */
  push(pcm16k: Float32Array): Promise<MotionFrame[]>;
  /**
   * Interrupt: drop buffered audio; returns the frames that can be shown at once (those whose audio had arrived,
   * the mouth gliding to rest in them); indices continue after them; pending pushes resolve with no frames.
   */
  clear(): MotionFrame[];
  /** Pose added on top of the model's (degrees), or null to remove it. */
  setPoseOverride(p: PoseOverride | null): void;
  /** Multiplier of the mouth motion, clamped to 0..2. */
  setExpressionScale(s: number): void;
  /** A live face (pose, eyes, brows, and per its mix the mouth) and motion edits, layered over every frame. */
  readonly overlay: MotionOverlay;
  /** Counters for stats. */
  toJSON(): Record<string, unknown>;
  /** Release models; later pushes reject. Idempotent. */
  dispose(): Promise<void>;
}

/** The embedded (weight-free, synchronous) motion stage behind the MotionStage interface. */
export class EmbeddedMotionStage implements MotionStage {
  /** The wrapped synchronous stage (for callers that want `push` without a promise). */
  readonly inner: Audio2Landmarks;
  private disposed = false;

  constructor(opts: Audio2LandmarksOptions) {
    this.inner = new Audio2Landmarks(opts);
  }

  get fps(): number {
    return this.inner.fps;
  }

  get lookaheadMs(): number {
    return this.inner.lookaheadMs;
  }

  push(pcm16k: Float32Array): Promise<MotionFrame[]> {
    if (this.disposed) return Promise.reject(new Error('motion stage is disposed'));
    try {
      return Promise.resolve(this.inner.push(pcm16k));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  clear(): MotionFrame[] {
    return this.inner.clear();
  }

  setPoseOverride(p: PoseOverride | null): void {
    this.inner.setPoseOverride(p);
  }

  setExpressionScale(s: number): void {
    this.inner.setExpressionScale(s);
  }

  get overlay(): MotionOverlay {
    return this.inner.overlay;
  }

  toJSON(): Record<string, unknown> {
    return { engine: 'embedded', ...this.inner.toJSON() };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
