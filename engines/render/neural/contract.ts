import { ContractError, type GraphContract, type ValueMeta } from '../../onnx/GraphContract.ts';

/**
 * The neural Lmk2Video ONNX set: four graphs, their exact inputs and outputs, and how they connect.
 * Axes written `batch*`, `frames*`, `n*` are dynamic; `height`, `width` may be fixed or dynamic.
 * Float tensors are float32 or float16 (one type per graph); `timestep` is always float32.
 *
 * Temporal window (denoise_unet `sample`, pose_guider `pose_image`): frames axis F = C + K, where
 * the first C frames are motion context (the previous chunk's last C clean latents, re-noised to
 * each step's timestep) and the last K frames are new. Only the K new frames are decoded.
 */

/** SD 1.5 VAE latent scale: the UNet works on `scale * vae_latent`; decode divides by it. */
export const LATENT_SCALE = 0.18215;

/** Image pixels per latent pixel along each axis (SD 1.5 VAE). */
export const LATENT_DOWNSCALE = 8;

/** Graph roles, in run order. */
export const NEURAL_GRAPHS = Object.freeze(['reference_net', 'pose_guider', 'denoise_unet', 'vae_decoder'] as const);

/** One of the four graphs. */
export type NeuralGraph = (typeof NEURAL_GRAPHS)[number];

const B = { dynamic: 'batch' } as const;
const F = { dynamic: 'frames' } as const;
const H = { size: 'height' } as const;
const W = { size: 'width' } as const;
const h = { size: 'latent_height' } as const;
const w = { size: 'latent_width' } as const;
const C = { size: 'latent_channels' } as const;

/** reference_net: VAE-encode + ReferenceNet (+ image encoder) of the portrait, run once per portrait. */
export const REFERENCE_NET: GraphContract = Object.freeze<GraphContract>({
  name: 'reference_net',
  inputs: [{ name: 'reference_image', dtype: 'float', dims: [B, 3, H, W], doc: 'portrait RGB, NCHW, values in [-1, 1]' }],
  outputs: [],
  outputGroups: [
    {
      prefix: 'ref_',
      dtype: 'float',
      dims: [B, 'any', 'any'],
      min: 1,
      doc: 'one tensor per attention layer fed by ReferenceNet, [batch, tokens, channels] (spatial hidden states or image embeddings); passed to denoise_unet by name',
    },
  ],
});

/** pose_guider: landmark images of the window (+ the portrait's own landmark image) -> multi-scale pose features. */
export const POSE_GUIDER: GraphContract = Object.freeze<GraphContract>({
  name: 'pose_guider',
  inputs: [
    { name: 'pose_image', dtype: 'float', dims: [B, 3, F, H, W], doc: 'landmark images of the window, NCFHW, values in [0, 1]' },
    { name: 'ref_pose_image', dtype: 'float', dims: [B, 3, H, W], doc: "landmark image of the portrait's own landmarks, values in [0, 1]" },
  ],
  outputs: [],
  outputGroups: [
    {
      prefix: 'pose_',
      dtype: 'float',
      dims: [B, 'any', F, 'any', 'any'],
      min: 1,
      doc: 'one tensor per UNet scale, [batch, channels, frames, h_s, w_s]; passed to denoise_unet by name',
    },
  ],
});

/** denoise_unet: one consistency-distilled step of the 3D UNet (reference attention, pose features, motion module). */
export const DENOISE_UNET: GraphContract = Object.freeze<GraphContract>({
  name: 'denoise_unet',
  inputs: [
    { name: 'sample', dtype: 'float', dims: [B, C, F, h, w], doc: 'noisy latents of the window (scaled by LATENT_SCALE), NCFHW' },
    { name: 'timestep', dtype: ['float32'], dims: [B], doc: 'diffusion timestep in [0, 999], one per batch item' },
  ],
  inputGroups: [
    { prefix: 'ref_', dtype: 'float', dims: [B, 'any', 'any'], min: 1, doc: 'reference_net outputs, same names and shapes' },
    { prefix: 'pose_', dtype: 'float', dims: [B, 'any', F, 'any', 'any'], min: 1, doc: 'pose_guider outputs, same names and shapes' },
  ],
  outputs: [{ name: 'model_output', dtype: 'float', dims: [B, C, F, h, w], doc: 'predicted noise (epsilon), same shape as sample' }],
});

/** vae_decoder: latents of single frames -> RGB. */
export const VAE_DECODER: GraphContract = Object.freeze<GraphContract>({
  name: 'vae_decoder',
  inputs: [{ name: 'latent', dtype: 'float', dims: [{ dynamic: 'n' }, C, h, w], doc: 'clean latents divided by LATENT_SCALE, one per frame' }],
  outputs: [{ name: 'image', dtype: 'float', dims: [{ dynamic: 'n' }, 3, H, W], doc: 'RGB, NCHW, values in [-1, 1]' }],
});

/** The four contracts by role. */
export const NEURAL_CONTRACTS: Readonly<Record<NeuralGraph, GraphContract>> = Object.freeze({
  reference_net: REFERENCE_NET,
  pose_guider: POSE_GUIDER,
  denoise_unet: DENOISE_UNET,
  vae_decoder: VAE_DECODER,
});

/** What each loaded graph declares, for the cross-graph check. */
export interface NeuralSetMeta {
  file: Readonly<Record<NeuralGraph, string>>;
  inputs: Readonly<Record<NeuralGraph, readonly ValueMeta[]>>;
  outputs: Readonly<Record<NeuralGraph, readonly ValueMeta[]>>;
}

/** Sizes of a checked set. */
export interface NeuralSetShape {
  /** Output frame size, px. */
  width: number;
  height: number;
  /** Latent channels (4 for SD 1.5). */
  latentChannels: number;
}

function fixed(v: number | string | undefined): number | undefined {
  return typeof v === 'number' && v > 0 ? v : undefined;
}

/**
 * Check that the graphs fit together: every ref_* and pose_* output is a denoise_unet input with the
 * same dtype and shape and vice versa; latent size = image size / LATENT_DOWNSCALE; latent channels
 * agree. `width`/`height` are the configured output size (needed when graphs leave them dynamic).
 */
export function checkNeuralSet(meta: NeuralSetMeta, size: { width: number; height: number }): NeuralSetShape {
  const unetIn = new Map(meta.inputs.denoise_unet.map((m) => [m.name, m]));
  const problems: string[] = [];
  const producers: [NeuralGraph, string][] = [
    ['reference_net', 'ref_'],
    ['pose_guider', 'pose_'],
  ];
  for (const [graph, prefix] of producers) {
    const outs = meta.outputs[graph].filter((m) => m.name.startsWith(prefix));
    for (const o of outs) {
      const i = unetIn.get(o.name);
      if (!i) problems.push(`${graph} output '${o.name}' is not a denoise_unet input`);
      else if (i.type !== o.type || i.shape.join(',') !== o.shape.join(',')) {
        problems.push(`'${o.name}': ${graph} gives ${o.type} [${o.shape.join(', ')}], denoise_unet expects ${i.type} [${i.shape.join(', ')}]`);
      }
    }
    for (const i of meta.inputs.denoise_unet) {
      if (i.name.startsWith(prefix) && !outs.some((o) => o.name === i.name)) problems.push(`denoise_unet input '${i.name}' is not an output of ${graph}`);
    }
  }
  const sample = meta.inputs.denoise_unet.find((m) => m.name === 'sample');
  const latent = meta.inputs.vae_decoder.find((m) => m.name === 'latent');
  const image = meta.outputs.vae_decoder.find((m) => m.name === 'image');
  const refImage = meta.inputs.reference_net.find((m) => m.name === 'reference_image');
  const lc = fixed(sample?.shape[1]);
  if (lc === undefined) problems.push('denoise_unet sample must have a fixed latent channel count');
  if (lc !== undefined && fixed(latent?.shape[1]) !== lc) problems.push(`vae_decoder latent channels: expected ${lc}, found ${latent?.shape[1]}`);
  if (size.width % LATENT_DOWNSCALE || size.height % LATENT_DOWNSCALE) problems.push(`output size ${size.width}x${size.height} must be a multiple of ${LATENT_DOWNSCALE}`);
  const checkSize = (graph: NeuralGraph, what: string, dims: readonly (number | string)[] | undefined, hAxis: number, want: [number, number]): void => {
    const got = [fixed(dims?.[hAxis]), fixed(dims?.[hAxis + 1])];
    if ((got[0] !== undefined && got[0] !== want[0]) || (got[1] !== undefined && got[1] !== want[1])) {
      problems.push(`${graph} ${what}: expected ${want[0]}x${want[1]} (height x width) for a ${size.width}x${size.height} output, found ${dims?.[hAxis]}x${dims?.[hAxis + 1]}`);
    }
  };
  const lat: [number, number] = [size.height / LATENT_DOWNSCALE, size.width / LATENT_DOWNSCALE];
  checkSize('reference_net', "input 'reference_image'", refImage?.shape, 2, [size.height, size.width]);
  checkSize('denoise_unet', "input 'sample'", sample?.shape, 3, lat);
  checkSize('vae_decoder', "input 'latent'", latent?.shape, 2, lat);
  checkSize('vae_decoder', "output 'image'", image?.shape, 2, [size.height, size.width]);
  if (problems.length) {
    throw new ContractError('neural set', Object.values(meta.file).join(', '), problems);
  }
  return { width: size.width, height: size.height, latentChannels: lc! };
}
