/**
 * Motion stage with ONNX parts: features (wav2vec ONNX, or the log-mel values) -> linear interpolation to the
 * video fps -> ONNX Audio2Mesh (vertex offsets) and/or ONNX Audio2Pose (6-number pose) -> FaceRig projection,
 * retargeted as deltas onto the reference. The log-mel cue analyser always runs alongside: its cues drive
 * blinks and brows (HeadMotion), the head when the pose is embedded, and the mouth when the mesh is embedded
 * (VisemeModel). Frame k (audio [k/fps, (k+1)/fps)) is emitted exactly when audio up to (k+1)/fps + lookaheadMs
 * has arrived; lookaheadMs is computed so that every part's data exists by then.
 */
import type { AsyncAudioFeatureExtractor } from '../audio/AsyncAudioFeatureExtractor.ts';
import { LogMelExtractor, type LogMelFrame } from '../audio/LogMelExtractor.ts';
import { AUDIO_RATE, NUM_LANDMARKS, type FeatureFrame, type HeadPose, type MotionFrame } from '../types.ts';
import { mouthOpening, sanitizeExpressionScale, sanitizePoseOverride, type PoseOverride } from './Audio2Landmarks.ts';
import { FaceRig } from './FaceRig.ts';
import { MotionOverlay } from './MotionOverlay.ts';
import { MediaClock } from './mediaClock.ts';
import { HeadMotion } from './HeadMotion.ts';
import { InterruptGlide } from './InterruptGlide.ts';
import type { MotionStage } from './MotionStage.ts';
import type { OnnxAudio2Mesh } from './OnnxAudio2Mesh.ts';
import type { OnnxAudio2Mouth } from './OnnxAudio2Mouth.ts';
import { MouthCalibration } from './MouthCalibration.ts';
import { MouthFeatureBuilder } from './mouthFeatures.ts';
import type { OnnxAudio2Pose } from './OnnxAudio2Pose.ts';
import { NUM_MOUTH_COEFFS, NUM_RIG_COEFFS, RIG } from './rigBases.ts';
import { clamp, smoothstep } from './smoothing.ts';
import { SpeechActivity } from './SpeechActivity.ts';
import { VisemeModel } from './VisemeModel.ts';

/** Options of `OnnxMotionStage`. */
export interface OnnxMotionStageOptions {
  /** Video frame rate, Hz (10..60). */
  fps: number;
  /** Output frame size, px. */
  width: number;
  height: number;
  /** The reference portrait's 468 landmarks in output-frame px. */
  referenceLandmarks: Float32Array;
  /** Seed of blinks and procedural head motion (default 1). */
  seed?: number;
  /** Camera distance for the rig's perspective, cm (default 60). */
  cameraDistanceCm?: number;
  /** Clock of face samples' freshness, ms (default performance.now; tests pass their own). */
  clock?: () => number;
  /** Features for the ONNX parts: an async extractor (owned: disposed with the stage) or 'logmel' (the cue analyser's values). */
  features: AsyncAudioFeatureExtractor | 'logmel';
  /** ONNX Audio2Mesh (owned); absent = embedded VisemeModel mouth. */
  mesh?: OnnxAudio2Mesh;
  /** ONNX Audio2Pose (owned); absent = embedded HeadMotion pose. */
  pose?: OnnxAudio2Pose;
  /** Learned mouth (owned; reads log-mel windows, calibrated to the portrait's rig); not together with `mesh`. */
  mouth?: OnnxAudio2Mouth;
}

const CUE_RING = 1024; // 10.24 s of 100 Hz cue steps
const FEAT_RING = 512;
const VIDEO_RING = 256;
const HEAD_FIELDS = 8;
const MAX_CHUNK = 8000; // samples per internal step: bounds how far cue steps run ahead of emitted frames
const GLIDE_MS = 80;
const MAX_MOUTH = 1.2;
const MAX_ANGLE_DEG = 45;
const MAX_SHIFT_CM = 10;
// Speech gate of the learned mouth: full for GATE_HOLD_MS after the last speech, then down to closed by GATE_CLOSE_MS.
// Real speakers keep their mouth moving through short pauses (MediaPipe on the real clips: the opening in pauses is
// at their mean, not closed); scored leave-one-fold-out, this hold raised the correlation from 0.478 to 0.500 against a
// 200 ms gate (tools/train/README.md).
const GATE_HOLD_MS = 400;
const GATE_CLOSE_MS = 800;
// Learned opening up to which the rules' lip press applies in full, and from which it is ignored (tools/train/README.md).
const PRESS_TRUST_OPEN = 0.2;
const PRESS_IGNORE_OPEN = 0.4;
// How far the rules' press closes the learned mouth. On real speech its cues often fire where the speaker's lips are
// apart (a stop's silence and a nasal murmur look alike to it). At 0.6 the held-out correlation with real speakers is
// 0.504 (commanded geometry; 0.500 at 0.7, 0.512 without the press) while 41 % of /p b m/ frames still close on eSpeak
// speech (51 % at 0.7). The trade is tabled in tools/train/README.md.
const PRESS_SCALE = 0.6;

/** Streaming audio -> landmarks with ONNX Audio2Mesh and/or Audio2Pose, for one session. */
export class OnnxMotionStage implements MotionStage {
  readonly fps: number;
  readonly lookaheadMs: number;
  readonly width: number;
  readonly height: number;
  /** The fitted rig of the reference. */
  readonly rig: FaceRig;
  readonly overlay: MotionOverlay;

  private readonly logmel = new LogMelExtractor();
  private readonly features: AsyncAudioFeatureExtractor | null;
  private readonly featureRate: number;
  private readonly firstCentreMs: number;
  private readonly mesh: OnnxAudio2Mesh | undefined;
  private readonly pose: OnnxAudio2Pose | undefined;
  private readonly mouth: OnnxAudio2Mouth | undefined;
  private readonly mouthFeatures: MouthFeatureBuilder | null;
  private readonly calibration: MouthCalibration | null;
  // Learned-mouth state: feature frames by cue index, and the model's [opening, widthLog] by video frame.
  private mouthFeatRing = new Float32Array(0);
  private readonly mouthOutRing: Float32Array;
  private nextMouthK = 0;
  private mouthBatch = new Float32Array(0);
  private readonly viseme: VisemeModel | null;
  private readonly activity: SpeechActivity;
  private readonly head: HeadMotion;
  private readonly frameMs: number;
  private readonly cueStepMs: number;
  // Cue-rate state (100 Hz steps j): embedded mouth and head.
  private readonly mouthRing = new Float32Array(CUE_RING * NUM_MOUTH_COEFFS);
  private readonly headRing = new Float32Array(CUE_RING * HEAD_FIELDS);
  private produced = 0;
  private cueCount = 0;
  // Feature-rate state: the newest frames, by index f.
  private featRing: Float32Array = new Float32Array(0);
  private featDim = 0;
  private featCount = 0;
  // Video-rate ONNX outputs, by frame index k (relative to the last clear).
  private readonly offsetRing: Float32Array;
  private readonly poseRing: Float32Array;
  private nextFeatK = 0;
  // Emission.
  private samples = 0;
  private originMs = 0;
  private originIndex = 0;
  private readonly clock: MediaClock;
  private nextIndex = 0;
  private glideAtMs = -Infinity;
  private readonly glideFromMouth = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly glideFromOffsets = new Float32Array(NUM_LANDMARKS * 3);
  private readonly lastMouth = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly lastOffsets = new Float32Array(NUM_LANDMARKS * 3);
  private readonly interrupt = new InterruptGlide();
  private readonly coeffs = new Float32Array(NUM_RIG_COEFFS);
  private readonly learnedCoeffs = new Float32Array(NUM_MOUTH_COEFFS);
  private readonly offsets = new Float32Array(NUM_LANDMARKS * 3);
  private expressionScale = 1;
  private override: PoseOverride | null = null;
  private gen = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly stats = { pushes: 0, lastPushMs: 0, totalPushMs: 0 };

  constructor(opts: OnnxMotionStageOptions) {
    const { fps, width, height, referenceLandmarks, seed = 1, cameraDistanceCm, features, mesh, pose, mouth } = opts;
    if (!(fps >= 10 && fps <= 60)) throw new TypeError(`fps must be 10..60 [fps:${fps}]`);
    if (!(width > 0 && height > 0)) throw new TypeError(`width and height must be > 0 [width:${width}, height:${height}]`);
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be finite [seed:${seed}]`);
    if (!mesh && !pose && !mouth) throw new TypeError('OnnxMotionStage needs an ONNX mesh, mouth or pose model (use EmbeddedMotionStage otherwise)');
    if (mesh && mouth) throw new TypeError('OnnxMotionStage takes an ONNX mesh or a learned mouth, not both');
    this.fps = fps;
    this.width = width;
    this.height = height;
    this.frameMs = 1000 / fps;
    this.clock = new MediaClock(this.frameMs);
    this.rig = new FaceRig(referenceLandmarks, cameraDistanceCm === undefined ? {} : { cameraDistanceCm });
    this.overlay = new MotionOverlay(this.rig.jawOpenRatio, opts.clock);
    this.features = features === 'logmel' ? null : features;
    this.featureRate = this.features ? this.features.featureRate : this.logmel.featureRate;
    this.firstCentreMs = this.features ? this.features.firstCentreMs : 0;
    const featureLookahead = this.features ? this.features.lookaheadMs : this.logmel.lookaheadMs;
    this.mesh = mesh;
    this.pose = pose;
    this.mouth = mouth;
    this.cueStepMs = 1000 / this.logmel.featureRate;
    this.mouthFeatures = mouth ? new MouthFeatureBuilder(this.logmel.dim, this.logmel.featureRate) : null;
    if (mouth && (mouth.info.featureRate !== this.logmel.featureRate || mouth.info.dim !== this.mouthFeatures!.dim)) {
      throw new TypeError(`learned mouth model does not take these features [file:${mouth.file}, expected ${this.logmel.featureRate} Hz x ${this.mouthFeatures!.dim}, found ${mouth.info.featureRate} Hz x ${mouth.info.dim}]`);
    }
    this.calibration = mouth ? new MouthCalibration(this.rig) : null;
    this.mouthOutRing = new Float32Array(mouth ? VIDEO_RING * 2 : 0);
    if (this.mouthFeatures) this.mouthFeatRing = new Float32Array(CUE_RING * this.mouthFeatures.dim);
    // The learned mouth keeps the rule-based lip press: the training clips are too few to learn the brief
    // closures of /p b m/, which the rules find from the voice bar, the murmur and the silent dip.
    this.viseme = mesh ? null : new VisemeModel(this.logmel.featureRate);
    this.activity = new SpeechActivity(this.logmel.featureRate);
    this.head = new HeadMotion({ stepRate: this.logmel.featureRate, seed, pxPerCm: this.rig.pxPerCm });
    this.offsetRing = new Float32Array(mesh ? VIDEO_RING * NUM_LANDMARKS * 3 : 0);
    this.poseRing = new Float32Array(pose ? VIDEO_RING * 6 : 0);

    // Cue path: frame k samples step floor((k + 1/2) T / step), available delayFrames steps + the analyser's lookahead later.
    const delay = this.viseme ? this.viseme.delayFrames : 0;
    const cueNeed = this.logmel.lookaheadMs + delay * this.cueStepMs - this.frameMs / 2;
    // Feature path: frame k interpolates frames f and f + 1 around its centre; f + 1 exists once audio reaches
    // its centre + the extractor's lookahead. Scan one period of frames for the largest need.
    let featNeed = -Infinity;
    const period = Math.min(10000, Math.round(fps * this.featureRate) || 1000);
    for (let k = 0; k < (mesh || pose ? period : 0); k++) {
      const f1 = this.upperFeature(k);
      featNeed = Math.max(featNeed, this.firstCentreMs + (f1 * 1000) / this.featureRate + featureLookahead - (k + 1) * this.frameMs);
    }
    // Learned mouth: frame k's window ends futureFrames cue steps after its time k * frameMs.
    let mouthNeed = -Infinity;
    if (mouth) {
      for (let k = 0; k < period; k++) mouthNeed = Math.max(mouthNeed, (this.mouthCentre(k) + mouth.info.futureFrames) * this.cueStepMs + this.logmel.lookaheadMs - (k + 1) * this.frameMs);
    }
    this.lookaheadMs = Math.max(0, cueNeed, featNeed, mouthNeed);
  }

  /** Cue step at the time of video frame k (relative to the last clear): the centre of its learned-mouth window. */
  private mouthCentre(k: number): number {
    return Math.round((k * this.frameMs) / this.cueStepMs);
  }

  /** Feed 16 kHz mono samples (copied now; NaN/Inf -> 0, clipped to [-1, 1]); resolves with the frames now complete. */
  push(pcm16k: Float32Array): Promise<MotionFrame[]> {
    if (this.disposed) return Promise.reject(new Error('motion stage is disposed'));
    const copy = Float32Array.from(this.clock.admit(pcm16k));
    const gen = this.gen;
    const p = this.tail.then(() => this.process(copy, gen));
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /**
   * Interrupt: drop audio, features and model context. Returns the frames whose audio had arrived, shown at once with
   * the mouth gliding to rest; new frames start at rest and glide to the new state in 80 ms; indices continue.
   */
  clear(): MotionFrame[] {
    this.gen++;
    this.logmel.reset();
    this.features?.reset();
    this.mesh?.reset();
    this.pose?.reset();
    this.viseme?.reset();
    this.mouthFeatures?.reset();
    this.nextMouthK = 0;
    this.activity.reset();
    const from = this.nextIndex;
    ({ nextIndex: this.nextIndex, originMs: this.originMs } = this.clock.resume(this.nextIndex));
    const frames = this.interrupt.frames(
      from,
      this.nextIndex,
      this.frameMs,
      (c, offsets, pose) => this.rig.landmarksWithOffsets(c, offsets, pose, new Float32Array(NUM_LANDMARKS * 2)),
      (c, landmarks) => (this.mesh ? clamp(mouthOpening(landmarks) / this.rig.jawOpenRatio, 0, 1) : clamp(c[RIG.jawOpen]!, 0, 1)),
    );
    if (frames.length > 0) {
      this.lastMouth.fill(0);
      this.lastOffsets.fill(0);
    }
    this.glideFromMouth.set(this.lastMouth);
    this.glideFromOffsets.set(this.lastOffsets);
    this.originIndex = this.nextIndex;
    this.glideAtMs = this.originMs;
    this.samples = 0;
    this.produced = 0;
    this.cueCount = 0;
    this.featCount = 0;
    this.nextFeatK = 0;
    return frames;
  }

  setPoseOverride(p: PoseOverride | null): void {
    this.override = sanitizePoseOverride(p);
  }

  setExpressionScale(s: number): void {
    this.expressionScale = sanitizeExpressionScale(s);
  }

  toJSON(): Record<string, unknown> {
    const s = this.stats;
    return {
      engine: 'onnx',
      framesOut: this.nextIndex,
      lookaheadMs: this.lookaheadMs,
      fitErrorPx: this.rig.camera.rmsErrorPx,
      lastPushMs: s.lastPushMs,
      meanPushMs: s.pushes ? s.totalPushMs / s.pushes : 0,
      ...(this.features && 'toJSON' in this.features ? { features: (this.features as { toJSON(): unknown }).toJSON() } : {}),
      ...(this.mesh ? { mesh: this.mesh.toJSON() } : {}),
      ...(this.pose ? { pose: this.pose.toJSON() } : {}),
      ...(this.mouth ? { mouth: this.mouth.toJSON() } : {}),
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.gen++;
    await this.tail;
    await Promise.all([this.features?.dispose(), this.mesh?.dispose(), this.pose?.dispose(), this.mouth?.dispose()]);
  }

  /** Index of the later of the two feature frames frame k (relative to the last clear) interpolates. */
  private upperFeature(k: number): number {
    const p = (((k + 0.5) * this.frameMs - this.firstCentreMs) * this.featureRate) / 1000;
    return Math.max(0, Math.floor(p + 1e-9) + 1);
  }

  private async process(pcm: Float32Array, gen: number): Promise<MotionFrame[]> {
    if (gen !== this.gen) return [];
    const t0 = performance.now();
    const out: MotionFrame[] = [];
    for (let at = 0; at < pcm.length || (pcm.length === 0 && at === 0); at += MAX_CHUNK) {
      const chunk = pcm.subarray(at, Math.min(pcm.length, at + MAX_CHUNK));
      const cues = this.logmel.push(chunk);
      this.samples += chunk.length;
      for (const cue of cues) this.cueStep(cue);
      const feats: FeatureFrame[] = this.features ? await this.features.pushAsync(chunk) : cues;
      if (gen !== this.gen) return [];
      if (this.needsFeatures) for (const f of feats) this.storeFeature(f);
      await Promise.all([this.runModels(gen), this.runMouth(gen)]);
      if (gen !== this.gen) return [];
      this.emitReady(out);
      if (pcm.length === 0) break;
    }
    const ms = performance.now() - t0;
    this.stats.pushes++;
    this.stats.lastPushMs = ms;
    this.stats.totalPushMs += ms;
    return out;
  }

  private cueStep(cue: LogMelFrame): void {
    let j: number;
    let activity: number;
    let driving = cue;
    this.cueCount++;
    if (this.mouthFeatures) {
      const d = this.mouthFeatures.dim;
      this.mouthFeatures.push(cue, this.mouthFeatRing.subarray(((this.cueCount - 1) % CUE_RING) * d, ((this.cueCount - 1) % CUE_RING + 1) * d));
    }
    if (this.viseme) {
      const step = this.viseme.push(cue);
      if (!step) return;
      j = step.index;
      activity = step.activity;
      driving = step.cue as LogMelFrame;
      this.mouthRing.set(step.mouth, (j % CUE_RING) * NUM_MOUTH_COEFFS);
    } else {
      j = this.cueCount - 1;
      const e = Number.isFinite(cue.energyDb) ? cue.energyDb : -120;
      this.activity.update(e);
      activity = this.activity.activity(e);
    }
    const head = this.head.step(driving, activity);
    const h = (j % CUE_RING) * HEAD_FIELDS;
    const hr = this.headRing;
    hr[h] = head.pitchDeg;
    hr[h + 1] = head.yawDeg;
    hr[h + 2] = head.rollDeg;
    hr[h + 3] = head.tx;
    hr[h + 4] = head.ty;
    hr[h + 5] = head.blinkLeft;
    hr[h + 6] = head.blinkRight;
    hr[h + 7] = head.browRaise;
    this.produced = j + 1;
  }

  private storeFeature(f: FeatureFrame): void {
    const d = f.values.length;
    if (d !== this.featDim) {
      this.featDim = d;
      this.featRing = new Float32Array(FEAT_RING * d);
    }
    this.featRing.set(f.values, (this.featCount % FEAT_RING) * d);
    this.featCount++;
  }

  /** Run the learned mouth once for every video frame whose whole feature window exists. */
  private async runMouth(gen: number): Promise<void> {
    const model = this.mouth;
    if (!model || !this.mouthFeatures) return;
    const { pastFrames, futureFrames } = model.info;
    const d = this.mouthFeatures.dim;
    const w = model.windowFrames;
    let n = 0;
    while (this.mouthCentre(this.nextMouthK + n) + futureFrames < this.cueCount && n < VIDEO_RING / 2) n++;
    if (n === 0) return;
    // Reused between runs (they never overlap): one frame's window per push in steady state.
    if (this.mouthBatch.length < n * w * d) this.mouthBatch = new Float32Array(n * w * d);
    const batch = this.mouthBatch.subarray(0, n * w * d);
    const oldest = Math.max(0, this.cueCount - CUE_RING);
    for (let i = 0; i < n; i++) {
      const centre = this.mouthCentre(this.nextMouthK + i);
      for (let t = 0; t < w; t++) {
        // Before the first step the window repeats it, as in training.
        const f = Math.min(this.cueCount - 1, Math.max(oldest, centre - pastFrames + t));
        batch.set(this.mouthFeatRing.subarray((f % CUE_RING) * d, (f % CUE_RING + 1) * d), (i * w + t) * d);
      }
    }
    const out = await model.run(batch, n);
    if (gen !== this.gen) return;
    // The training clips are speech from end to end: outside speech the model's opening means nothing, so it is
    // scaled by the speech gate (the lips part with the speech to come within the window's future, stay model-driven
    // through short pauses and close in longer ones).
    for (let i = 0; i < n; i++) {
      const gate = this.speechGate(this.mouthCentre(this.nextMouthK + i) + futureFrames);
      const slot = ((this.nextMouthK + i) % VIDEO_RING) * 2;
      this.mouthOutRing[slot] = out[2 * i]! * gate;
      this.mouthOutRing[slot + 1] = out[2 * i + 1]! * gate;
    }
    this.nextMouthK += n;
  }

  /** Strongest speech activity up to cue step `last`, weighted 1 within GATE_HOLD_MS of `last - future` (the frame's
   * centre) and falling linearly to 0 at GATE_CLOSE_MS before it. */
  private speechGate(last: number): number {
    const model = this.mouth!;
    const d = this.mouthFeatures!.dim;
    const act = this.mouthFeatures!.bands;
    const centre = last - model.info.futureFrames;
    const hold = GATE_HOLD_MS / this.cueStepMs;
    const close = GATE_CLOSE_MS / this.cueStepMs;
    const oldest = Math.max(0, this.cueCount - CUE_RING);
    let gate = 0;
    for (let t = Math.max(oldest, centre - Math.ceil(close)); t <= last; t++) {
      const age = centre - t;
      const w = age <= hold ? 1 : Math.max(0, (close - age) / (close - hold));
      const f = Math.min(t, this.cueCount - 1);
      gate = Math.max(gate, w * this.mouthFeatRing[(f % CUE_RING) * d + act]!);
    }
    return gate;
  }

  /** Interpolate features for every video frame whose two feature frames exist, then run the ONNX parts once. */
  private async runModels(gen: number): Promise<void> {
    if (!this.needsFeatures) return;
    const d = this.featDim;
    let n = 0;
    while (this.featCount > 0 && this.upperFeature(this.nextFeatK + n) < this.featCount && n < VIDEO_RING / 2) n++;
    if (n === 0) return;
    const batch = new Float32Array(n * d);
    const oldest = Math.max(0, this.featCount - FEAT_RING);
    for (let i = 0; i < n; i++) {
      const k = this.nextFeatK + i;
      const p = Math.max(0, (((k + 0.5) * this.frameMs - this.firstCentreMs) * this.featureRate) / 1000);
      const f0 = Math.max(oldest, Math.floor(p + 1e-9));
      const f1 = Math.min(f0 + 1, this.featCount - 1);
      const w = clamp(p - f0, 0, 1);
      const a = (f0 % FEAT_RING) * d;
      const b = (f1 % FEAT_RING) * d;
      for (let c = 0; c < d; c++) batch[i * d + c] = (1 - w) * this.featRing[a + c]! + w * this.featRing[b + c]!;
    }
    const [offsets, pose] = await Promise.all([this.mesh?.run(batch, n), this.pose?.run(batch, n)]);
    if (gen !== this.gen) return;
    for (let i = 0; i < n; i++) {
      const slot = (this.nextFeatK + i) % VIDEO_RING;
      if (offsets) this.offsetRing.set(offsets.subarray(i * NUM_LANDMARKS * 3, (i + 1) * NUM_LANDMARKS * 3), slot * NUM_LANDMARKS * 3);
      if (pose) this.poseRing.set(pose.subarray(i * 6, i * 6 + 6), slot * 6);
    }
    this.nextFeatK += n;
  }

  private emitReady(out: MotionFrame[]): void {
    for (;;) {
      const k = this.nextIndex;
      const local = k - this.originIndex;
      const haveMs = (this.samples * 1000) / AUDIO_RATE;
      if (haveMs + 1e-6 < (local + 1) * this.frameMs + this.lookaheadMs) return;
      const j = Math.floor(((local + 0.5) * this.frameMs) / this.cueStepMs + 1e-9);
      if (j >= this.produced || (this.needsFeatures && local >= this.nextFeatK) || (this.mouth && local >= this.nextMouthK)) return; // cannot happen when lookaheadMs is right
      out.push(this.makeFrame(k, local, Math.max(j, this.produced - CUE_RING, 0)));
      this.nextIndex = k + 1;
    }
  }

  /** Frames need the interpolated-feature path (an ONNX mesh or pose graph). */
  private get needsFeatures(): boolean {
    return this.mesh !== undefined || this.pose !== undefined;
  }

  /** The learned mouth of local frame k as rig coefficients of this portrait, with the rules' lip press. */
  private learnedMouth(local: number, rules: Float32Array): Float32Array {
    const s = (local % VIDEO_RING) * 2;
    const opening = this.mouthOutRing[s]!;
    const c = this.calibration!.coefficients(opening, this.mouthOutRing[s + 1]!, this.learnedCoeffs);
    // The rules' closure for /p b m/, trusted where the learned mouth (which saw real speakers close for them) is
    // nearly closed too, and faded out where it is wide open: there a closure cue is most often a false alarm.
    c[RIG.lipPress] = PRESS_SCALE * rules[RIG.lipPress]! * (1 - smoothstep(PRESS_TRUST_OPEN, PRESS_IGNORE_OPEN, opening));
    return c;
  }

  private makeFrame(k: number, local: number, j: number): MotionFrame {
    const c = this.coeffs;
    c.fill(0);
    const tc = (k + 0.5) * this.frameMs;
    const g = 1 - smoothstep(0, GLIDE_MS, tc - this.glideAtMs);
    const scale = this.expressionScale;
    const r = j % CUE_RING;
    if (this.viseme || this.calibration) {
      const rules = this.mouthRing.subarray(r * NUM_MOUTH_COEFFS, (r + 1) * NUM_MOUTH_COEFFS);
      const src = this.calibration ? this.learnedMouth(local, rules) : rules;
      for (let i = 0; i < NUM_MOUTH_COEFFS; i++) {
        const m = clamp(src[i]! * scale, 0, MAX_MOUTH);
        c[i] = g > 0 ? g * this.glideFromMouth[i]! + (1 - g) * m : m;
      }
      this.lastMouth.set(c.subarray(0, NUM_MOUTH_COEFFS));
    }
    let offsets: Float32Array | null = null;
    if (this.mesh) {
      offsets = this.offsets;
      const base = (local % VIDEO_RING) * NUM_LANDMARKS * 3;
      for (let i = 0; i < offsets.length; i++) {
        const o = this.offsetRing[base + i]! * scale;
        offsets[i] = g > 0 ? g * this.glideFromOffsets[i]! + (1 - g) * o : o;
      }
      this.lastOffsets.set(offsets);
    }
    const h = r * HEAD_FIELDS;
    const hr = this.headRing;
    c[RIG.blinkLeft] = hr[h + 5]!;
    c[RIG.blinkRight] = hr[h + 6]!;
    c[RIG.browRaise] = hr[h + 7]!;
    const o = this.override;
    let pose: HeadPose;
    if (this.pose) {
      const p = (local % VIDEO_RING) * 6;
      const pr = this.poseRing;
      const ang = (x: number): number => clamp(x, -MAX_ANGLE_DEG, MAX_ANGLE_DEG);
      const cm = (x: number): number => clamp(x, -MAX_SHIFT_CM, MAX_SHIFT_CM) * this.rig.pxPerCm;
      pose = { pitchDeg: ang(pr[p]!), yawDeg: ang(pr[p + 1]!), rollDeg: ang(pr[p + 2]!), tx: cm(pr[p + 3]!), ty: -cm(pr[p + 4]!), tz: cm(pr[p + 5]!) };
    } else {
      pose = { pitchDeg: hr[h]!, yawDeg: hr[h + 1]!, rollDeg: hr[h + 2]!, tx: hr[h + 3]!, ty: hr[h + 4]!, tz: 0 };
    }
    if (o) {
      pose.pitchDeg += o.pitch;
      pose.yawDeg += o.yaw;
      pose.rollDeg += o.roll;
    }
    const faceMouth = this.overlay.apply(c, pose);
    if (offsets && faceMouth > 0) for (let i = 0; i < offsets.length; i++) offsets[i]! *= 1 - faceMouth;
    const landmarks = this.rig.landmarksWithOffsets(c, offsets, pose, new Float32Array(NUM_LANDMARKS * 2));
    this.interrupt.remember(c, offsets, pose);
    const mouthOpen = this.mesh ? clamp(mouthOpening(landmarks) / this.rig.jawOpenRatio, 0, 1) : clamp(c[RIG.jawOpen]!, 0, 1);
    return { index: k, audioTimeMs: k * this.frameMs, landmarks, mouthOpen, blink: Math.max(c[RIG.blinkLeft]!, c[RIG.blinkRight]!), pose, ...this.overlay.frameFields() };
  }
}
