// Tiny random-weight graphs with the exact neural renderer contract (engines/render/neural/contract.ts),
// so the whole neural path runs on the CPU provider in tests and benches.
// `npx tsx tools/make-test-graphs.ts [--out DIR] [--size 512] [--dtype float32|float16] [--seed 1]`
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../engines/onnx/graphBuilder.ts';
import { LATENT_DOWNSCALE, NEURAL_GRAPHS, type NeuralGraph } from '../engines/render/neural/contract.ts';

/** Sizes of the tiny set. */
export interface TinyGraphOptions {
  /** Output frame size (square), px; a multiple of 32. Default 512. */
  size?: number;
  /** Latent channels. Default 4 (as SD 1.5). */
  latentChannels?: number;
  /** Hidden channels of the UNet and reference features. Default 8. */
  hidden?: number;
  /** Float type of every float input/output. Default float32. */
  dtype?: 'float32' | 'float16';
  /** Weight seed. Default 1. */
  seed?: number;
}

interface Ctx {
  g: GraphBuilder;
  dtype: 'float32' | 'float16';
}

/** Declare a float input; returns a float32 value (Cast when the graph is fp16). */
function floatIn(c: Ctx, name: string, dims: (number | string)[]): string {
  const v = c.g.input(name, c.dtype, dims);
  return c.dtype === 'float16' ? c.g.cast(v, 'float32') : v;
}

function floatOut(c: Ctx, name: string, dims: (number | string)[], v: string): void {
  c.g.output(name, c.dtype, dims, c.dtype === 'float16' ? c.g.cast(v, 'float16') : v);
}

/** Portrait [batch,3,S,S] -> ref_feat_0 [batch, (S/32)^2, hidden]: pool to latent size, conv, SiLU, pool 4, tokens. */
function referenceNet(o: Required<TinyGraphOptions>): Uint8Array {
  const c: Ctx = { g: new GraphBuilder('reference_net', o.seed + 1), dtype: o.dtype };
  const { g } = c, S = o.size, t = S / 32;
  const x = floatIn(c, 'reference_image', ['batch', 3, S, S]);
  const pooled = g.op('AveragePool', [x], { kernel_shape: [LATENT_DOWNSCALE, LATENT_DOWNSCALE], strides: [LATENT_DOWNSCALE, LATENT_DOWNSCALE] });
  const f = g.silu(g.conv(pooled, 3, o.hidden, [3, 3]));
  const p = g.op('AveragePool', [f], { kernel_shape: [4, 4], strides: [4, 4] });
  const tokens = g.transpose(g.reshape(p, [0, o.hidden, -1]), [0, 2, 1]);
  floatOut(c, 'ref_feat_0', ['batch', t * t, o.hidden], tokens);
  return g.toBytes();
}

/**
 * pose_image [batch,3,frames,S,S] -> patchify Conv3d (1x8x8, stride 8), SiLU, Conv3d 1x3x3; cross-attention
 * from every latent pixel to the reference landmark image's pooled tokens; -> pose_feat_0 [batch,C,frames,S/8,S/8].
 */
function poseGuider(o: Required<TinyGraphOptions>): Uint8Array {
  const c: Ctx = { g: new GraphBuilder('pose_guider', o.seed + 2), dtype: o.dtype };
  const { g } = c, S = o.size, L = S / LATENT_DOWNSCALE, C = o.latentChannels, D = LATENT_DOWNSCALE;
  const pose = floatIn(c, 'pose_image', ['batch', 3, 'frames', S, S]);
  const refPose = floatIn(c, 'ref_pose_image', ['batch', 3, S, S]);
  let p = g.silu(g.conv(pose, 3, C, [1, D, D], { strides: [1, D, D], pads: [0, 0, 0, 0, 0, 0], gain: 4 }));
  p = g.conv(p, C, C, [1, 3, 3]); // [b, C, f, L, L]
  const r = g.silu(g.conv(refPose, 3, C, [D, D], { strides: [D, D], pads: [0, 0, 0, 0], gain: 4 }));
  const rTok = g.unsqueeze(g.transpose(g.reshape(g.op('AveragePool', [r], { kernel_shape: [4, 4], strides: [4, 4] }), [0, C, -1]), [0, 2, 1]), [1]); // [b,1,T,C]
  const q = g.reshape(g.transpose(p, [0, 2, 3, 4, 1]), [0, 0, -1, C]); // [b, f, L*L, C]
  const a = g.attention(q, C, rTok, C, C);
  const back = g.transpose(g.reshape(a, [0, 0, L, L, C]), [0, 4, 1, 2, 3]);
  floatOut(c, 'pose_feat_0', ['batch', C, 'frames', L, L], g.op('Add', [p, back]));
  return g.toBytes();
}

/**
 * sample ++ pose_feat_0 -> Conv3d 1x3x3 + timestep embedding (sin), SiLU; cross-attention of every
 * latent pixel to ref_feat_0; temporal self-attention over the frames axis (the motion module);
 * Conv3d 1x3x3, added to the sample -> model_output.
 */
function denoiseUnet(o: Required<TinyGraphOptions>): Uint8Array {
  const c: Ctx = { g: new GraphBuilder('denoise_unet', o.seed + 3), dtype: o.dtype };
  const { g } = c, L = o.size / LATENT_DOWNSCALE, C = o.latentChannels, Hd = o.hidden, t = o.size / 32;
  const sample = floatIn(c, 'sample', ['batch', C, 'frames', L, L]);
  const timestep = g.input('timestep', 'float32', ['batch']);
  const ref = floatIn(c, 'ref_feat_0', ['batch', t * t, Hd]);
  const pose = floatIn(c, 'pose_feat_0', ['batch', C, 'frames', L, L]);
  let x = g.conv(g.op('Concat', [sample, pose], { axis: 1 }), 2 * C, Hd, [1, 3, 3]);
  const tFreq = g.randn('t_freq', [1, Hd], 0.01);
  const temb = g.reshape(g.op('Sin', [g.op('MatMul', [g.reshape(timestep, [-1, 1]), tFreq])]), [-1, Hd, 1, 1, 1]);
  x = g.silu(g.op('Add', [x, temb])); // [b, Hd, f, L, L]
  const tok = g.reshape(g.transpose(x, [0, 2, 3, 4, 1]), [0, 0, -1, Hd]); // [b, f, L*L, Hd]
  const cross = g.op('Add', [tok, g.attention(tok, Hd, g.unsqueeze(ref, [1]), Hd, Hd)]);
  const perFrame = g.transpose(cross, [0, 2, 1, 3]); // [b, L*L, f, Hd]
  const temporal = g.transpose(g.op('Add', [perFrame, g.attention(perFrame, Hd, perFrame, Hd, Hd)]), [0, 2, 1, 3]);
  const y = g.transpose(g.reshape(temporal, [0, 0, L, L, Hd]), [0, 4, 1, 2, 3]);
  // eps = sample + small correction: at high noise the true epsilon is close to the sample, which keeps
  // the tiny model's x0 estimates in a sane range (a random eps would blow x0 up by 1/sqrt(alpha_bar)).
  const eps = g.op('Add', [sample, g.conv(y, Hd, C, [1, 3, 3], { gain: 0.05 })]);
  floatOut(c, 'model_output', ['batch', C, 'frames', L, L], eps);
  return g.toBytes();
}

/** latent [n,C,S/8,S/8] -> Conv 3x3, SiLU, Conv 3x3 to RGB, bilinear x8, tanh -> image [n,3,S,S]. */
function vaeDecoder(o: Required<TinyGraphOptions>): Uint8Array {
  const c: Ctx = { g: new GraphBuilder('vae_decoder', o.seed + 4), dtype: o.dtype };
  const { g } = c, L = o.size / LATENT_DOWNSCALE, C = o.latentChannels, S = o.size;
  const z = floatIn(c, 'latent', ['n', C, L, L]);
  // Gain 0.25 undoes most of the 1/LATENT_SCALE amplification so tanh stays out of saturation.
  const rgb = g.conv(g.silu(g.conv(z, C, o.hidden, [3, 3], { gain: 0.25 })), o.hidden, 3, [3, 3], { gain: 0.5 });
  const up = g.op('Resize', [rgb, '', g.floats('scales', [4], [1, 1, LATENT_DOWNSCALE, LATENT_DOWNSCALE])], { mode: 'linear' });
  floatOut(c, 'image', ['n', 3, S, S], g.op('Tanh', [up]));
  return g.toBytes();
}

/** Build the four tiny graphs in memory (ONNX bytes by role). */
export function buildTinyNeuralGraphs(options: TinyGraphOptions = {}): Record<NeuralGraph, Uint8Array> {
  const o: Required<TinyGraphOptions> = { size: 512, latentChannels: 4, hidden: 8, dtype: 'float32', seed: 1, ...options };
  if (o.size % 32 !== 0) throw new TypeError(`size must be a multiple of 32, got ${o.size}`);
  return { reference_net: referenceNet(o), pose_guider: poseGuider(o), denoise_unet: denoiseUnet(o), vae_decoder: vaeDecoder(o) };
}

/** Write the four tiny graphs as `<dir>/<role>.onnx`; returns the paths by role. */
export function writeTinyNeuralGraphs(dir: string, options: TinyGraphOptions = {}): Record<NeuralGraph, string> {
  mkdirSync(dir, { recursive: true });
  const graphs = buildTinyNeuralGraphs(options);
  const paths = {} as Record<NeuralGraph, string>;
  for (const role of NEURAL_GRAPHS) {
    paths[role] = join(dir, `${role}.onnx`);
    writeFileSync(paths[role], graphs[role]);
  }
  return paths;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'test-output/neural-tiny' }, size: { type: 'string', default: '512' }, dtype: { type: 'string', default: 'float32' }, seed: { type: 'string', default: '1' } } });
  if (values.dtype !== 'float32' && values.dtype !== 'float16') throw new TypeError(`--dtype must be float32 or float16, got ${values.dtype}`);
  const paths = writeTinyNeuralGraphs(values.out!, { size: Number(values.size), dtype: values.dtype, seed: Number(values.seed) });
  for (const [role, path] of Object.entries(paths)) console.log(`${role}: ${path}`);
}
