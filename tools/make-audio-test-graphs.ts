// Tiny random-weight graphs with the motion-side ONNX contracts (WAV2VEC_CONTRACT in engines/audio/Wav2VecExtractor.ts,
// AUDIO2MESH_CONTRACT and AUDIO2POSE_CONTRACT in engines/motion/OnnxFrameModel.ts), plus plain-TS reference implementations with the same weights, so tests can
// check the engines against an independent computation.
// `npx tsx tools/make-audio-test-graphs.ts [--out DIR] [--dim 32] [--seed 1]`
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../engines/onnx/graphBuilder.ts';
import { Prng } from '../engines/motion/prng.ts';

/** One 1-D convolution layer: weight [cout, cin, k], bias [cout]. */
export interface Conv1dWeights {
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  /** Left padding (frames); the tiny pose graph's temporal conv is causal. */
  padLeft: number;
  w: Float32Array;
  b: Float32Array;
}

/** Weights of the tiny wav2vec-like graph. */
export interface TinyWav2VecWeights {
  /** Feature encoder: wav2vec 2.0's kernel/stride plan (10/5, 3/2 x4, 2/2 x2): receptive field 400, stride 320. */
  convs: Conv1dWeights[];
  /** Weight of the window mean added to every frame (makes every frame depend on the whole window, like attention). */
  meanGain: number;
  /** Projection [channels, dim] and bias [dim]. */
  proj: Float32Array;
  projBias: Float32Array;
  channels: number;
  dim: number;
}

/** Weights of the tiny Audio2Mesh: two linear layers dim -> hidden -> 1404 (no activation, as AniPortrait's). */
export interface TinyAudio2MeshWeights {
  dim: number;
  hidden: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/** Weights of the tiny Audio2Pose: linear dim -> 6, then a causal temporal conv 6 -> 6. */
export interface TinyAudio2PoseWeights {
  dim: number;
  w: Float32Array;
  b: Float32Array;
  conv: Conv1dWeights;
}

/** A built graph and the weights it holds. */
export interface TinyGraph<W> {
  bytes: Uint8Array;
  weights: W;
}

const WAV2VEC_PLAN: readonly (readonly [kernel: number, stride: number])[] = [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2], [2, 2]];

function randn(r: Prng, n: number, std: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r.gaussian() * std;
  return v;
}

function conv1d(g: GraphBuilder, x: string, c: Conv1dWeights): string {
  const w = g.floats('conv_w', [c.cout, c.cin, c.kernel], c.w);
  const b = g.floats('conv_b', [c.cout], c.b);
  return g.op('Conv', [x, w, b], { kernel_shape: [c.kernel], strides: [c.stride], pads: [c.padLeft, 0] });
}

/** input_values [batch, samples] -> last_hidden_state [batch, frames, dim], frames = floor((samples - 400) / 320) + 1. */
export function buildTinyWav2Vec(opts: { dim?: number; channels?: number; seed?: number } = {}): TinyGraph<TinyWav2VecWeights> {
  const { dim = 32, channels = 8, seed = 1 } = opts;
  const r = new Prng(seed * 7919 + 11);
  const convs: Conv1dWeights[] = [];
  let cin = 1;
  for (const [kernel, stride] of WAV2VEC_PLAN) {
    convs.push({ cin, cout: channels, kernel, stride, padLeft: 0, w: randn(r, channels * cin * kernel, Math.sqrt(2 / (cin * kernel))), b: randn(r, channels, 0.1) });
    cin = channels;
  }
  const weights: TinyWav2VecWeights = { convs, meanGain: 0.5, proj: randn(r, channels * dim, 1 / Math.sqrt(channels)), projBias: randn(r, dim, 0.1), channels, dim };
  const g = new GraphBuilder('tiny_wav2vec', seed);
  const x = g.input('input_values', 'float32', ['batch', 'samples']);
  let h = g.unsqueeze(x, [1]); // [b, 1, N]
  for (const c of convs) h = g.op('Relu', [conv1d(g, h, c)]);
  const mean = g.op('ReduceMean', [h], { axes: [2], keepdims: 1 }); // opset 17: axes as an attribute
  h = g.op('Add', [h, g.op('Mul', [mean, g.floats('mean_gain', [], [weights.meanGain])])]);
  const t = g.transpose(h, [0, 2, 1]); // [b, T, C]
  const y = g.op('Add', [g.op('MatMul', [t, g.floats('proj', [channels, dim], weights.proj)]), g.floats('proj_b', [dim], weights.projBias)]);
  g.output('last_hidden_state', 'float32', ['batch', 'frames', dim], y);
  return { bytes: g.toBytes(), weights };
}

/** features [batch, frames, dim] -> offsets [batch, frames, 1404] (canonical cm, small). */
export function buildTinyAudio2Mesh(opts: { dim?: number; hidden?: number; seed?: number } = {}): TinyGraph<TinyAudio2MeshWeights> {
  const { dim = 32, hidden = 16, seed = 2 } = opts;
  const r = new Prng(seed * 7919 + 13);
  const weights: TinyAudio2MeshWeights = {
    dim,
    hidden,
    w1: randn(r, dim * hidden, 1 / Math.sqrt(dim)),
    b1: randn(r, hidden, 0.1),
    w2: randn(r, hidden * 1404, 0.05 / Math.sqrt(hidden)),
    b2: randn(r, 1404, 0.01),
  };
  const g = new GraphBuilder('tiny_audio2mesh', seed);
  const x = g.input('features', 'float32', ['batch', 'frames', dim]);
  const h = g.op('Add', [g.op('MatMul', [x, g.floats('w1', [dim, hidden], weights.w1)]), g.floats('b1', [hidden], weights.b1)]);
  const y = g.op('Add', [g.op('MatMul', [h, g.floats('w2', [hidden, 1404], weights.w2)]), g.floats('b2', [1404], weights.b2)]);
  g.output('offsets', 'float32', ['batch', 'frames', 1404], y);
  return { bytes: g.toBytes(), weights };
}

/** features [batch, frames, dim] -> pose [batch, frames, 6]: linear, then a causal Conv1d over frames (kernel `kernel`). */
export function buildTinyAudio2Pose(opts: { dim?: number; kernel?: number; seed?: number } = {}): TinyGraph<TinyAudio2PoseWeights> {
  const { dim = 32, kernel = 5, seed = 3 } = opts;
  const r = new Prng(seed * 7919 + 17);
  const weights: TinyAudio2PoseWeights = {
    dim,
    w: randn(r, dim * 6, 1 / Math.sqrt(dim)),
    b: randn(r, 6, 0.1),
    conv: { cin: 6, cout: 6, kernel, stride: 1, padLeft: kernel - 1, w: randn(r, 36 * kernel, 1 / Math.sqrt(6 * kernel)), b: randn(r, 6, 0.1) },
  };
  const g = new GraphBuilder('tiny_audio2pose', seed);
  const x = g.input('features', 'float32', ['batch', 'frames', dim]);
  const p = g.op('Add', [g.op('MatMul', [x, g.floats('w', [dim, 6], weights.w)]), g.floats('b', [6], weights.b)]);
  const c = conv1d(g, g.transpose(p, [0, 2, 1]), weights.conv);
  g.output('pose', 'float32', ['batch', 'frames', 6], g.transpose(c, [0, 2, 1]));
  return { bytes: g.toBytes(), weights };
}

/** x [cin, n] -> [cout, m] (no padding on the right). */
function refConv1d(c: Conv1dWeights, x: Float32Array, n: number): { y: Float32Array; m: number } {
  const m = Math.floor((n + c.padLeft - c.kernel) / c.stride) + 1;
  const y = new Float32Array(c.cout * m);
  for (let o = 0; o < c.cout; o++)
    for (let t = 0; t < m; t++) {
      let s = c.b[o]!;
      for (let i = 0; i < c.cin; i++)
        for (let k = 0; k < c.kernel; k++) {
          const at = t * c.stride + k - c.padLeft;
          if (at >= 0 && at < n) s += c.w[(o * c.cin + i) * c.kernel + k]! * x[i * n + at]!;
        }
      y[o * m + t] = s;
    }
  return { y, m };
}

/** Plain-TS tiny wav2vec on one window: returns [frames * dim] (frame-major) and the frame count. */
export function tinyWav2VecReference(w: TinyWav2VecWeights, input: Float32Array): { frames: number; values: Float32Array } {
  let x: Float32Array = Float32Array.from(input);
  let n = input.length;
  for (const c of w.convs) {
    const { y, m } = refConv1d(c, x, n);
    for (let i = 0; i < y.length; i++) if (y[i]! < 0) y[i] = 0;
    x = y;
    n = m;
  }
  const C = w.channels, D = w.dim;
  const out = new Float32Array(n * D);
  for (let i = 0; i < C; i++) {
    let mean = 0;
    for (let t = 0; t < n; t++) mean += x[i * n + t]!;
    mean /= n;
    for (let t = 0; t < n; t++) x[i * n + t] = x[i * n + t]! + w.meanGain * mean;
  }
  for (let t = 0; t < n; t++)
    for (let d = 0; d < D; d++) {
      let s = w.projBias[d]!;
      for (let i = 0; i < C; i++) s += x[i * n + t]! * w.proj[i * D + d]!;
      out[t * D + d] = s;
    }
  return { frames: n, values: out };
}

/** Plain-TS tiny Audio2Mesh: features [frames * dim] -> offsets [frames * 1404]. */
export function tinyAudio2MeshReference(w: TinyAudio2MeshWeights, features: Float32Array, frames: number): Float32Array {
  const out = new Float32Array(frames * 1404);
  const h = new Float32Array(w.hidden);
  for (let t = 0; t < frames; t++) {
    for (let j = 0; j < w.hidden; j++) {
      let s = w.b1[j]!;
      for (let d = 0; d < w.dim; d++) s += features[t * w.dim + d]! * w.w1[d * w.hidden + j]!;
      h[j] = s;
    }
    for (let o = 0; o < 1404; o++) {
      let s = w.b2[o]!;
      for (let j = 0; j < w.hidden; j++) s += h[j]! * w.w2[j * 1404 + o]!;
      out[t * 1404 + o] = s;
    }
  }
  return out;
}

/** Plain-TS tiny Audio2Pose over a whole sequence: features [frames * dim] -> pose [frames * 6]. */
export function tinyAudio2PoseReference(w: TinyAudio2PoseWeights, features: Float32Array, frames: number): Float32Array {
  const p = new Float32Array(6 * frames); // channel-major for the conv
  for (let t = 0; t < frames; t++)
    for (let o = 0; o < 6; o++) {
      let s = w.b[o]!;
      for (let d = 0; d < w.dim; d++) s += features[t * w.dim + d]! * w.w[d * 6 + o]!;
      p[o * frames + t] = s;
    }
  const { y } = refConv1d(w.conv, p, frames);
  const out = new Float32Array(frames * 6);
  for (let t = 0; t < frames; t++) for (let o = 0; o < 6; o++) out[t * 6 + o] = y[o * frames + t]!;
  return out;
}

/** Write the three tiny graphs as `<dir>/{wav2vec,audio2mesh,audio2pose}.onnx`; returns their paths. */
export function writeTinyAudioGraphs(dir: string, opts: { dim?: number; seed?: number } = {}): { wav2vec: string; audio2mesh: string; audio2pose: string } {
  const { dim = 32, seed = 1 } = opts;
  mkdirSync(dir, { recursive: true });
  const paths = { wav2vec: join(dir, 'wav2vec.onnx'), audio2mesh: join(dir, 'audio2mesh.onnx'), audio2pose: join(dir, 'audio2pose.onnx') };
  writeFileSync(paths.wav2vec, buildTinyWav2Vec({ dim, seed }).bytes);
  writeFileSync(paths.audio2mesh, buildTinyAudio2Mesh({ dim, seed: seed + 1 }).bytes);
  writeFileSync(paths.audio2pose, buildTinyAudio2Pose({ dim, seed: seed + 2 }).bytes);
  return paths;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'test-output/audio-tiny' }, dim: { type: 'string', default: '32' }, seed: { type: 'string', default: '1' } } });
  const paths = writeTinyAudioGraphs(values.out!, { dim: Number(values.dim), seed: Number(values.seed) });
  for (const [role, path] of Object.entries(paths)) console.log(`${role}: ${path}`);
}
