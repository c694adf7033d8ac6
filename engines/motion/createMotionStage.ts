/**
 * Config-facing construction of a session's motion stage: the embedded (weight-free) path by default, or
 * wav2vec features and/or ONNX Audio2Mesh / Audio2Pose when the config names them.
 */
import type { AsyncAudioFeatureExtractor } from '../audio/AsyncAudioFeatureExtractor.ts';
import { LogMelExtractor } from '../audio/LogMelExtractor.ts';
import { Wav2VecExtractor } from '../audio/Wav2VecExtractor.ts';
import { assertDevice, type Device } from '../onnx/executionProviders.ts';
import type { Landmarks2D } from '../types.ts';
import { EmbeddedMotionStage, type MotionStage } from './MotionStage.ts';
import { fileURLToPath } from 'node:url';
import { OnnxAudio2Mesh } from './OnnxAudio2Mesh.ts';
import { OnnxAudio2Mouth } from './OnnxAudio2Mouth.ts';
import { DEFAULT_POSE_CONTEXT_FRAMES, OnnxAudio2Pose } from './OnnxAudio2Pose.ts';
import { OnnxMotionStage } from './OnnxMotionStage.ts';

/** Which engine runs each part of the motion stage, and where the ONNX graphs are. */
export interface MotionEngineConfig {
  /** 'logmel' (default, embedded) or 'wav2vec' (ONNX; needs wav2vecPath and an ONNX mesh or pose). */
  features: 'logmel' | 'wav2vec';
  /**
   * 'learned' (default: the mouth model trained on real talking video, models/audio2mouth/, or audio2meshPath),
   * 'embedded' (rule-based visemes) or 'onnx' (an AniPortrait-style mesh-offset graph; needs audio2meshPath).
   */
  audio2mesh: 'learned' | 'embedded' | 'onnx';
  /** 'embedded' (default, procedural) or 'onnx' (needs audio2posePath). */
  audio2pose: 'embedded' | 'onnx';
  wav2vecPath?: string;
  audio2meshPath?: string;
  audio2posePath?: string;
  /** ONNX execution device for all three graphs (default cpu). */
  device?: Device;
  /** Try cheaper providers when the device's cannot start (default false). */
  fallback?: boolean;
  /** wav2vec window: left context, hop and right lookahead, ms (defaults 1000, 40, 40; lookahead 20 (hop + right) - 7.5 <= 80). */
  wav2vecLeftContextMs?: number;
  wav2vecHopMs?: number;
  wav2vecRightContextMs?: number;
  /** Causal context of the ONNX pose graph, video frames (default 16). */
  audio2poseContextFrames?: number;
}

/** Options of `createMotionStage`. */
export interface CreateMotionStageOptions {
  /** Video frame rate, Hz. */
  fps: number;
  /** Output frame size, px. */
  width: number;
  height: number;
  /** The reference portrait's 468 landmarks in output-frame px. */
  referenceLandmarks: Landmarks2D;
  /** Seed of head motion and blinks (default 1). */
  seed?: number;
  /** Engines; default all embedded. */
  engine?: Partial<MotionEngineConfig>;
  /** Clock of live face samples' freshness, ms (default performance.now; offline renders pass media time). */
  clock?: () => number;
}

/** What `validateMotionModels` found. */
export interface MotionModelReport {
  /** Feature size the ONNX parts take (80 for log-mel). */
  featureDim: number;
  /** Graphs loaded and checked, by role. */
  checked: { role: 'wav2vec' | 'audio2mesh' | 'audio2mouth' | 'audio2pose'; file: string; provider: string }[];
}

const DEFAULT_ENGINE: MotionEngineConfig = Object.freeze({ features: 'logmel', audio2mesh: 'learned', audio2pose: 'embedded' }) as MotionEngineConfig;

/** The shipped learned mouth model (trained by tools/train/, see models/audio2mouth/README.md). */
export const DEFAULT_AUDIO2MOUTH_PATH = fileURLToPath(new URL('../../models/audio2mouth/audio2mouth.onnx', import.meta.url));

/** Fill defaults and throw a TypeError naming the first bad field. */
export function normalizeMotionEngine(engine: Partial<MotionEngineConfig> = {}): MotionEngineConfig {
  const e: MotionEngineConfig = { ...DEFAULT_ENGINE, ...engine };
  const oneOf = (field: keyof MotionEngineConfig, allowed: readonly string[]): void => {
    if (!allowed.includes(e[field] as string)) throw new TypeError(`motion engine ${field} must be one of ${allowed.join(', ')} [${field}:${String(e[field])}]`);
  };
  oneOf('features', ['logmel', 'wav2vec']);
  oneOf('audio2mesh', ['learned', 'embedded', 'onnx']);
  oneOf('audio2pose', ['embedded', 'onnx']);
  if (e.device !== undefined) assertDevice(e.device);
  const need = (on: boolean, field: 'wav2vecPath' | 'audio2meshPath' | 'audio2posePath'): void => {
    if (on && !(typeof e[field] === 'string' && e[field].length > 0)) throw new TypeError(`motion engine ${field} is required when ${field.replace('Path', '')} is onnx/wav2vec [${field}:${String(e[field])}]`);
  };
  need(e.features === 'wav2vec', 'wav2vecPath');
  need(e.audio2mesh === 'onnx', 'audio2meshPath');
  need(e.audio2pose === 'onnx', 'audio2posePath');
  if (e.features === 'wav2vec' && e.audio2mesh !== 'onnx' && e.audio2pose === 'embedded') {
    throw new TypeError("motion engine features 'wav2vec' needs audio2mesh or audio2pose 'onnx' (the embedded and learned models read log-mel) [features:wav2vec]");
  }
  return e;
}

interface LoadedParts {
  features: AsyncAudioFeatureExtractor | 'logmel';
  featureDim: number;
  mesh?: OnnxAudio2Mesh;
  mouth?: OnnxAudio2Mouth;
  pose?: OnnxAudio2Pose;
}

/** Load every ONNX part of `e` and check that their feature sizes agree; on failure, what was loaded is disposed. */
async function loadParts(e: MotionEngineConfig): Promise<LoadedParts> {
  const common = { device: e.device ?? 'cpu', fallback: e.fallback ?? false };
  const loaded: { dispose(): Promise<void> }[] = [];
  try {
    let features: AsyncAudioFeatureExtractor | 'logmel' = 'logmel';
    let featureDim = new LogMelExtractor().dim;
    let featureFile = 'log-mel features';
    if (e.features === 'wav2vec') {
      const w = await Wav2VecExtractor.create(e.wav2vecPath!, {
        ...common,
        ...(e.wav2vecLeftContextMs !== undefined ? { leftContextMs: e.wav2vecLeftContextMs } : {}),
        ...(e.wav2vecHopMs !== undefined ? { hopMs: e.wav2vecHopMs } : {}),
        ...(e.wav2vecRightContextMs !== undefined ? { rightContextMs: e.wav2vecRightContextMs } : {}),
      });
      loaded.push(w);
      features = w;
      featureDim = w.dim;
      featureFile = w.file;
    }
    const checkDim = (m: OnnxAudio2Mesh | OnnxAudio2Pose, name: string): void => {
      if (m.featureDim !== undefined && m.featureDim !== featureDim) {
        throw new Error(`ONNX graph does not match the ${name} contract [file:${m.file}]: input 'features' axis 2: expected ${featureDim} (the feature size of ${featureFile}), found ${m.featureDim}`);
      }
    };
    let mesh: OnnxAudio2Mesh | undefined;
    let mouth: OnnxAudio2Mouth | undefined;
    let pose: OnnxAudio2Pose | undefined;
    if (e.audio2mesh === 'learned') {
      mouth = await OnnxAudio2Mouth.create(e.audio2meshPath ?? DEFAULT_AUDIO2MOUTH_PATH, common);
      loaded.push(mouth);
    }
    if (e.audio2mesh === 'onnx') {
      mesh = await OnnxAudio2Mesh.create(e.audio2meshPath!, common);
      loaded.push(mesh);
      checkDim(mesh, 'audio2mesh');
    }
    if (e.audio2pose === 'onnx') {
      pose = await OnnxAudio2Pose.create(e.audio2posePath!, { ...common, contextFrames: e.audio2poseContextFrames ?? DEFAULT_POSE_CONTEXT_FRAMES });
      loaded.push(pose);
      checkDim(pose, 'audio2pose');
    }
    return { features, featureDim, ...(mesh ? { mesh } : {}), ...(mouth ? { mouth } : {}), ...(pose ? { pose } : {}) };
  } catch (err) {
    await Promise.allSettled(loaded.map((m) => m.dispose()));
    throw err;
  }
}

/**
 * Load and check every ONNX graph the engine config names (contracts, window frame count, matching feature
 * sizes), then release them. Call once at start: errors name the file, the expected and the found shapes.
 */
export async function validateMotionModels(engine: Partial<MotionEngineConfig>): Promise<MotionModelReport> {
  const e = normalizeMotionEngine(engine);
  const parts = await loadParts(e);
  const checked: MotionModelReport['checked'] = [];
  if (parts.features !== 'logmel') checked.push({ role: 'wav2vec', file: (parts.features as Wav2VecExtractor).file, provider: e.device ?? 'cpu' });
  if (parts.mesh) checked.push({ role: 'audio2mesh', file: parts.mesh.file, provider: e.device ?? 'cpu' });
  if (parts.mouth) checked.push({ role: 'audio2mouth', file: parts.mouth.file, provider: e.device ?? 'cpu' });
  if (parts.pose) checked.push({ role: 'audio2pose', file: parts.pose.file, provider: e.device ?? 'cpu' });
  await Promise.all([parts.features === 'logmel' ? undefined : parts.features.dispose(), parts.mesh?.dispose(), parts.mouth?.dispose(), parts.pose?.dispose()]);
  return { featureDim: parts.featureDim, checked };
}

/**
 * A session's motion stage: EmbeddedMotionStage (Audio2Landmarks) when every part is embedded, else an
 * OnnxMotionStage owning its own ORT sessions (one per session and graph; dispose() releases them).
 */
export async function createMotionStage(opts: CreateMotionStageOptions): Promise<MotionStage> {
  const { fps, width, height, referenceLandmarks, seed = 1 } = opts;
  const clock = opts.clock ? { clock: opts.clock } : {};
  const e = normalizeMotionEngine(opts.engine);
  if (e.features === 'logmel' && e.audio2mesh === 'embedded' && e.audio2pose === 'embedded') {
    return new EmbeddedMotionStage({ fps, width, height, referenceLandmarks, seed, ...clock });
  }
  const parts = await loadParts(e);
  try {
    return new OnnxMotionStage({ fps, width, height, referenceLandmarks, seed, ...clock, features: parts.features, ...(parts.mesh ? { mesh: parts.mesh } : {}), ...(parts.mouth ? { mouth: parts.mouth } : {}), ...(parts.pose ? { pose: parts.pose } : {}) });
  } catch (err) {
    await Promise.allSettled([parts.features === 'logmel' ? undefined : parts.features.dispose(), parts.mesh?.dispose(), parts.mouth?.dispose(), parts.pose?.dispose()]);
    throw err;
  }
}
