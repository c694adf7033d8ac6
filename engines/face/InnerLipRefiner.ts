/**
 * Corrects where the detector puts a portrait's inner lips. The ingest detector misreads the lip gap of some faces
 * (closed lips read as parted by up to 0.14 of the mouth width, parted ones as nearly closed), and the rig seals,
 * opens and renders from that reading. A small network trained on real talking video (tools/train/train_inner_lips.py,
 * MediaPipe FaceLandmarker as the truth) reads the mouth patch and the detector's reading and says where the upper
 * (13) and lower (14) inner lips are; the lips are moved to match, most in the middle and not at the corners.
 */
import { fileURLToPath } from 'node:url';
import type { GraphContract } from '../onnx/GraphContract.ts';
import { loadOnnxModel, type OnnxModel } from '../onnx/OnnxModel.ts';
import { asFloat32, float32Tensor } from '../onnx/TensorData.ts';
import { faceTopology } from '../render/faceTopology.ts';
import type { Landmarks2D, RgbaImage } from '../types.ts';
import { inLandmarkPolygon, LIPS_OUTER } from '../util/landmarkPolygon.ts';
import type { LipRefiner } from './ingestReference.ts';
import { frameY, innerLipPatch, mouthFrame, PATCH_H, PATCH_W, type MouthFrame } from './innerLipPatch.ts';

export const DEFAULT_INNER_LIPS_PATH = fileURLToPath(new URL('../../models/lips/inner_lips.onnx', import.meta.url));

/** `patch` [batch, 3, 24, 32] + `detected` [batch, 2] -> `lips` [batch, 2] (y of 13 and 14, mouth widths). */
export const INNER_LIPS_CONTRACT: GraphContract = Object.freeze({
  name: 'inner-lips',
  inputs: [
    { name: 'patch', dtype: ['float32'], dims: [{ size: 'batch' }, 3, PATCH_H, PATCH_W], doc: 'innerLipPatch: the mouth region in the frame of the mouth corners' },
    { name: 'detected', dtype: ['float32'], dims: [{ size: 'batch' }, 2], doc: "the detector's y of landmarks 13 and 14 in that frame, mouth widths" },
  ],
  outputs: [{ name: 'lips', dtype: ['float32'], dims: [{ size: 'batch' }, 2], doc: 'refined y of 13 and 14' }],
}) as GraphContract;

/** Largest move of either lip, mouth widths: a correction, not a new face. */
const MAX_SHIFT = 0.15;

/** Loaded inner-lip refiner. */
export class InnerLipRefiner implements LipRefiner {
  private constructor(private readonly model: OnnxModel) {}

  static async create(path = DEFAULT_INNER_LIPS_PATH): Promise<InnerLipRefiner> {
    return new InnerLipRefiner(await loadOnnxModel(path, { device: 'cpu', fallback: false, intraOpThreads: 1, contract: INNER_LIPS_CONTRACT }));
  }

  /** Where the network puts the inner lips (y of 13 and 14 in the mouth frame, mouth widths) and that frame. */
  async read(image: RgbaImage, landmarks: Landmarks2D): Promise<{ frame: MouthFrame; detected: [number, number]; refined: [number, number] }> {
    const frame = mouthFrame(landmarks);
    const detected: [number, number] = [frameY(frame, landmarks, 13), frameY(frame, landmarks, 14)];
    const out = asFloat32((await this.model.run({
      patch: float32Tensor(innerLipPatch(image, frame), [1, 3, PATCH_H, PATCH_W]),
      detected: float32Tensor(Float32Array.from(detected), [1, 2]),
    }))['lips']!);
    return { frame, detected, refined: [out[0]!, out[1]!] };
  }

  /** The landmarks with the inner lips (and the lip between them and the outer contour, in proportion) moved. */
  async refine(image: RgbaImage, landmarks: Landmarks2D): Promise<Landmarks2D> {
    const { frame, detected, refined } = await this.read(image, landmarks);
    return moveInnerLips(landmarks, frame, detected, refined);
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/**
 * Move the upper inner lip by `refined[0] - detected[0]` and the lower by `refined[1] - detected[1]` (mouth widths,
 * along the frame's y, each clamped to MAX_SHIFT and never crossing), fully in the middle of the mouth and fading to 0
 * at the inner corners (78, 308); the landmarks inside the outer lip contour move in proportion to how close they lie to the inner lip.
 */
export function moveInnerLips(landmarks: Landmarks2D, f: MouthFrame, detected: [number, number], refined: [number, number]): Landmarks2D {
  let up = clampShift(refined[0] - detected[0]);
  let low = clampShift(refined[1] - detected[1]);
  // The lower lip never ends above the upper one.
  const gap = detected[1] + low - (detected[0] + up);
  if (gap < 0) { up += gap / 2; low -= gap / 2; }
  const out = Float32Array.from(landmarks);
  const n = landmarks.length / 2;
  const x = (i: number): number => ((landmarks[2 * i]! - f.cx) * f.ux + (landmarks[2 * i + 1]! - f.cy) * f.uy) / f.width;
  const y = (i: number): number => frameY(f, landmarks, i);
  const corner = Math.max(0.2, Math.abs(x(78)), Math.abs(x(308)));
  const across = (i: number): number => Math.max(0, 1 - (x(i) / corner) ** 2);
  const yOuterUp = y(0), yOuterLow = y(17), yUp = y(13), yLow = y(14), mid = (yUp + yLow) / 2;
  const move = (i: number, d: number): void => {
    out[2 * i] = out[2 * i]! + d * f.width * f.vx;
    out[2 * i + 1] = out[2 * i + 1]! + d * f.width * f.vy;
  };
  // The inner lip chains without their corners (78, 308), which stay.
  const { innerLipUpper, innerLipLower } = faceTopology();
  const upper = innerLipUpper.slice(1, -1), lower = innerLipLower.slice(1, -1);
  const inner = new Set([...upper, ...lower]);
  for (const i of upper) move(i, up * across(i));
  for (const i of lower) move(i, low * across(i));
  for (let i = 0; i < n; i++) {
    if (inner.has(i) || LIPS_OUTER.includes(i) || !inLandmarkPolygon(landmarks[2 * i]!, landmarks[2 * i + 1]!, landmarks, LIPS_OUTER)) continue;
    const yi = y(i);
    if (yi < mid) move(i, up * across(i) * clamp01((yi - yOuterUp) / Math.max(1e-6, yUp - yOuterUp)));
    else move(i, low * across(i) * clamp01((yOuterLow - yi) / Math.max(1e-6, yOuterLow - yLow)));
  }
  return out;
}

function clampShift(v: number): number {
  return Number.isFinite(v) ? Math.max(-MAX_SHIFT, Math.min(MAX_SHIFT, v)) : 0;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

let shared: Promise<InnerLipRefiner> | undefined;

/** The process-wide refiner with the shipped weights (loaded on first use; a failed load is retried next time). */
export function sharedInnerLipRefiner(): Promise<InnerLipRefiner> {
  if (!shared) {
    shared = InnerLipRefiner.create();
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/**
 * A LipRefiner that loads the shipped weights on first use; where they cannot be loaded it reports why once (through
 * `onUnavailable`) and leaves the detector's landmarks as they are.
 */
export function lazyInnerLipRefiner(onUnavailable: (err: Error) => void = () => undefined): LipRefiner {
  let reported = false;
  return {
    async refine(image, landmarks) {
      let refiner: InnerLipRefiner;
      try {
        refiner = await sharedInnerLipRefiner();
      } catch (err) {
        if (!reported) onUnavailable(err as Error);
        reported = true;
        return landmarks;
      }
      return refiner.refine(image, landmarks);
    },
  };
}
