/**
 * The motion stage of one session: 16 kHz audio -> speech cues -> mouth (VisemeModel) and head (HeadMotion)
 * -> face rig -> 2D landmarks per video frame. Frame k shows audio [k/fps, (k+1)/fps) and is emitted once,
 * as soon as audio up to (k+1)/fps + lookaheadMs has arrived. Each frame gets a new landmarks array
 * (frames may be queued by the caller).
 */
import { LogMelExtractor, type CueFeatureExtractor } from '../audio/LogMelExtractor.ts';
import { AUDIO_RATE, NUM_LANDMARKS, type HeadPose, type Landmarks2D, type MotionFrame } from '../types.ts';
import { FaceRig } from './FaceRig.ts';
import { MotionOverlay } from './MotionOverlay.ts';
import { MediaClock } from './mediaClock.ts';
import { HeadMotion, type HeadState } from './HeadMotion.ts';
import { InterruptGlide } from './InterruptGlide.ts';
import { NUM_MOUTH_COEFFS, NUM_RIG_COEFFS, RIG } from './rigBases.ts';
import { clamp, smoothstep } from './smoothing.ts';
import { VisemeModel } from './VisemeModel.ts';

/** Options of `Audio2Landmarks`. */
export interface Audio2LandmarksOptions {
  /** Video frame rate, Hz (10..60). */
  fps: number;
  /** Output frame size, px. */
  width: number;
  height: number;
  /** The reference portrait's 468 landmarks in output-frame px. */
  referenceLandmarks: Landmarks2D;
  /** Seed of head motion and blinks (default 1). */
  seed?: number;
  /** Feature extractor that also emits speech cues (default: a new LogMelExtractor). */
  features?: CueFeatureExtractor;
  /** Camera distance for the rig's perspective, cm (default 60). */
  cameraDistanceCm?: number;
  /** Clock of face samples' freshness, ms (default performance.now; tests pass their own). */
  clock?: () => number;
}

/** Pose added on top of the procedural pose, degrees. */
/** A client's pose override with each angle clamped to +-45 degrees (non-finite = 0); null removes it. */
export function sanitizePoseOverride(p: PoseOverride | null): PoseOverride | null {
  if (p === null) return null;
  const ok = (x: number): number => (Number.isFinite(x) ? clamp(x, -45, 45) : 0);
  return { yaw: ok(p.yaw), pitch: ok(p.pitch), roll: ok(p.roll) };
}

/** A client's mouth expression multiplier clamped to 0..2 (non-finite = 1). */
export function sanitizeExpressionScale(s: number): number {
  return Number.isFinite(s) ? clamp(s, 0, 2) : 1;
}

export interface PoseOverride {
  yaw: number;
  pitch: number;
  roll: number;
}

const RING = 64; // steps of motion state kept; frames are taken as soon as their step exists
const HEAD_FIELDS = 8;
const GLIDE_MS = 80; // after clear(), the mouth reaches the new (closed) state this long into the next frames
const MAX_MOUTH = 1.2;

/**
 * Inner-lip gap (13-14) divided by mouth width (61-291) of `landmarks` [468 * 2]; ~0 closed, ~0.3-0.5 wide open.
 */
export function mouthOpening(landmarks: Landmarks2D): number {
  const gap = Math.hypot(landmarks[28]! - landmarks[26]!, landmarks[29]! - landmarks[27]!);
  const width = Math.hypot(landmarks[582]! - landmarks[122]!, landmarks[583]! - landmarks[123]!);
  return width > 0 ? gap / width : 0;
}

/** Streaming audio -> landmarks for one session. */
export class Audio2Landmarks {
  /** Audio needed past the end of a frame's audio interval before the frame is emitted, ms. */
  readonly lookaheadMs: number;
  /** Video frame rate, Hz. */
  readonly fps: number;
  /** Output frame size, px. */
  readonly width: number;
  readonly height: number;
  /** The fitted rig of the reference. */
  readonly rig: FaceRig;
  /** A live face and the client's edits, layered over every frame. */
  readonly overlay: MotionOverlay;

  private readonly features: CueFeatureExtractor;
  private readonly viseme: VisemeModel;
  private readonly head: HeadMotion;
  private readonly frameMs: number;
  private readonly stepMs: number;
  private readonly mouthRing = new Float32Array(RING * NUM_MOUTH_COEFFS);
  private readonly headRing = new Float32Array(RING * HEAD_FIELDS);
  private readonly coeffs = new Float32Array(NUM_RIG_COEFFS);
  private readonly lastMouth = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly glideFrom = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly interrupt = new InterruptGlide();
  private produced = 0; // motion steps available since the last clear
  private readonly clock: MediaClock;
  private samples = 0; // samples received since the last clear
  private originMs = 0; // audio time of the first sample after the last clear
  private glideAtMs = -Infinity;
  private nextIndex = 0;
  private expressionScale = 1;
  private override: PoseOverride | null = null;

  constructor(opts: Audio2LandmarksOptions) {
    const { fps, width, height, referenceLandmarks, seed = 1, features, cameraDistanceCm } = opts;
    if (!(fps >= 10 && fps <= 60)) throw new TypeError(`fps must be 10..60 [fps:${fps}]`);
    if (!(width > 0 && height > 0)) throw new TypeError(`width and height must be > 0 [width:${width}, height:${height}]`);
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be finite [seed:${seed}]`);
    this.fps = fps;
    this.width = width;
    this.height = height;
    this.frameMs = 1000 / fps;
    this.clock = new MediaClock(this.frameMs);
    this.rig = new FaceRig(referenceLandmarks, cameraDistanceCm === undefined ? {} : { cameraDistanceCm });
    this.overlay = new MotionOverlay(this.rig.jawOpenRatio, opts.clock);
    this.features = features ?? new LogMelExtractor();
    this.stepMs = 1000 / this.features.featureRate;
    this.viseme = new VisemeModel(this.features.featureRate);
    this.head = new HeadMotion({ stepRate: this.features.featureRate, seed, pxPerCm: this.rig.pxPerCm });
    // Frame k samples the motion at step floor((k + 1/2) T / step), which needs cues up to
    // ANTICIPATION + CLOSURE_LOOKAHEAD later, and each cue needs the extractor's own lookahead.
    const needMs = this.features.lookaheadMs + this.viseme.delayFrames * this.stepMs - this.frameMs / 2;
    this.lookaheadMs = Math.max(0, needMs);
  }

  /** Feed 16 kHz mono samples (NaN/Inf become 0); returns every frame now complete, in index order, each once. */
  push(pcm16k: Float32Array): MotionFrame[] {
    const out: MotionFrame[] = [];
    pcm16k = this.clock.admit(pcm16k);
    this.samples += pcm16k.length;
    for (const cue of this.features.push(pcm16k)) {
      const step = this.viseme.push(cue);
      if (step) {
        const head = this.head.step(step.cue, step.activity);
        this.store(step.index, step.mouth, head);
        this.produced = step.index + 1;
      }
      this.emitReady(out);
    }
    this.emitReady(out);
    return out;
  }

  /**
   * Interrupt: drop buffered audio and history. Returns the frames whose audio had arrived (they are shown at once,
   * the mouth gliding to rest in them); new frames start at rest and follow new audio. Frame k keeps showing media
   * time [k/fps, (k+1)/fps): indices continue after the returned frames.
   */
  clear(): MotionFrame[] {
    this.features.reset();
    this.viseme.reset();
    const from = this.nextIndex;
    ({ nextIndex: this.nextIndex, originMs: this.originMs } = this.clock.resume(this.nextIndex));
    const frames = this.interrupt.frames(from, this.nextIndex, this.frameMs, (c, _o, pose) => this.rig.landmarks(c, pose, new Float32Array(NUM_LANDMARKS * 2)), (c) =>
      clamp(c[RIG.jawOpen]!, 0, 1),
    );
    if (frames.length > 0) this.lastMouth.fill(0);
    this.glideFrom.set(this.lastMouth);
    this.glideAtMs = this.originMs;
    this.samples = 0;
    this.produced = 0;
    return frames;
  }

  /** Pose added on top of the procedural one (degrees), or null to remove it. */
  setPoseOverride(p: PoseOverride | null): void {
    this.override = sanitizePoseOverride(p);
  }

  /** Multiplier of the mouth coefficients, clamped to 0..2 (non-finite = 1). */
  setExpressionScale(s: number): void {
    this.expressionScale = sanitizeExpressionScale(s);
  }

  /** Counters for stats. */
  toJSON(): { framesOut: number; samplesSinceClear: number; lookaheadMs: number; fitErrorPx: number } {
    return { framesOut: this.nextIndex, samplesSinceClear: this.samples, lookaheadMs: this.lookaheadMs, fitErrorPx: this.rig.camera.rmsErrorPx };
  }

  private store(j: number, mouth: Float32Array, head: HeadState): void {
    const r = j % RING;
    this.mouthRing.set(mouth, r * NUM_MOUTH_COEFFS);
    const h = r * HEAD_FIELDS;
    const hr = this.headRing;
    hr[h] = head.pitchDeg;
    hr[h + 1] = head.yawDeg;
    hr[h + 2] = head.rollDeg;
    hr[h + 3] = head.tx;
    hr[h + 4] = head.ty;
    hr[h + 5] = head.blinkLeft;
    hr[h + 6] = head.blinkRight;
    hr[h + 7] = head.browRaise;
  }

  private emitReady(out: MotionFrame[]): void {
    for (;;) {
      const k = this.nextIndex;
      const haveMs = (this.samples * 1000) / AUDIO_RATE;
      if (haveMs + 1e-6 < (k + 1) * this.frameMs + this.lookaheadMs - this.originMs) return;
      const j = Math.floor(((k + 0.5) * this.frameMs - this.originMs) / this.stepMs + 1e-9);
      if (j >= this.produced) return;
      out.push(this.makeFrame(k, Math.max(j, this.produced - RING, 0)));
      this.nextIndex = k + 1;
    }
  }

  private makeFrame(k: number, j: number): MotionFrame {
    const c = this.coeffs;
    const r = j % RING;
    const tc = (k + 0.5) * this.frameMs;
    const g = 1 - smoothstep(0, GLIDE_MS, tc - this.glideAtMs);
    for (let i = 0; i < NUM_MOUTH_COEFFS; i++) {
      const m = clamp(this.mouthRing[r * NUM_MOUTH_COEFFS + i]! * this.expressionScale, 0, MAX_MOUTH);
      c[i] = g > 0 ? g * this.glideFrom[i]! + (1 - g) * m : m;
    }
    this.lastMouth.set(c.subarray(0, NUM_MOUTH_COEFFS));
    const h = r * HEAD_FIELDS;
    const hr = this.headRing;
    c[RIG.blinkLeft] = hr[h + 5]!;
    c[RIG.blinkRight] = hr[h + 6]!;
    c[RIG.browRaise] = hr[h + 7]!;
    c[RIG.lipSeal] = 0;
    const o = this.override;
    const pose: HeadPose = {
      pitchDeg: hr[h]! + (o ? o.pitch : 0),
      yawDeg: hr[h + 1]! + (o ? o.yaw : 0),
      rollDeg: hr[h + 2]! + (o ? o.roll : 0),
      tx: hr[h + 3]!,
      ty: hr[h + 4]!,
      tz: 0,
    };
    this.overlay.apply(c, pose);
    const landmarks = this.rig.landmarks(c, pose, new Float32Array(NUM_LANDMARKS * 2));
    this.interrupt.remember(c, null, pose);
    return {
      index: k,
      audioTimeMs: k * this.frameMs,
      landmarks,
      mouthOpen: clamp(c[RIG.jawOpen]!, 0, 1),
      blink: Math.max(c[RIG.blinkLeft]!, c[RIG.blinkRight]!),
      pose,
      ...this.overlay.frameFields(),
    };
  }
}
