import { AUDIO2MESH_CONTRACT, OnnxFrameModel, type OnnxFrameModelOptions } from './OnnxFrameModel.ts';
import { NUM_LANDMARKS } from '../types.ts';

/**
 * Audio2Mesh from an ONNX graph (AniPortrait: two linear layers 768 -> 512 -> 1404 per frame):
 * features at the video fps -> per-frame vertex offsets [468 * 3] in canonical cm, added to the neutral mesh.
 * Per-frame graphs need no context (default 0); give `contextFrames` for graphs with a causal temporal field.
 */
export class OnnxAudio2Mesh extends OnnxFrameModel {
  /** Load and check against AUDIO2MESH_CONTRACT (errors name the file, the expected and the found shapes). */
  static async create(source: string | Uint8Array, opts: OnnxFrameModelOptions = {}): Promise<OnnxAudio2Mesh> {
    const model = await OnnxFrameModel.loadChecked(source, AUDIO2MESH_CONTRACT, opts);
    return new OnnxAudio2Mesh(model, 'offsets', NUM_LANDMARKS * 3, opts.contextFrames ?? 0);
  }
}
