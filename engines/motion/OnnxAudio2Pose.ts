import { AUDIO2POSE_CONTRACT, OnnxFrameModel, type OnnxFrameModelOptions } from './OnnxFrameModel.ts';

/** Default context of the pose graph, frames (0.64 s at 25 fps). */
export const DEFAULT_POSE_CONTEXT_FRAMES = 16;

/**
 * Windowed Audio2Pose from an ONNX graph: features at the video fps -> per-frame pose
 * [pitch, yaw, roll (degrees, Euler x y z), tx, ty, tz (cm, relative to the reference; y up, z toward the camera)].
 * Streams over a causal window of `contextFrames` earlier frames (default 16), so the graph must be causal
 * (AniPortrait's pose decoder attends to the whole clip: export a windowed/causal variant).
 */
export class OnnxAudio2Pose extends OnnxFrameModel {
  /** Load and check against AUDIO2POSE_CONTRACT (errors name the file, the expected and the found shapes). */
  static async create(source: string | Uint8Array, opts: OnnxFrameModelOptions = {}): Promise<OnnxAudio2Pose> {
    const contextFrames = opts.contextFrames ?? DEFAULT_POSE_CONTEXT_FRAMES;
    const model = await OnnxFrameModel.loadChecked(source, AUDIO2POSE_CONTRACT, { ...opts, contextFrames });
    return new OnnxAudio2Pose(model, 'pose', 6, contextFrames);
  }
}
